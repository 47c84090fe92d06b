from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from ledger import BigId, UTCDateTime


class Merchant(db.Model):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    earn_points: Mapped[int] = mapped_column(Integer)
    earn_per_amount_cents: Mapped[int] = mapped_column(Integer)
    price_per_1000_points_cents: Mapped[int] = mapped_column(Integer)
    points_lifetime_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    domains: Mapped[list[MerchantDomain]] = relationship(
        order_by="MerchantDomain.domain", cascade="all, delete-orphan", lazy="select"
    )


@dataclass(frozen=True)
class MerchantTerms:
    """What a merchant's API call needs to know about the merchant: read once per request."""

    id: int
    name: str
    currency: str
    earn_points: int
    earn_per_amount_cents: int
    price_per_1000_points_cents: int
    points_lifetime_days: int


class MerchantDomain(db.Model):
    __tablename__ = "merchant_domains"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), primary_key=True)


class ApiKey(db.Model):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_merchant", "merchant_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


_TERMS = Merchant.__table__
_KEYS = ApiKey.__table__
MERCHANT_BY_KEY = (
    select(*(_TERMS.c[f.name] for f in fields(MerchantTerms)))
    .join(_KEYS, _KEYS.c.merchant_id == _TERMS.c.id)
    .where(_KEYS.c.key_hash == bindparam("key_hash"), _KEYS.c.revoked_at.is_(None), _TERMS.c.active.is_(True))
)
