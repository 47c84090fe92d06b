from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.extensions import db
from ledger import BigId, UTCDateTime
from ledger.accounts import REVENUE_FEES
from ledger.models import Account, Entry, Posting


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


# ----------------------------------------------------------------- ledger reads

_ACCOUNTS = Account.__table__
_POSTINGS = Posting.__table__
_ENTRIES = Entry.__table__


def movements(session: Session, account_name: str, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
    """(currency, entry kind, sum of postings) on ``account_name`` for entries made in [start, end)."""
    rows = session.execute(
        select(_POSTINGS.c.asset, _ENTRIES.c.kind, func.sum(_POSTINGS.c.amount))
        .select_from(
            _ENTRIES.join(_POSTINGS, _POSTINGS.c.entry_id == _ENTRIES.c.id).join(
                _ACCOUNTS, _ACCOUNTS.c.id == _POSTINGS.c.account_id
            )
        )
        .where(_ACCOUNTS.c.name == account_name, _ENTRIES.c.created_at >= start, _ENTRIES.c.created_at < end)
        .group_by(_POSTINGS.c.asset, _ENTRIES.c.kind)
    )
    return [(asset, kind, int(total)) for asset, kind, total in rows]


def fees_beside(session: Session, account_name: str, kind: str, start: datetime, end: datetime) -> dict[str, int]:
    """Per currency, what entries of ``kind`` touching ``account_name`` in [start, end) posted to the fee revenue."""
    fee_postings = _POSTINGS.alias("fee_postings")
    fee_accounts = _ACCOUNTS.alias("fee_accounts")
    rows = session.execute(
        select(fee_postings.c.asset, func.sum(fee_postings.c.amount))
        .select_from(
            _ENTRIES.join(_POSTINGS, _POSTINGS.c.entry_id == _ENTRIES.c.id)
            .join(_ACCOUNTS, _ACCOUNTS.c.id == _POSTINGS.c.account_id)
            .join(fee_postings, fee_postings.c.entry_id == _ENTRIES.c.id)
            .join(fee_accounts, fee_accounts.c.id == fee_postings.c.account_id)
        )
        .where(
            _ACCOUNTS.c.name == account_name,
            fee_accounts.c.name == REVENUE_FEES,
            fee_postings.c.asset == _POSTINGS.c.asset,
            _ENTRIES.c.kind == kind,
            _ENTRIES.c.created_at >= start,
            _ENTRIES.c.created_at < end,
        )
        .group_by(fee_postings.c.asset)
    )
    return {asset: int(total) for asset, total in rows}
