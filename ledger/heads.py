"""Signed tree heads: the log's size and root at a time, signed with Ed25519.

The signed bytes are the ASCII of ``v1:<tree_size>:<timestamp>:<root_hash>``
(timestamp in Unix milliseconds, root in hex); signatures and public keys
travel as standard base64. The signer's key is registered on first use; a new
key retires the previous one, whose public key stays published so the heads
it signed still verify. A retired key never signs again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger import log
from ledger.errors import LedgerError
from ledger.models import SigningKey, TreeHead

SEED_BYTES = 32
TREE_HEADS_PAGE_MAX = 500


class SigningKeyRetired(LedgerError):
    """The signer's key was retired by a newer one; it signs no more heads."""


class SigningKeyInvalid(LedgerError):
    """A signing key that is not 32 bytes of base64, or a key id reused for another key."""


class Signer:
    """An Ed25519 private key with its key id (by default the first 16 hex digits of SHA-256 of the public key)."""

    def __init__(self, seed: bytes, key_id: str | None = None) -> None:
        if len(seed) != SEED_BYTES:
            raise SigningKeyInvalid(f"an Ed25519 signing key is {SEED_BYTES} bytes, not {len(seed)}")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode("ascii")
        self.key_id = key_id or hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def from_base64(cls, text: str, key_id: str | None = None) -> Signer:
        """A signer from the base64 of a 32-byte seed (``LEDGER_SIGNING_KEY``)."""
        try:
            seed = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SigningKeyInvalid("the signing key is not base64") from None
        return cls(seed, key_id)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message)).decode("ascii")


@dataclass(frozen=True)
class Head:
    """A signed tree head as published."""

    id: int
    tree_size: int
    root_hash: str
    timestamp_ms: int
    key_id: str
    signature: str

    @property
    def signed_bytes(self) -> bytes:
        return signed_bytes(self.tree_size, self.timestamp_ms, self.root_hash)


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    public_key: str
    created_at: datetime
    retired_at: datetime | None


def signed_bytes(tree_size: int, timestamp_ms: int, root_hash: str) -> bytes:
    return f"v1:{tree_size}:{timestamp_ms}:{root_hash}".encode("ascii")


def signature_valid(public_key: str, message: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is the Ed25519 signature of ``message`` by ``public_key`` (base64)."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def _head(row: TreeHead) -> Head:
    return Head(row.id, row.tree_size, row.root_hash, row.timestamp_ms, row.key_id, row.signature)


def _register(session: Session, signer: Signer, now: datetime) -> None:
    known = session.get(SigningKey, signer.key_id)
    if known is None:
        session.execute(
            update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now),
            execution_options={"synchronize_session": False},
        )
        session.add(SigningKey(key_id=signer.key_id, public_key=signer.public_key, created_at=now, retired_at=None))
        session.flush()
        return
    if known.public_key != signer.public_key:
        raise SigningKeyInvalid(f"key id {signer.key_id} already names another public key")
    if known.retired_at is not None:
        raise SigningKeyRetired(f"key {signer.key_id} was retired at {known.retired_at.isoformat()}")


def sign_tree_head(
    session: Session, signer: Signer, *, now: datetime, min_interval_s: float | None = None
) -> Head | None:
    """Sign the log's current size and root (under the log lock).

    With ``min_interval_s`` it signs only when the tree grew since the newest
    head and that head is at least that old (``None`` signs at once). Returns
    the new head, or None when none was due.
    """
    log.log_lock(session)
    size = log.tree_size(session)
    now_ms = int(now.timestamp() * 1000)
    newest = newest_head(session)
    if min_interval_s is not None and newest is not None:
        if newest.tree_size >= size or now_ms - newest.timestamp_ms < min_interval_s * 1000:
            return None
    _register(session, signer, now)
    # Timestamps strictly increase, whatever the clocks of the processes that sign.
    timestamp_ms = now_ms if newest is None else max(now_ms, newest.timestamp_ms + 1)
    root = log.root_hash(session, size)
    row = TreeHead(
        tree_size=size,
        root_hash=root,
        timestamp_ms=timestamp_ms,
        key_id=signer.key_id,
        signature=signer.sign(signed_bytes(size, timestamp_ms, root)),
    )
    session.add(row)
    session.flush()
    return _head(row)


def newest_head(session: Session) -> Head | None:
    row = session.execute(select(TreeHead).order_by(TreeHead.id.desc()).limit(1)).scalar_one_or_none()
    return None if row is None else _head(row)


def get_head(session: Session, head_id: int) -> Head | None:
    row = session.get(TreeHead, head_id)
    return None if row is None else _head(row)


def list_heads(session: Session, *, limit: int, before_id: int | None = None) -> list[Head]:
    """Heads newest first, ``limit`` of them (at most ``TREE_HEADS_PAGE_MAX``), older than ``before_id``."""
    query = select(TreeHead).order_by(TreeHead.id.desc()).limit(min(limit, TREE_HEADS_PAGE_MAX))
    if before_id is not None:
        query = query.where(TreeHead.id < before_id)
    return [_head(row) for row in session.execute(query).scalars()]


def public_keys(session: Session) -> list[PublicKey]:
    """Every key that ever signed a head, current and retired, oldest first."""
    rows = session.execute(select(SigningKey).order_by(SigningKey.created_at, SigningKey.key_id)).scalars()
    return [PublicKey(row.key_id, row.public_key, row.created_at, row.retired_at) for row in rows]
