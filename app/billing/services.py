"""Merchant billing: the Stripe customer the operator collects from, and the payment
method a merchant saves once for off-session charges (the operator's work).

Our side is idempotent by itself, whatever Stripe does with idempotency keys (the
test fake ignores them): each call takes the merchant's billing lock, then reads
what is already recorded, and only calls Stripe for what is missing. The lock is
held across the Stripe call, so a concurrent twin waits and then finds the
customer instead of creating a second one.

A crash (or a lost connection) between Stripe's answer and our commit leaves an
object at Stripe that we did not record. The retry sends the same idempotency key
(``merchant-{id}-customer``, ``merchant-{id}-setup-{n}``), which real Stripe answers
with the first object for 24 hours; after that, or on a fake that ignores keys, the
retry makes a second customer and the first is an orphan carrying
``metadata.merchant_id``, which no statement will ever charge. Setting the default
payment method repeats safely: attaching to the same customer and setting the same
default are no-ops at Stripe.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.billing.errors import BillingNotFound, NoCustomerYet
from app.billing.models import MerchantBilling
from app.billing.schemas import BillingSetupSchema
from app.locks import serialize
from app.merchants.services import get_merchant
from app.payments.stripe_gateway import SetupIntent, StripeGateway
from app.unit_of_work import UnitOfWork

_SETUP_SCHEMA = BillingSetupSchema()


def set_up_billing(uow: UnitOfWork, gateway: StripeGateway, merchant_id: int) -> tuple[dict, bool]:
    """Make sure the merchant has a Stripe customer and an open SetupIntent, and commit;
    returns the answer and whether this call created the customer.

    Two commits: the customer is kept as soon as Stripe made it, so a failure while
    creating the SetupIntent cannot lose it; the next call creates the SetupIntent."""
    created = _claim_customer(uow, gateway, merchant_id)
    serialize(uow.session, _lock(merchant_id))
    billing = get_billing(uow.session, merchant_id)
    intent = _open_setup_intent(uow, gateway, billing)
    answer = _SETUP_SCHEMA.dump(billing) | {"setup_intent_client_secret": intent.client_secret}
    return uow.commit(answer), created


def _claim_customer(uow: UnitOfWork, gateway: StripeGateway, merchant_id: int) -> bool:
    session = uow.session
    serialize(session, _lock(merchant_id))
    merchant = get_merchant(session, merchant_id)
    if _billing(session, merchant.id) is not None:
        uow.commit(None)
        return False
    customer_id = gateway.create_customer(merchant.id, merchant.name)
    session.add(
        MerchantBilling(
            merchant_id=merchant.id,
            stripe_customer_id=customer_id,
            setup_intent_id=None,
            setup_intent_count=0,
            created_at=uow.now,
            updated_at=uow.now,
        )
    )
    uow.commit(None)
    return True


def _open_setup_intent(uow: UnitOfWork, gateway: StripeGateway, billing: MerchantBilling) -> SetupIntent:
    """The merchant's SetupIntent while it can still be confirmed; a fresh one once the
    last succeeded or was canceled (or none was made yet)."""
    if billing.setup_intent_id is not None:
        intent = gateway.setup_intent(billing.setup_intent_id)
        if intent.open:
            return intent
    intent = gateway.create_setup_intent(
        billing.merchant_id, billing.stripe_customer_id, billing.setup_intent_count + 1
    )
    billing.setup_intent_id = intent.id
    billing.setup_intent_count += 1
    billing.updated_at = uow.now
    uow.session.flush()
    return intent


def set_default_payment_method(
    uow: UnitOfWork, gateway: StripeGateway, merchant_id: int, payment_method: str
) -> MerchantBilling:
    """Attach the payment method to the merchant's customer, make it the default for
    off-session charges and record it in the unit's transaction; the caller commits
    (the view's ``idempotent``)."""
    session = uow.session
    serialize(session, _lock(merchant_id))
    merchant = get_merchant(session, merchant_id)
    billing = _billing(session, merchant.id)
    if billing is None:
        raise NoCustomerYet(merchant.id)
    method = gateway.make_default_payment_method(billing.stripe_customer_id, payment_method)
    billing.default_payment_method_id = method.id
    billing.payment_method_kind = method.kind
    billing.payment_method_last4 = method.last4
    billing.payment_method_brand = method.brand
    billing.updated_at = uow.now
    session.flush()
    return billing


def get_billing(session: Session, merchant_id: int) -> MerchantBilling:
    merchant = get_merchant(session, merchant_id)
    billing = _billing(session, merchant.id)
    if billing is None:
        raise BillingNotFound(merchant.id)
    return billing


def _billing(session: Session, merchant_id: int) -> MerchantBilling | None:
    # populate_existing: read the row again after taking the lock, not the session's copy.
    return session.get(MerchantBilling, merchant_id, populate_existing=True)


def _lock(merchant_id: int) -> str:
    return f"billing:m{merchant_id}"
