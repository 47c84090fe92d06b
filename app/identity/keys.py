"""API keys: random, shown once, stored as SHA-256 hashes; one ``KeyRing`` for every
kind of owner (a bounded number live at a time, rotated or revoked at once)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.identity.errors import KeyNotFound, LiveKeyLimit
from app.locks import serialize
from app.pagination import Page, paginate
from app.unit_of_work import UnitOfWork

KEY_PREFIX = "lk_"
KEY_SECRET_BYTES = 32
KEY_LENGTH_MAX = 200


def new_key() -> tuple[str, str, str]:
    """A fresh key: (the key to show once, its display prefix, its hash to store)."""
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_SECRET_BYTES)
    return key, key[:10], hash_key(key)


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a plain digest resists guessing; no slow hash needed.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyRing:
    """The keys of one kind of owner: ``model`` has ``<owner_column>``, prefix,
    key_hash, created_at and revoked_at; ``owner_of`` raises the owner's own
    not-found error for an unknown owner.

    Nothing here commits: the caller's unit of work does, with its answer."""

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
        """A new live key; returns it with the key in clear, to show once."""
        serialize(session, f"api-keys:{self.owner_noun}:{owner_id}")  # the live-key limit holds under concurrency
        live = session.execute(
            select(func.count(self.model.id)).where(self._owner() == owner_id, self.model.revoked_at.is_(None))
        ).scalar_one()
        if live >= self.live_max:
            raise LiveKeyLimit(self.owner_noun, self.live_max)
        clear, prefix, digest = new_key()
        key = self.model(**{self.owner_column: owner_id}, prefix=prefix, key_hash=digest, created_at=now)
        session.add(key)
        session.flush()
        return key, clear

    def issue(self, uow: UnitOfWork, owner_id: int) -> tuple[Any, str]:
        """A new key beside the existing ones (for a zero-downtime rotation)."""
        self.owner_of(uow.session, owner_id)
        return self.add(uow.session, owner_id, uow.now)

    def rotate(self, uow: UnitOfWork, owner_id: int, key_id: int) -> tuple[Any, str]:
        """Replace a key: the new one works at once, the old one stops at once."""
        self._live(uow.session, owner_id, key_id).revoked_at = uow.now
        uow.session.flush()
        return self.add(uow.session, owner_id, uow.now)

    def revoke(self, uow: UnitOfWork, owner_id: int, key_id: int) -> None:
        self._live(uow.session, owner_id, key_id).revoked_at = uow.now
        uow.session.flush()

    def _live(self, session: Session, owner_id: int, key_id: int):
        self.owner_of(session, owner_id)
        key = session.get(self.model, key_id)
        if key is None or getattr(key, self.owner_column) != owner_id or key.revoked_at is not None:
            raise KeyNotFound(self.owner_noun, owner_id, key_id)
        return key


def with_key(obj, clear: str, **extra):
    """``obj`` carrying the key in clear (and ``extra``), for the one answer that shows it."""
    obj.api_key = clear
    for name, value in extra.items():
        setattr(obj, name, value)
    return obj
