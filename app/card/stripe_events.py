"""Stripe's events about card subscriptions, dispatched by ``app.settlement.stripe_events``
(which verifies them and records each event id once, in the same transaction).

- ``customer.subscription.deleted``: the card is ``canceled``, benefits end at once;
- ``customer.subscription.updated``: Stripe's status and period taken as they are;
- ``invoice.payment_failed``, and ``payment_intent.payment_failed`` for an invoice's
  payment: a renewal not collected, the card is ``past_due``, benefits end;
- ``invoice.payment_succeeded`` / ``invoice.paid``: the payment booked once per
  invoice (``ledger.post_card_payment``), the card ``active`` until the period paid for.

An event about a subscription or customer that is not a member's card changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select

from app.card import subscriptions
from app.card.models import CardSubscription
from app.card.services import card_lock
from app.locks import serialize
from app.payments.stripe_gateway import Invoice, WebhookEvent, invoice_of, subscription_of
from app.unit_of_work import UnitOfWork

HANDLED = frozenset(
    {
        "customer.subscription.deleted",
        "customer.subscription.updated",
        "invoice.payment_failed",
        "invoice.payment_succeeded",
        "invoice.paid",
        "payment_intent.payment_failed",
    }
)


def handle(uow: UnitOfWork, event: WebhookEvent) -> None:
    """Apply one verified event to the card it is about; the caller commits."""
    if event.type.startswith("customer.subscription."):
        found = subscription_of(event.object)
        card = _card(uow, CardSubscription.stripe_subscription_id == found.id)
        if card is None:
            return
        if event.type == "customer.subscription.deleted":
            card.status = "canceled"
            card.updated_at = uow.now
            uow.session.flush()
        else:
            subscriptions.record_subscription(uow, card, found)
    elif event.type.startswith("invoice."):
        _invoice(uow, event.type, invoice_of(event.object))
    elif event.type == "payment_intent.payment_failed":
        intent = event.object
        customer = intent.get("customer")
        if not intent.get("invoice") or not isinstance(customer, str):
            return  # not a subscription's payment (a statement's collection, say)
        card = _card(uow, CardSubscription.stripe_customer_id == customer)
        if card is not None:
            subscriptions.record_failure(uow, card)


def _invoice(uow: UnitOfWork, kind: str, invoice: Invoice) -> None:
    card = None
    if invoice.subscription:
        card = _card(uow, CardSubscription.stripe_subscription_id == invoice.subscription)
    if card is None:
        # A member's earlier subscription (or one made elsewhere): money in is still booked, the card unchanged.
        if invoice.customer and kind != "invoice.payment_failed":
            earlier = _card(uow, CardSubscription.stripe_customer_id == invoice.customer)
            if earlier is not None:
                subscriptions.record_payment_only(uow, earlier, invoice)
        return
    if kind == "invoice.payment_failed":
        subscriptions.record_failure(uow, card)
    else:
        subscriptions.record_payment(uow, card, invoice)


def _card(uow: UnitOfWork, where) -> CardSubscription | None:
    session = uow.session
    member_id = session.execute(select(CardSubscription.member_id).where(where)).scalar_one_or_none()
    if member_id is None:
        return None
    serialize(session, card_lock(member_id))
    return session.get(CardSubscription, member_id, with_for_update=True, populate_existing=True)
