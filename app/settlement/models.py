from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.constants import HOLDER_NAME_LENGTH_MAX, IBAN_LENGTH_MAX, PAYOUT_ERROR_LENGTH_MAX, STRIPE_ID_LENGTH_MAX
from app.extensions import db
from ledger import BigId, UTCDateTime

PAYOUT_STATUSES = ("pending", "paid", "failed")
# ``manual``: recorded by the operator after a transfer made elsewhere (POST .../payouts).
PAYOUT_METHODS = ("manual", "stripe_connect", "bank_transfer")


class Payout(db.Model):
    """Money paid to an affiliate (its approved commissions of one currency, netted:
    negative adjustments included) or to a merchant (what a statement says the
    operator owes it). ``pending`` until paid: then its entry moves the payee's
    payable to ``platform:cash`` and, for an affiliate, its commissions become ``paid``."""

    __tablename__ = "payouts"
    __table_args__ = (
        # The caller's payout_id is the idempotency key, per affiliate.
        UniqueConstraint("affiliate_id", "payout_key"),
        CheckConstraint("(affiliate_id IS NULL) <> (merchant_id IS NULL)", name="one_payee"),
        Index("ix_payouts_affiliate", "affiliate_id", "id"),
        Index("ix_payouts_merchant", "merchant_id", "id"),
        Index("ix_payouts_status", "status", "method", "id"),
        Index("ix_payouts_statement", "statement_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    affiliate_id: Mapped[int | None] = mapped_column(ForeignKey("affiliates.id"))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    # The statement a merchant payout pays: one payout per statement that is not ``failed``.
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    payout_key: Mapped[str] = mapped_column(String(120))
    # The fingerprint of the operator's request (manual payouts only).
    request_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(20))
    # Where the money goes, as the payout method said when the payout was made:
    # the Connect account or the IBAN (and the account holder's name).
    destination: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH_MAX))
    holder_name: Mapped[str | None] = mapped_column(String(HOLDER_NAME_LENGTH_MAX))
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    commission_count: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str | None] = mapped_column(String(140))
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH_MAX), unique=True)
    # Set (and committed) before Stripe is asked: a transfer started and not recorded
    # is looked up at Stripe (by its transfer group) before anything is sent again.
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(PAYOUT_ERROR_LENGTH_MAX))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The signed tree head that first included the payout's entry (null before the log existed).
    tree_head_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_tree_heads.id"))

    @property
    def payee(self) -> tuple[str, int]:
        """Whom it pays: ``("affiliate", id)`` or ``("merchant", id)``."""
        if self.affiliate_id is not None:
            return "affiliate", self.affiliate_id
        return "merchant", self.merchant_id


PAYOUT_METHOD_TYPES = ("stripe_connect", "bank_transfer")


class PayoutMethod(db.Model):
    """How the operator pays one affiliate or merchant: a Stripe Connect account or a bank account."""

    __tablename__ = "payout_methods"
    __table_args__ = (CheckConstraint("(affiliate_id IS NULL) <> (merchant_id IS NULL)", name="one_payee"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    affiliate_id: Mapped[int | None] = mapped_column(ForeignKey("affiliates.id"), unique=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), unique=True)
    type: Mapped[str] = mapped_column(String(20))
    stripe_account: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH_MAX))
    iban: Mapped[str | None] = mapped_column(String(IBAN_LENGTH_MAX))
    holder_name: Mapped[str | None] = mapped_column(String(HOLDER_NAME_LENGTH_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
    # The merchant's last statement before it left the coalition, closed at its deactivated_at.
    final: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # A final statement's points still outstanding at issue time (the liability report's
    # figures for the merchant, in its currency); null on the others.
    liability_points_outstanding: Mapped[int | None] = mapped_column(BigInteger)
    liability_value_cents: Mapped[int | None] = mapped_column(BigInteger)
    liability_collected_cents: Mapped[int | None] = mapped_column(BigInteger)

    lines: Mapped[list[StatementLine]] = relationship(
        order_by="StatementLine.currency", lazy="selectin", cascade="all, delete-orphan"
    )
    # None when the statement's net is zero: nothing to collect nor pay.
    collection: Mapped[Collection | None] = relationship(lazy="selectin", uselist=False)
    # Paying the merchant a negative net: the payouts job's attempts, oldest first.
    payouts: Mapped[list[Payout]] = relationship(lazy="selectin", viewonly=True, order_by="Payout.id")

    @property
    def liability(self) -> dict | None:
        if self.liability_value_cents is None:
            return None
        return liability_figures(
            self.liability_points_outstanding or 0, self.liability_value_cents, self.liability_collected_cents or 0
        )

    @property
    def payout(self) -> Payout | None:
        """The latest payout of what the operator owes the merchant, if one was made."""
        return self.payouts[-1] if self.payouts else None

    @property
    def collection_summary(self) -> dict:
        """The collection as the answer shows it: ``not_needed`` and 0 when there is nothing to collect."""
        found = self.collection
        if found is None or found.status == "not_needed":
            return {"status": "not_needed", "stripe_payment_intent_id": None, "amount_cents": 0}
        return {
            "status": found.status,
            "stripe_payment_intent_id": found.stripe_payment_intent_id,
            "amount_cents": found.amount_cents,
        }


def coverage_bp(collected_cents: int, value_cents: int) -> int:
    """The part of ``value_cents`` that ``collected_cents`` backs, in basis points (10000 when nothing is owed)."""
    return 10_000 if value_cents == 0 else collected_cents * 10_000 // value_cents


def liability_figures(points_outstanding: int, value_cents: int, collected_cents: int) -> dict:
    return {
        "points_outstanding": points_outstanding,
        "value_cents": value_cents,
        "collected_cents": collected_cents,
        "coverage_bp": coverage_bp(collected_cents, value_cents),
    }


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


COLLECTION_STATUSES = ("not_needed", "pending", "succeeded", "failed")


class Collection(db.Model):
    """Collecting one statement's net (the merchant's own currency) through Stripe.

    ``pending`` until a PaymentIntent succeeds; ``failed`` with ``next_attempt_at``
    while dunning retries are left, without once they are spent. ``not_needed`` when
    the operator owes the merchant (the ``payouts`` job pays it)."""

    __tablename__ = "statement_collections"
    __table_args__ = (Index("ix_statement_collections_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH_MAX), unique=True)
    attempts: Mapped[int] = mapped_column(Integer)
    # Set (and committed) before Stripe is asked: an attempt started without an intent
    # recorded is looked up at Stripe before anything is charged again.
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    statement: Mapped[Statement] = relationship(lazy="selectin", viewonly=True)

    @property
    def merchant_id(self) -> int:
        return self.statement.merchant_id


class StripeEvent(db.Model):
    """A Stripe webhook event already processed: each event id is handled once."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(STRIPE_ID_LENGTH_MAX), unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
