from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from ledger import BigId, UTCDateTime


class Payout(db.Model):
    """Money paid to an affiliate: the approved, unpaid commissions of one currency,
    netted (negative adjustments included), posted payable -> cash in one entry."""

    __tablename__ = "payouts"
    __table_args__ = (
        # The caller's payout_id is the idempotency key, per affiliate.
        UniqueConstraint("affiliate_id", "payout_key"),
        Index("ix_payouts_affiliate", "affiliate_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id"))
    payout_key: Mapped[str] = mapped_column(String(120))
    request_hash: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    commission_count: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str | None] = mapped_column(String(140))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The signed tree head that first included the payout's entry (null before the log existed).
    tree_head_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_tree_heads.id"))


class Statement(db.Model):
    """What a merchant and the operator owe each other for one period, read from the
    ledger. Periods of a merchant follow each other without gap or overlap."""

    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("merchant_id", "period_start"),
        UniqueConstraint("merchant_id", "period_end"),
        Index("ix_statements_merchant", "merchant_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The signed tree head the statement was computed at: it includes every entry the lines sum.
    tree_head_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_tree_heads.id"))

    lines: Mapped[list[StatementLine]] = relationship(
        order_by="StatementLine.currency", lazy="selectin", cascade="all, delete-orphan"
    )


class StatementLine(db.Model):
    """One currency of a statement. Positive net: the merchant owes the operator."""

    __tablename__ = "statement_lines"
    __table_args__ = (UniqueConstraint("statement_id", "currency"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"))
    currency: Mapped[str] = mapped_column(String(3))
    points_bought_cents: Mapped[int] = mapped_column(BigInteger)
    commissions_cents: Mapped[int] = mapped_column(BigInteger)
    network_fees_cents: Mapped[int] = mapped_column(BigInteger)
    rewards_supplied_cents: Mapped[int] = mapped_column(BigInteger)
    other_cents: Mapped[int] = mapped_column(BigInteger)
    net_cents: Mapped[int] = mapped_column(BigInteger)
