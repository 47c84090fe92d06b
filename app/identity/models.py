"""The key tables: one per kind of owner, each key stored as its hash only.

The owners' tables are referred to by name, so this module imports no feature.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime


class _KeyColumns:
    """What every key row holds beside its owner: the display prefix, the hash, its life."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(_KeyColumns, db.Model):
    """A merchant's API key."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_merchant", "merchant_id", "id"),)

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))


class AffiliateKey(_KeyColumns, db.Model):
    """An affiliate's API key."""

    __tablename__ = "affiliate_keys"
    __table_args__ = (Index("ix_affiliate_keys_affiliate", "affiliate_id", "id"),)

    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id"))
