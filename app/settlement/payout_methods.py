"""How the operator pays each affiliate and merchant: a Stripe Connect account or a
bank account (set with ``PUT .../payout-method``). The ``payouts`` job pays only
payees that have one; a payout keeps a copy of the method it was made with.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.affiliates.services import get_affiliate
from app.locks import serialize
from app.merchants.services import get_merchant
from app.settlement.errors import PayoutMethodNotSet
from app.settlement.models import PayoutMethod
from app.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Payee:
    """An affiliate or a merchant, as someone the operator pays."""

    kind: str  # "affiliate" | "merchant"
    id: int

    def check_exists(self, session: Session) -> None:
        """Raise the feature's 404 when the payee does not exist."""
        if self.kind == "affiliate":
            get_affiliate(session, self.id)
        else:
            get_merchant(session, self.id)

    @property
    def column(self):
        return PayoutMethod.affiliate_id if self.kind == "affiliate" else PayoutMethod.merchant_id


def set_payout_method(uow: UnitOfWork, payee: Payee, data: dict) -> PayoutMethod:
    """Record how the payee is paid (replacing any earlier method) and commit. A
    payee whose last payout failed is tried again by the next ``payouts`` run."""
    session = uow.session
    payee.check_exists(session)
    serialize(session, f"payout-method:{payee.kind}:{payee.id}")
    method = method_of(session, payee)
    if method is None:
        method = PayoutMethod(created_at=uow.now, **{payee.column.key: payee.id})
        session.add(method)
    method.type = data["type"]
    method.stripe_account = data.get("account")
    method.iban = data.get("iban")
    method.holder_name = data.get("name")
    method.updated_at = uow.now
    session.flush()
    return uow.commit(method)


def get_payout_method(session: Session, payee: Payee) -> PayoutMethod:
    payee.check_exists(session)
    method = method_of(session, payee)
    if method is None:
        raise PayoutMethodNotSet(payee.kind, payee.id)
    return method


def method_of(session: Session, payee: Payee) -> PayoutMethod | None:
    """How the payee is paid, if the operator said so."""
    return session.execute(select(PayoutMethod).where(payee.column == payee.id)).scalar_one_or_none()
