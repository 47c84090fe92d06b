"""The optional `Idempotency-Key` request header, for mutations without a natural key."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps

from flask import g, jsonify, request
from flask_smorest import Blueprint
from sqlalchemy.orm import Session

import ledger
from app.errors import Unprocessable, conflict
from app.extensions import db

HEADER = "Idempotency-Key"
_KEY = re.compile(rf"^[\x21-\x7e]{{1,{ledger.IDEMPOTENCY_KEY_LENGTH_MAX}}}$")


def header_key() -> str | None:
    """The request's Idempotency-Key (visible ASCII, 1 to 250 characters), or None."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _KEY.match(key):
        raise Unprocessable(
            f"{HEADER} must be 1 to {ledger.IDEMPOTENCY_KEY_LENGTH_MAX} visible ASCII characters.",
            errors={HEADER: ["Not a valid key."]},
        )
    return key


def run_once(
    session: Session, scope: str, key: str | None, request_data: dict, work: Callable[[], dict]
) -> tuple[dict, bool]:
    """Do ``work`` (which must not commit) and commit; with a key, a retry of the
    same request gets the first answer back and ``False``, another request 409."""
    if key is not None:
        stored = ledger.claim_request(session, scope, key, ledger.request_fingerprint(request_data))
        if stored is not None:
            session.rollback()
            return stored, False
    answer = work()
    if key is not None:
        ledger.complete_request(session, scope, key, answer)
    session.commit()
    return answer, True


HEADER_DOC = {
    "parameters": [
        {
            "in": "header",
            "name": HEADER,
            "required": False,
            "schema": {"type": "string", "pattern": "^[!-~]{1,250}$"},
            "description": "Makes a retry of this call return the first answer (1 to 250 visible ASCII characters).",
        }
    ]
}


def _caller() -> str:
    for kind in ("merchant", "affiliate"):
        found = getattr(g, kind, None)
        if found is not None:
            return f"{kind[0]}{found.id}"
    return "op"


def idempotent_create(blp: Blueprint, schema):
    """Decorate a create call (below its auth, above its smorest decorators): with an
    ``Idempotency-Key`` header, a retry of the same request gets the first answer
    with 200, and the key reused for another request gets 409.

    The key is claimed in the service's own transaction, so a refused request
    leaves no trace; the answer is stored right after that commit.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            key = header_key()
            if key is None:
                return view(*args, **kwargs)
            # Short enough for the record's scope column: caller and view, e.g. "m42:programs.Programs".
            scope = f"{_caller()}:{request.endpoint}"
            asked = {"path": request.path, "body": request.get_json(silent=True)}
            stored = ledger.claim_request(db.session, scope, key, ledger.request_fingerprint(asked))
            if stored is not None:
                db.session.rollback()
                return jsonify(stored), 200
            response = view(*args, **kwargs)
            ledger.complete_request(db.session, scope, key, response.get_json())
            db.session.commit()
            return response

        documented = blp.doc(**HEADER_DOC)(wrapper)
        documented = blp.alt_response(200, schema=schema, description=f"Replay with the same {HEADER}.")(documented)
        return blp.alt_response(409, **conflict(f"This {HEADER} was used for a different request."))(documented)

    return decorator
