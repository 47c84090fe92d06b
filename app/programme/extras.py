"""Points an order earns on top of the merchant's base rule, each its own ledger
entry paid by its funder: campaign bonuses (the merchant's own campaigns at its
point price, coalition campaigns by the operator), the member's tier and the
paid card (both by the operator, at the order's merchant's point price).

A multiplier's extra is ``base * (multiplier_bp - 10000) // 10000`` (floor) on the
base points; multipliers add up, they do not compound. A refund takes extras back
with the base: a multiplier's extra is recomputed on the base that is left, a
fixed bonus keeps its share of the net amount (floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime

NO_MULTIPLIER_BP = 10_000
MERCHANT, OPERATOR = "merchant", "operator"
CAMPAIGN, TIER, CARD = "campaign", "tier", "card"


@dataclass(frozen=True)
class Extra:
    """One extra of an order: where it comes from, who pays, how many points, and
    how a refund recomputes it (``extra_bp`` for a multiplier, ``fixed_points``
    for a fixed bonus)."""

    source: str
    name: str
    funder: str
    points: int
    campaign_id: int | None = None
    extra_bp: int | None = None
    fixed_points: int | None = None

    def as_bonus(self) -> dict:
        campaign_id = None if self.campaign_id is None else str(self.campaign_id)
        return {"campaign_id": campaign_id, "source": self.source, "name": self.name, "points": self.points}


def multiplier_extra(base_points: int, multiplier_bp: int) -> int:
    return base_points * (multiplier_bp - NO_MULTIPLIER_BP) // NO_MULTIPLIER_BP


def of_multiplier(source: str, name: str, base_points: int, multiplier_bp: int) -> Extra | None:
    """The operator-funded extra of a tier or the card, None when it adds nothing."""
    points = multiplier_extra(base_points, multiplier_bp)
    if points <= 0:
        return None
    return Extra(source, name, OPERATOR, points, extra_bp=multiplier_bp - NO_MULTIPLIER_BP)


def after_refund(extra_bp: int | None, fixed_points: int | None, *, base_after: int, amount: int, net: int) -> int:
    """What an extra is worth once the order is down to ``net`` (its base to ``base_after``)."""
    if extra_bp is not None:
        return base_after * extra_bp // NO_MULTIPLIER_BP
    return (fixed_points or 0) * net // amount


class OrderAward(db.Model):
    """An extra an order earned, with its own earn entry and what refunds took back."""

    __tablename__ = "order_awards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(120))
    funder: Mapped[str] = mapped_column(String(16))
    extra_bp: Mapped[int | None] = mapped_column(Integer)
    fixed_points: Mapped[int | None] = mapped_column(BigInteger)
    points_earned: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    earn_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def points_net(self) -> int:
        return self.points_earned - self.points_reversed

    def as_bonus(self) -> dict:
        return {
            "campaign_id": None if self.campaign_id is None else str(self.campaign_id),
            "source": self.source,
            "name": self.name,
            "points": self.points_earned,
            "points_net": self.points_net,
        }
