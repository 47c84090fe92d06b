from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.constants import STRIPE_ID_LENGTH_MAX
from app.extensions import db
from ledger import UTCDateTime


class MerchantBilling(db.Model):
    """How the operator collects from a merchant: its Stripe customer, the SetupIntent
    it saves a payment method with, and the default payment method once saved.

    The row exists if and only if the customer does (both are made under the
    merchant's billing lock, the row in the same transaction as Stripe's answer)."""

    __tablename__ = "merchant_billing"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(STRIPE_ID_LENGTH_MAX), unique=True)
    # The latest SetupIntent (null when creating it failed after the customer was kept),
    # and how many were created: the next one's idempotency key is merchant-{id}-setup-{count + 1}.
    setup_intent_id: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH_MAX))
    setup_intent_count: Mapped[int] = mapped_column(Integer)
    default_payment_method_id: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH_MAX))
    payment_method_kind: Mapped[str | None] = mapped_column(String(40))
    payment_method_last4: Mapped[str | None] = mapped_column(String(4))
    payment_method_brand: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def status(self) -> str:
        return "setup_required" if self.default_payment_method_id is None else "ready"
