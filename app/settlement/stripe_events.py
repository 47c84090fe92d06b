"""Stripe's webhooks about collections (and, through ``app.card.stripe_events``, the
paid card's subscriptions): each verified event is processed once.

``payment_intent.succeeded`` records the collection as succeeded (posting the cash
entry unless the job already did), ``payment_intent.payment_failed`` records a
failure the job did not see (a SEPA debit that failed later). Other types are
acknowledged and ignored. The event id is kept (``stripe_events``) in the same
transaction as its effect, so a replay changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select

from app.card import stripe_events as card_events
from app.converters import ID_DIGITS_MAX
from app.locks import serialize
from app.payments.stripe_gateway import WebhookEvent, payment_of
from app.settlement.collections import record
from app.settlement.models import Collection, Statement, StripeEvent
from app.unit_of_work import UnitOfWork

_HANDLED = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})


def handle(uow: UnitOfWork, event: WebhookEvent) -> bool:
    """Process a verified event once and commit; returns False for a replay."""
    session = uow.session
    serialize(session, f"stripe-event:{event.id}")
    seen = session.execute(select(StripeEvent.id).where(StripeEvent.event_id == event.id)).first()
    if seen is not None:
        uow.commit(None)
        return False
    if event.type in _HANDLED:
        _payment_intent(uow, event.object)
    if event.type in card_events.HANDLED:
        card_events.handle(uow, event)
    session.add(StripeEvent(event_id=event.id, event_type=event.type[:100], received_at=uow.now))
    uow.commit(None)
    return True


def _payment_intent(uow: UnitOfWork, intent: dict) -> None:
    collection = _collection_of(uow, intent)
    if collection is None:
        return  # not one of our collections (another integration on the same account)
    payment = payment_of(intent)
    if payment.status == "failed" and collection.status != "pending":
        return  # the job already recorded this failure, or it succeeded meanwhile
    record(uow, collection, uow.session.get(Statement, collection.statement_id), payment)


def _collection_of(uow: UnitOfWork, intent: dict) -> Collection | None:
    session = uow.session
    query = select(Collection).with_for_update().execution_options(populate_existing=True)
    found = session.execute(query.where(Collection.stripe_payment_intent_id == intent.get("id"))).scalar_one_or_none()
    if found is not None:
        return found
    statement_id = str((intent.get("metadata") or {}).get("statement_id") or "")
    if not statement_id.isdigit() or len(statement_id) > ID_DIGITS_MAX:
        return None
    return session.execute(query.where(Collection.statement_id == int(statement_id))).scalar_one_or_none()
