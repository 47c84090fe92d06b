"""A member takes the card: a Stripe customer, a SetupIntent the browser confirms with
Stripe.js (the card number goes to Stripe only), then a subscription on the plan of
the current terms, paid at once. Cancelling stops the renewal: the paid year is kept.

As in merchant billing, our side is idempotent by itself: each step takes the
member's card lock, reads what is recorded and calls Stripe only for what is
missing, with idempotency keys derived from our ids and counters.
"""

from __future__ import annotations

from datetime import UTC, datetime

import ledger
from app.card.errors import CardAlreadyActive, CardPastDue, CardSetupIncomplete, CheckoutNotStarted, NoCard
from app.card.models import CardSubscription
from app.card.services import card_lock, get_terms, holds_benefits
from app.locks import serialize
from app.payments.errors import PaymentMethodDeclined
from app.payments.stripe_gateway import Invoice, SetupIntent, StripeGateway, Subscription
from app.unit_of_work import UnitOfWork


def start_checkout(uow: UnitOfWork, gateway: StripeGateway, member_id: int, email: str) -> SetupIntent:
    """The SetupIntent the member's browser confirms, after making sure the member has
    a Stripe customer; commits. Two commits: the customer is kept as soon as Stripe made it."""
    terms = get_terms(uow.session)
    card = _claim_customer(uow, gateway, member_id, email, terms.id)
    if holds_benefits(card, uow.now):
        raise CardAlreadyActive()
    if card.status == "past_due":
        raise CardPastDue()  # a second subscription beside the one Stripe retries would charge twice
    card.setup_intent_count += 1
    intent = gateway.create_card_setup_intent(member_id, card.stripe_customer_id, card.setup_intent_count)
    card.setup_intent_id = intent.id
    card.updated_at = uow.now
    uow.commit(None)
    return intent


def _claim_customer(
    uow: UnitOfWork, gateway: StripeGateway, member_id: int, email: str, terms_id: int
) -> CardSubscription:
    session = uow.session
    serialize(session, card_lock(member_id))
    card = _card(uow, member_id)
    if card is not None:
        return card
    customer_id = gateway.create_member_customer(member_id, email)
    session.add(
        CardSubscription(
            member_id=member_id,
            terms_id=terms_id,
            stripe_customer_id=customer_id,
            stripe_subscription_id=None,
            status="none",
            setup_intent_id=None,
            setup_intent_count=0,
            subscription_count=0,
            renews_at=None,
            cancel_at_period_end=False,
            spend_cents=0,
            created_at=uow.now,
            updated_at=uow.now,
        )
    )
    uow.commit(None)
    serialize(session, card_lock(member_id))
    return _card(uow, member_id)


def subscribe(uow: UnitOfWork, gateway: StripeGateway, member_id: int, setup_intent_id: str) -> CardSubscription:
    """Subscribe the member with the card their browser confirmed on the checkout's
    SetupIntent, book the first payment and commit."""
    session = uow.session
    serialize(session, card_lock(member_id))
    card = _card(uow, member_id)
    if card is None or card.setup_intent_id is None or card.setup_intent_id != setup_intent_id:
        raise CheckoutNotStarted()
    if holds_benefits(card, uow.now):
        raise CardAlreadyActive()
    intent = gateway.setup_intent(setup_intent_id)
    if intent.status != "succeeded" or intent.payment_method is None or intent.customer != card.stripe_customer_id:
        raise CardSetupIncomplete()
    gateway.make_default_payment_method(card.stripe_customer_id, intent.payment_method)
    terms = get_terms(session)
    card.subscription_count += 1
    found = gateway.subscribe(
        member_id=member_id,
        customer_id=card.stripe_customer_id,
        plan_id=terms.stripe_plan_id,
        number=card.subscription_count,
    )
    if found.status != "active":
        # Not paid at once (the payment failed after all, or needs more): no card. Stripe
        # ends such a subscription itself; the counter is kept for the next attempt's key.
        card.setup_intent_id = None
        uow.commit(None)
        raise PaymentMethodDeclined("Your card was declined: no card was taken. Try another card.")
    card.terms_id = terms.id
    card.stripe_subscription_id = found.id
    card.setup_intent_id = None
    card.spend_cents = 0
    card.status = "none"  # a new subscription: whatever the last one became does not hold it
    record_subscription(uow, card, found)
    if found.latest_invoice is not None:
        record_payment(uow, card, found.latest_invoice)
    uow.commit(None)
    return card


def cancel(uow: UnitOfWork, gateway: StripeGateway, member_id: int) -> CardSubscription:
    """Stop the card renewing, and commit: benefits last until ``renews_at``, when
    Stripe ends the subscription (``customer.subscription.deleted``)."""
    session = uow.session
    serialize(session, card_lock(member_id))
    card = _card(uow, member_id)
    if card is None or card.stripe_subscription_id is None or card.status != "active":
        raise NoCard()
    if not card.cancel_at_period_end:
        record_subscription(uow, card, gateway.cancel_at_period_end(card.stripe_subscription_id))
    uow.commit(None)
    return card


# -- what Stripe says (the answers above and the webhooks) -----------------------------

# Stripe's subscription statuses as the card's; others (incomplete, trialing) change nothing.
_STATUSES = {"active": "active", "past_due": "past_due", "unpaid": "past_due", "canceled": "canceled"}


def record_subscription(uow: UnitOfWork, card: CardSubscription, found: Subscription) -> None:
    """Take Stripe's view of the subscription; a canceled card stays canceled."""
    if card.status == "canceled" and card.stripe_subscription_id == found.id:
        return
    status = _STATUSES.get(found.status)
    if status is not None:
        card.status = status
    if found.current_period_end is not None:
        card.renews_at = _at(found.current_period_end)
    card.cancel_at_period_end = found.cancel_at_period_end
    card.updated_at = uow.now
    uow.session.flush()


def record_payment(uow: UnitOfWork, card: CardSubscription, invoice: Invoice) -> None:
    """A paid invoice of the card: booked once (per invoice id), the card active until
    the end of the period it paid for."""
    if not record_payment_only(uow, card, invoice):
        return
    if card.status == "canceled":
        return  # money for a card already ended is still money in; it gives nothing
    card.status = "active"
    if invoice.period_end is not None:
        paid_until = _at(invoice.period_end)
        if card.renews_at is None or paid_until > card.renews_at:
            card.renews_at = paid_until
    card.updated_at = uow.now
    uow.session.flush()


def record_payment_only(uow: UnitOfWork, card: CardSubscription, invoice: Invoice) -> bool:
    """Book a paid invoice of the member's once (per invoice id); False when nothing was paid."""
    if invoice.status != "paid" or invoice.amount_paid_cents <= 0 or not invoice.id:
        return False
    ledger.post_card_payment(
        uow.session,
        member_key=str(card.member_id),
        payment_key=invoice.id,
        currency=invoice.currency,
        amount_cents=invoice.amount_paid_cents,
        now=uow.now,
    )
    return True


def record_failure(uow: UnitOfWork, card: CardSubscription) -> None:
    """A renewal Stripe could not collect: benefits end until a payment succeeds."""
    if card.status != "active":
        return
    card.status = "past_due"
    card.updated_at = uow.now
    uow.session.flush()


def _card(uow: UnitOfWork, member_id: int) -> CardSubscription | None:
    # populate_existing: read the row again after taking the lock, not the session's copy.
    return uow.session.get(CardSubscription, member_id, with_for_update=True, populate_existing=True)


def _at(unix_s: int) -> datetime:
    return datetime.fromtimestamp(unix_s, UTC)
