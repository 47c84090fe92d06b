"""Transaction-scoped named locks, for check-then-insert rules such as "at most N per owner".

On PostgreSQL they are advisory locks released at commit or rollback; on SQLite a
write transaction already holds the database's write lock (BEGIN IMMEDIATE), which
serializes the same way.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_ADVISORY = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


def serialize(session: Session, *names: str) -> None:
    """Wait for, then hold until the transaction ends, one lock per name (taken in sorted order)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        session.execute(_ADVISORY, {"name": name})
