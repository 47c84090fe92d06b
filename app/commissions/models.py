from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime

COMMISSION_STATUSES = ("pending", "approved", "rejected", "paid")
COMMISSION_KINDS = ("sale", "lead", "adjustment")


class Commission(db.Model):
    """What a merchant owes an affiliate for one conversion (sale or lead), or a
    negative adjustment of an approved one after a refund."""

    __tablename__ = "commissions"
    __table_args__ = (
        # One commission per order or lead of a merchant, and per click: duplicates are refused.
        UniqueConstraint("merchant_id", "conversion_ref"),
        UniqueConstraint("click_id"),
        Index("ix_commissions_merchant", "merchant_id", "id"),
        Index("ix_commissions_affiliate", "affiliate_id", "created_at"),
        Index("ix_commissions_due", "status", "hold_until"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("affiliate_programs.id"))
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id"))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("affiliate_links.id"))
    kind: Mapped[str] = mapped_column(String(16))
    # "order:<order_id>" or "lead:<lead_id>"; NULL for adjustments.
    conversion_ref: Mapped[str | None] = mapped_column(String(140))
    click_id: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    base_amount_cents: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    fee_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    suspicious: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(500))
    adjusts_commission_id: Mapped[int | None] = mapped_column(ForeignKey("commissions.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    hold_until: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The payout that paid it (status "paid"); see app/settlement.
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"), index=True)


class AttributionError(db.Model):
    """A click token sent with an order or lead that earned no commission, and why."""

    __tablename__ = "attribution_errors"
    __table_args__ = (Index("ix_attribution_errors_merchant", "merchant_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    code: Mapped[str] = mapped_column(String(32))
    conversion_ref: Mapped[str] = mapped_column(String(140))
    # Only ids from a token whose signature verified; never the raw token.
    program_id: Mapped[int | None] = mapped_column(BigInteger)
    affiliate_id: Mapped[int | None] = mapped_column(BigInteger)
    click_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
