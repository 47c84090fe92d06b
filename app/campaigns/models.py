"""Campaigns: extra points on matching orders, within a hard budget of points."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime

MULTIPLIER = "multiplier"
BONUS = "bonus"
EFFECT_TYPES = (MULTIPLIER, BONUS)

SCHEDULED, ACTIVE, PAUSED, ENDED = "scheduled", "active", "paused", "ended"
STATUSES = (SCHEDULED, ACTIVE, PAUSED, ENDED)

# A multiplier's factor in basis points: 10000 is 1x (the merchant's own rule, earned elsewhere).
FACTOR_BP_ONE = 10_000


class Campaign(db.Model):
    """A merchant's campaign (``merchant_id``) or the operator's coalition-wide one (null)."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("effect_type IN ('multiplier', 'bonus')", name="effect_type_known"),
        CheckConstraint(
            "(effect_type = 'multiplier' AND factor_bp IS NOT NULL AND bonus_points IS NULL)"
            " OR (effect_type = 'bonus' AND bonus_points IS NOT NULL AND factor_bp IS NULL)",
            name="effect_complete",
        ),
        CheckConstraint("starts_at < ends_at", name="window_ordered"),
        # The hard cap, held by the database as well as by the locked update that grants.
        CheckConstraint("points_awarded >= 0 AND points_awarded <= budget_points", name="within_budget"),
        Index("ix_campaigns_merchant", "merchant_id", "id"),
        Index("ix_campaigns_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    name: Mapped[str] = mapped_column(String(120))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    effect_type: Mapped[str] = mapped_column(String(16))
    factor_bp: Mapped[int | None] = mapped_column(Integer)
    bonus_points: Mapped[int | None] = mapped_column(Integer)
    # Conditions; null means "no condition" (first_order false is kept as given, and means none too).
    first_order: Mapped[bool | None] = mapped_column(Boolean)
    min_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    # A JSON list of distinct category names.
    categories: Mapped[str | None] = mapped_column(Text)
    tier: Mapped[str | None] = mapped_column(String(40))
    # Only members of this segment (of the campaign's owner), as the segments job last saw them.
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id"))
    # An offer's bonus: only the offer's mailed recipients, once each (no foreign key:
    # the offers table is created after this one's, and references it only by this id).
    offer_id: Mapped[int | None] = mapped_column(BigInteger)
    budget_points: Mapped[int] = mapped_column(BigInteger)
    points_awarded: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def owner(self) -> str:
        return "operator" if self.merchant_id is None else "merchant"

    @property
    def points_remaining(self) -> int:
        return self.budget_points - self.points_awarded

    @property
    def category_set(self) -> frozenset[str]:
        return frozenset(json.loads(self.categories)) if self.categories is not None else frozenset()

    @property
    def effect(self) -> dict:
        if self.effect_type == MULTIPLIER:
            return {"type": MULTIPLIER, "factor_bp": self.factor_bp}
        return {"type": BONUS, "points": self.bonus_points}

    @property
    def conditions(self) -> dict:
        """The conditions as they were given: absent ones are left out."""
        given = {
            "first_order": self.first_order,
            "min_amount_cents": self.min_amount_cents,
            "categories": json.loads(self.categories) if self.categories is not None else None,
            "tier": self.tier,
            "segment_id": str(self.segment_id) if self.segment_id is not None else None,
        }
        return {name: value for name, value in given.items() if value is not None}

    def as_of(self, now: datetime) -> Campaign:
        """This campaign, its ``status`` shown as at ``now`` (the unit of work's instant)."""
        self._as_of = now
        return self

    @property
    def status(self) -> str:
        return self.status_at(self._as_of)

    def status_at(self, now: datetime) -> str:
        """Derived, never stored: ended, then paused, then scheduled, else active."""
        if self.ended_at is not None or now >= self.ends_at:
            return ENDED
        if self.paused_at is not None:
            return PAUSED
        if now < self.starts_at:
            return SCHEDULED
        return ACTIVE
