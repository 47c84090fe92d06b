"""The key tables: one per kind of owner, each key stored as its hash only.

The owners' tables are referred to by name, so this module imports no feature.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime


class ApiKey(db.Model):
    """A merchant's API key."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_merchant", "merchant_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AffiliateKey(db.Model):
    """An affiliate's API key."""

    __tablename__ = "affiliate_keys"
    __table_args__ = (Index("ix_affiliate_keys_affiliate", "affiliate_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id"))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
