"""API key rings: merchants and affiliates hold keys the same way (shown once,
stored as hashes, a bounded number live at a time, rotated or revoked at once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import new_key
from app.errors import Invalid, NotFound
from app.locks import serialize
from app.pagination import Page, paginate


@dataclass(frozen=True)
class KeyRing:
    """The keys of one kind of owner: ``model`` has ``<owner_column>``, prefix,
    key_hash, created_at and revoked_at; ``owner_of`` raises NotFound for an unknown owner."""

    model: Any
    owner_column: str
    owner_noun: str
    live_max: int
    owner_of: Callable[[Session, int], Any]

    def _owner(self):
        return getattr(self.model, self.owner_column)

    def list(self, session: Session, owner_id: int, *, limit: int, cursor: str | None) -> Page:
        self.owner_of(session, owner_id)
        query = select(self.model).where(self._owner() == owner_id)
        return paginate(session, query, self.model.id, limit=limit, cursor=cursor)

    def add(self, session: Session, owner_id: int, now: datetime) -> tuple[Any, str]:
        """A new live key (not committed); returns it with the key in clear, to show once."""
        serialize(session, f"api-keys:{self.owner_noun}:{owner_id}")  # the live-key limit holds under concurrency
        live = session.execute(
            select(func.count(self.model.id)).where(self._owner() == owner_id, self.model.revoked_at.is_(None))
        ).scalar_one()
        if live >= self.live_max:
            raise Invalid(f"A {self.owner_noun} has at most {self.live_max} live keys; revoke one first.")
        clear, prefix, digest = new_key()
        key = self.model(**{self.owner_column: owner_id}, prefix=prefix, key_hash=digest, created_at=now)
        session.add(key)
        session.flush()
        return key, clear

    def issue(self, session: Session, owner_id: int, *, now: datetime) -> tuple[Any, str]:
        """A new key beside the existing ones (for a zero-downtime rotation)."""
        self.owner_of(session, owner_id)
        key, clear = self.add(session, owner_id, now)
        session.commit()
        return key, clear

    def rotate(self, session: Session, owner_id: int, key_id: int, *, now: datetime) -> tuple[Any, str]:
        """Replace a key: the new one works at once, the old one stops at once."""
        self._live(session, owner_id, key_id).revoked_at = now
        session.flush()
        key, clear = self.add(session, owner_id, now)
        session.commit()
        return key, clear

    def revoke(self, session: Session, owner_id: int, key_id: int, *, now: datetime) -> None:
        self._live(session, owner_id, key_id).revoked_at = now
        session.commit()

    def _live(self, session: Session, owner_id: int, key_id: int):
        self.owner_of(session, owner_id)
        key = session.get(self.model, key_id)
        if key is None or getattr(key, self.owner_column) != owner_id or key.revoked_at is not None:
            raise NotFound(f"No live key {key_id} for {self.owner_noun} {owner_id}.")
        return key


def with_key(obj, clear: str, **extra):
    """``obj`` carrying the key in clear (and ``extra``), for the one answer that shows it."""
    obj.api_key = clear
    for name, value in extra.items():
        setattr(obj, name, value)
    return obj
