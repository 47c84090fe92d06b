"""The optional `Idempotency-Key` request header, for mutations without a natural key."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import request
from sqlalchemy.orm import Session

from app.errors import Unprocessable
from ledger import idempotency

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,%d}$" % idempotency.KEY_LENGTH_MAX)


def header_key() -> str | None:
    """The request's Idempotency-Key (visible ASCII, 1 to 250 characters), or None."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _KEY.match(key):
        raise Unprocessable(
            f"{HEADER} must be 1 to {idempotency.KEY_LENGTH_MAX} visible ASCII characters.",
            errors={HEADER: ["Not a valid key."]},
        )
    return key


def run_once(
    session: Session, scope: str, key: str | None, request_data: dict, work: Callable[[], dict]
) -> tuple[dict, bool]:
    """Do ``work`` (which must not commit) and commit; with a key, a retry of the
    same request gets the first answer back and ``False``, another request 409."""
    if key is not None:
        stored = idempotency.claim(session, scope, key, idempotency.fingerprint(request_data))
        if stored is not None:
            session.rollback()
            return stored, False
    answer = work()
    if key is not None:
        idempotency.complete(session, scope, key, answer)
    session.commit()
    return answer, True
