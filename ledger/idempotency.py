"""Request idempotency: the first answer to a key is the answer to every retry."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from ledger.accounts import upsert_statement
from ledger.errors import IdempotencyConflict
from ledger.models import IdempotencyRecord, table
from ledger.rows import insert_rows
from ledger.types import utcnow

IDEMPOTENCY_KEY_LENGTH_MAX = 250
SCOPE_LENGTH_MAX = 64


def request_fingerprint(request: Any) -> str:
    """A stable hash of a JSON-able request (key order does not matter; an aware
    datetime counts as its instant, whatever offset it was written with)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: Any) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # not representable in UTC: the caller refuses it on its own terms
            pass
    return str(value)


# On PostgreSQL (migration 0016): wait on the key's advisory lock, then read the record
# with a snapshot taken after the wait, in one round trip.
_CLAIM_POSTGRESQL = text("SELECT found_hash, found_result FROM ledger_idempotency_claim(:scope, :key)")
_RECORDS = table(IdempotencyRecord)
_STORED = select(_RECORDS.c.request_hash, _RECORDS.c.result).where(
    _RECORDS.c.scope == bindparam("scope"), _RECORDS.c.key == bindparam("key")
)
# The request hash of each key this session claimed and has not yet completed.
_CLAIMS = "ledger_idempotency_claims"


def claim_request(session: Session, scope: str, key: str, request_hash: str) -> dict | None:
    """Reserve ``key`` in ``scope`` for this request, or return the stored answer.

    Returns ``None`` when the caller is first and must do the work, then call
    ``complete_request``. Raises ``IdempotencyConflict`` when the key was used for a
    different request. A concurrent first caller makes this wait for its commit.

    Nothing is written here: the record is written once, with its answer, by
    ``complete_request``. The reservation is a lock held until the transaction ends
    (PostgreSQL: an advisory lock on the key; SQLite: the write lock the transaction
    took when it began), so a concurrent duplicate waits, then finds the answer.
    """
    if not key or len(key) > IDEMPOTENCY_KEY_LENGTH_MAX:
        raise ValueError(f"idempotency key must have 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} characters")
    if not scope or len(scope) > SCOPE_LENGTH_MAX:
        raise ValueError(f"idempotency scope must have 1 to {SCOPE_LENGTH_MAX} characters: {scope!r}")
    params = {"scope": scope, "key": key}
    if session.get_bind().dialect.name == "postgresql":
        found = session.execute(_CLAIM_POSTGRESQL, params).first()
    else:
        found = session.execute(_STORED, params).first()
    if found is None:
        session.info.setdefault(_CLAIMS, {})[(scope, key)] = request_hash
        return None
    return _answer_of(scope, key, found[0], found[1], request_hash)


def _answer_of(scope: str, key: str, stored_hash: str, result: str | None, request_hash: str) -> dict:
    if stored_hash != request_hash:
        raise IdempotencyConflict(f"{scope}:{key} was used for a different request")
    if result is None:  # a claim row of the version that wrote claims before answers
        raise IdempotencyConflict(f"{scope}:{key} is still being processed")
    return json.loads(result)


def complete_request(session: Session, scope: str, key: str, result: dict) -> None:
    """Store the answer given to the request that claimed ``key``: the record's only write.

    Raises ``IdempotencyConflict`` if a record for the key appeared meanwhile (a
    writer that did not hold the claim's lock); the caller then rolls back and claims
    again, which answers the stored answer, or refuses another request's key.
    """
    request_hash = session.info.get(_CLAIMS, {}).pop((scope, key), None)
    if request_hash is None:
        raise ValueError(f"{scope}:{key} was not claimed by this transaction")
    inserted = session.execute(
        upsert_statement(session, _RECORDS, ["scope", "key"], returning=_RECORDS.c.key),
        {
            "scope": scope,
            "key": key,
            "request_hash": request_hash,
            "result": json.dumps(result, sort_keys=True),
            "created_at": utcnow(),
        },
    ).first()
    if inserted is None:
        raise IdempotencyConflict(f"{scope}:{key} was answered by a concurrent request")


def find_requests(session: Session, scope: str, keys: list[str]) -> dict[str, tuple[str, dict | None]]:
    """The records of many keys of one scope, in one read: key -> (request hash, the
    stored answer, or None while its first request is still being processed)."""
    if not keys:
        return {}
    records = table(IdempotencyRecord)
    rows = session.execute(
        select(records.c.key, records.c.request_hash, records.c.result).where(
            records.c.scope == scope, records.c.key.in_(sorted(set(keys)))
        )
    )
    return {row.key: (row.request_hash, None if row.result is None else json.loads(row.result)) for row in rows}


def record_requests(session: Session, scope: str, done: list[tuple[str, str, dict]]) -> set[str]:
    """Write many complete records at once: (key, request hash, answer) each, as
    ``claim_request`` then ``complete_request`` would one by one. Returns the keys
    written; a key recorded meanwhile by a concurrent request is left as it is (and
    not returned): the caller must not keep the work it did for that key."""
    if not scope or len(scope) > SCOPE_LENGTH_MAX:
        raise ValueError(f"idempotency scope must have 1 to {SCOPE_LENGTH_MAX} characters: {scope!r}")
    if not done:
        return set()
    for key, _hash, _answer in done:
        if not key or len(key) > IDEMPOTENCY_KEY_LENGTH_MAX:
            raise ValueError(f"idempotency key must have 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} characters")
    created_at = utcnow()
    written = insert_rows(
        session,
        table(IdempotencyRecord),
        [
            {
                "scope": scope,
                "key": key,
                "request_hash": request_hash,
                "result": json.dumps(answer, sort_keys=True),
                "created_at": created_at,
            }
            for key, request_hash, answer in done
        ],
        returning="key",
        skip_conflicts_on=["scope", "key"],
    )
    return set(written)
