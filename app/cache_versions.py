"""Versions of what processes keep in memory between requests, read once per transaction.

Each name counts changes to the rows a kind of cached copy is made of; triggers
(migration 0016) move the counters, so no code path that changes those rows can
forget to. A process keeps a copy under the version it read it at and uses it
only while a request reads the same version: one small read per transaction
(``versions``) tells every cache at once whether its copy still holds, in every
worker process, from the very next request after the change committed.

  keys       API keys, merchants, affiliates (a key's owner, app.identity.auth)
  tiers      the tiers (their list)
  campaigns  campaigns created or deleted (whether there are any at all)
  card       card subscriptions created or deleted (whether there are any at all)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import BigInteger, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session

from app.extensions import db

KEYS, TIERS, CAMPAIGNS, CARD = "keys", "tiers", "campaigns", "card"
NAMES = (KEYS, TIERS, CAMPAIGNS, CARD)
# Cached values per process; past this the memory is dropped and refilled.
CACHED_MAX = 10_000

T = TypeVar("T")


class CacheVersion(db.Model):
    """A counter per kind of cached copy (see the module's docstring)."""

    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


_ALL = select(CacheVersion.name, CacheVersion.version)
_READ = "cache_versions"
_cached: dict[tuple[Any, str, Any], tuple[int, Any]] = {}


def versions(session: Session, *, fresh: bool = False) -> dict[str, int]:
    """Every counter, read once per transaction of ``session`` (``fresh``: read again)."""
    if isinstance(session, scoped_session):
        session = session()
    held = session.info.get(_READ)
    if fresh or held is None or held[0] is not session.get_transaction():
        read = {name: version for name, version in session.execute(_ALL)}
        held = session.info[_READ] = (session.get_transaction(), read)  # the transaction the read began
    return held[1]


def cached(session: Session, name: str, key: Any, compute: Callable[[Session], T]) -> T:
    """``compute(session)``, kept per database under the version of ``name`` it was
    computed at, and computed again once that version moved."""
    version = versions(session)[name]
    slot = (session.get_bind().engine.url, name, key)
    hit = _cached.get(slot)
    if hit is not None and hit[0] == version:
        return hit[1]
    value = compute(session)
    if len(_cached) >= CACHED_MAX:
        _cached.clear()
    _cached[slot] = (version, value)
    return value


# The counters' triggers per watched table (migration 0016 makes them). On SQLite a
# migration that rebuilds one of these tables (batch mode) drops its triggers: it
# calls ``sqlite_triggers`` after the rebuild to put them back.
SQLITE_WATCHED = {
    "api_keys": (("update", "delete"), KEYS),
    "affiliate_keys": (("update", "delete"), KEYS),
    "merchants": (("update", "delete"), KEYS),
    "affiliates": (("update", "delete"), KEYS),
    "tiers": (("insert", "update", "delete"), TIERS),
    "campaigns": (("insert", "delete"), CAMPAIGNS),
    "card_subscriptions": (("insert", "delete"), CARD),
}


def sqlite_triggers(table: str) -> list[str]:
    """The statements that (re)create ``table``'s counter triggers on SQLite."""
    events, name = SQLITE_WATCHED[table]
    statements = []
    for event in events:
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_cache_version_{event}",
            f"CREATE TRIGGER {table}_cache_version_{event} AFTER {event.upper()} ON {table} "
            f"BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = '{name}'; END",
        ]
    return statements
