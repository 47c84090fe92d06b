"""Request idempotency: the first answer to a key is the answer to every retry."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger.accounts import rows_changed, upsert_statement
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


def claim_request(session: Session, scope: str, key: str, request_hash: str) -> dict | None:
    """Reserve ``key`` in ``scope`` for this request, or return the stored answer.

    Returns ``None`` when the caller is first and must do the work, then call
    ``complete_request``. Raises ``IdempotencyConflict`` when the key was used for a
    different request. A concurrent first caller makes this wait for its commit.
    """
    if not key or len(key) > IDEMPOTENCY_KEY_LENGTH_MAX:
        raise ValueError(f"idempotency key must have 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} characters")
    if not scope or len(scope) > SCOPE_LENGTH_MAX:
        raise ValueError(f"idempotency scope must have 1 to {SCOPE_LENGTH_MAX} characters: {scope!r}")
    records = table(IdempotencyRecord)
    inserted = session.execute(
        upsert_statement(session, records, ["scope", "key"], returning=records.c.key),
        {"scope": scope, "key": key, "request_hash": request_hash, "result": None, "created_at": utcnow()},
    ).first()
    if inserted is not None:
        return None
    record = session.execute(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if record.request_hash != request_hash:
        raise IdempotencyConflict(f"{scope}:{key} was used for a different request")
    if record.result is None:
        raise IdempotencyConflict(f"{scope}:{key} is still being processed")
    return json.loads(record.result)


def complete_request(session: Session, scope: str, key: str, result: dict) -> None:
    """Store the answer given to the request that claimed ``key``."""
    records = table(IdempotencyRecord)
    done = session.execute(
        update(records)
        .where(records.c.scope == scope, records.c.key == key, records.c.result.is_(None))
        .values(result=json.dumps(result, sort_keys=True))
    )
    if rows_changed(done) != 1:
        raise ValueError(f"{scope}:{key} was not claimed by this transaction")


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
