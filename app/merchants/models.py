from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app import identity
from app.extensions import db
from app.identity.models import ApiKey
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
    # When it last left the coalition (active -> false); cleared when it comes back.
    # Its final statement closes here.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

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


_TERMS = Merchant.__table__
_KEYS = ApiKey.__table__
MERCHANT_BY_KEY = (
    select(*(_TERMS.c[f.name] for f in fields(MerchantTerms)))
    .join(_KEYS, _KEYS.c.merchant_id == _TERMS.c.id)
    .where(_KEYS.c.key_hash == bindparam("key_hash"), _KEYS.c.revoked_at.is_(None), _TERMS.c.active.is_(True))
)


def merchant_of_key(session: Session, key_hash: str) -> MerchantTerms | None:
    """The active merchant holding this live key, if any."""
    found = session.execute(MERCHANT_BY_KEY, {"key_hash": key_hash}).first()
    return None if found is None else MerchantTerms(*found)


identity.register_owner("merchant", merchant_of_key)
