"""The paid loyalty card: its terms, each member's subscription, the vouchers it issues."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.constants import ORDER_ID_LENGTH_MAX, STRIPE_ID_LENGTH_MAX
from app.extensions import db
from ledger import BigId, UTCDateTime

CARD_STATUSES = ("none", "active", "past_due", "canceled")
CARD_NAME_LENGTH_MAX = 80
VOUCHER_CODE_LENGTH_MAX = 40


class CardTerms(db.Model):
    """One version of the card's terms. A change adds a row (and a new Stripe plan):
    members who subscribed keep the version they subscribed to, the newest row is
    what new subscribers get."""

    __tablename__ = "card_terms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(CARD_NAME_LENGTH_MAX))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(10))
    earn_multiplier_bp: Mapped[int] = mapped_column(Integer)
    voucher_value_cents: Mapped[int] = mapped_column(BigInteger)
    voucher_per_spend_cents: Mapped[int] = mapped_column(BigInteger)
    stripe_plan_id: Mapped[str] = mapped_column(String(STRIPE_ID_LENGTH_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CardSubscription(db.Model):
    """A member's card: at most one row per member, kept across cancellations (the
    Stripe customer is reused by a later subscription). ``spend_cents`` is the spend
    since the last voucher (the remainder carried to the next one)."""

    __tablename__ = "card_subscriptions"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    terms_id: Mapped[int] = mapped_column(ForeignKey("card_terms.id"))
    stripe_customer_id: Mapped[str] = mapped_column(String(STRIPE_ID_LENGTH_MAX), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH_MAX), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    # The checkout's SetupIntent, and how many SetupIntents and subscriptions were made:
    # the next ones' idempotency keys are member-{id}-setup-{n + 1}, member-{id}-subscription-{n + 1}.
    setup_intent_id: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH_MAX))
    setup_intent_count: Mapped[int] = mapped_column(Integer)
    subscription_count: Mapped[int] = mapped_column(Integer)
    renews_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean)
    spend_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CardVoucher(db.Model):
    """A voucher the card gave a member for their spend, redeemable once at any
    coalition merchant until it expires."""

    __tablename__ = "card_vouchers"
    __table_args__ = (
        Index("ix_card_vouchers_member", "member_id", "id"),
        Index("ix_card_vouchers_expiry", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(VOUCHER_CODE_LENGTH_MAX), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    value_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the expiry job gave an unused voucher's value back to card revenue.
    lapsed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    order_ref: Mapped[str | None] = mapped_column(String(ORDER_ID_LENGTH_MAX))
