from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app import identity
from app.extensions import db
from app.identity.models import ApiKey
from app.programme.earning import EarnRule, Rate
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
    # Days an order's points stay incoming (the return window); 0: available at once.
    points_pending_days: Mapped[int] = mapped_column(Integer)
    # The earn rule's categories: names that earn nothing, and [{category, points,
    # per_amount_cents}] that earn at their own rate.
    earn_excluded_categories: Mapped[list] = mapped_column(JSON)
    earn_category_rates: Mapped[list] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When it last left the coalition (active -> false); cleared when it comes back.
    # Its final statement closes here.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    domains: Mapped[list[MerchantDomain]] = relationship(
        order_by="MerchantDomain.domain", cascade="all, delete-orphan", lazy="select"
    )

    def terms(self) -> MerchantTerms:
        return terms_of({f.name: getattr(self, f.name) for f in fields(MerchantTerms)})


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
    points_pending_days: int = 0
    earn_excluded_categories: tuple[str, ...] = ()
    earn_category_rates: tuple[tuple[str, int, int], ...] = ()

    @property
    def earn_rule(self) -> EarnRule:
        return EarnRule(
            Rate(self.earn_points, self.earn_per_amount_cents),
            frozenset(self.earn_excluded_categories),
            tuple((category, Rate(points, per)) for category, points, per in self.earn_category_rates),
        )


def terms_of(row) -> MerchantTerms:
    """Terms from a row of the merchant's columns (JSON lists become tuples: terms are values)."""
    values = dict(row if isinstance(row, dict) else row._mapping)
    values["earn_excluded_categories"] = tuple(values["earn_excluded_categories"] or ())
    values["earn_category_rates"] = tuple(
        (r["category"], r["points"], r["per_amount_cents"]) for r in values["earn_category_rates"] or ()
    )
    return MerchantTerms(**values)


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
    return None if found is None else terms_of(found)


identity.register_owner("merchant", merchant_of_key)
