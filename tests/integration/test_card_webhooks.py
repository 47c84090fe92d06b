"""Stripe's events about card subscriptions, signed with the test secret and sent to
``POST /stripe/webhook``: cancellation, failed and successful renewals, each once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.card import services
from ledger.models import Entry
from ledger.types import utcnow
from tests.factories.card import card_row, member_id_of, put_terms, take_card
from tests.factories.names import unique, unique_email
from tests.integration.test_collections import signed
from tests.integration.test_settlement import assert_ledger_ok


@pytest.fixture
def holder(app, engine, stripe_client, client, admin_headers):
    assert put_terms(client, admin_headers).status_code in (200, 201)
    email = unique_email()
    browser, answer = take_card(app, engine, stripe_client, email)
    assert answer.status_code == 303
    member_id = member_id_of(engine, email)
    return {"member_id": member_id, "browser": browser, "card": card_row(engine, member_id)}


def event(kind: str, obj: dict) -> bytes:
    return json.dumps({"id": unique("evt_"), "object": "event", "type": kind, "data": {"object": obj}}).encode()


def deliver(webhook_app, payload: bytes):
    return webhook_app.test_client().post("/stripe/webhook", data=payload, headers=signed(payload))


def subscription_event(card, kind: str, status: str, **extra) -> bytes:
    obj = {"id": card.stripe_subscription_id, "object": "subscription", "customer": card.stripe_customer_id}
    return event(kind, {**obj, "status": status, **extra})


def invoice_event(card, kind: str, *, invoice_id: str, paid: bool, period_end: datetime) -> bytes:
    invoice = {
        "id": invoice_id,
        "object": "invoice",
        "customer": card.stripe_customer_id,
        "subscription": card.stripe_subscription_id,
        "status": "paid" if paid else "open",
        "amount_paid": 4900 if paid else 0,
        "currency": "eur",
        "lines": {"data": [{"period": {"start": int(utcnow().timestamp()), "end": int(period_end.timestamp())}}]},
    }
    return event(kind, invoice)


def card_payments(engine, invoice_id: str) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(Entry).where(Entry.idempotency_key == f"card-payment:{invoice_id}")
        return session.execute(query).scalar_one()


def benefits(engine, member_id: int) -> tuple[str, int]:
    with Session(engine) as session:
        return services.state_of(session, member_id, utcnow())["status"], services.multiplier_bp(
            session, member_id, utcnow()
        )


def test_a_deleted_subscription_cancels_the_card_at_once_and_a_replay_changes_nothing(webhook_app, engine, holder):
    payload = subscription_event(holder["card"], "customer.subscription.deleted", "canceled")

    first = deliver(webhook_app, payload)
    again = deliver(webhook_app, payload)

    assert first.get_json() == {"received": True, "processed": True}
    assert again.get_json() == {"received": True, "processed": False}
    assert benefits(engine, holder["member_id"]) == ("canceled", 0)
    assert 'data-testid="card-status">Ended' in holder["browser"].get("/card").get_data(as_text=True)


def test_an_update_after_the_deletion_does_not_bring_the_card_back(webhook_app, engine, holder):
    card = holder["card"]
    assert (
        deliver(webhook_app, subscription_event(card, "customer.subscription.deleted", "canceled")).status_code == 200
    )

    deliver(webhook_app, subscription_event(card, "customer.subscription.updated", "active"))

    assert benefits(engine, holder["member_id"]) == ("canceled", 0)


@pytest.mark.parametrize("kind", ["invoice.payment_failed", "payment_intent.payment_failed"])
def test_a_failed_renewal_makes_the_card_past_due_and_ends_the_benefits(webhook_app, engine, holder, kind):
    card = holder["card"]
    if kind == "invoice.payment_failed":
        payload = invoice_event(card, kind, invoice_id=unique("in_"), paid=False, period_end=card.renews_at)
    else:
        intent = {"id": unique("pi_"), "object": "payment_intent", "status": "requires_payment_method"}
        payload = event(kind, {**intent, "customer": card.stripe_customer_id, "invoice": unique("in_")})

    answer = deliver(webhook_app, payload)

    assert answer.status_code == 200
    assert benefits(engine, holder["member_id"]) == ("past_due", 0)
    with Session(engine) as session:
        assert services.state_of(session, holder["member_id"], utcnow()) == {"status": "past_due", "renews_at": None}


def test_a_successful_renewal_is_booked_once_and_makes_the_card_active_for_the_new_period(webhook_app, engine, holder):
    card = holder["card"]
    failed = invoice_event(
        card, "invoice.payment_failed", invoice_id=unique("in_"), paid=False, period_end=card.renews_at
    )
    assert deliver(webhook_app, failed).status_code == 200
    invoice_id = unique("in_")
    next_year = card.renews_at + timedelta(days=365)
    paid = invoice_event(card, "invoice.payment_succeeded", invoice_id=invoice_id, paid=True, period_end=next_year)
    also_paid = invoice_event(card, "invoice.paid", invoice_id=invoice_id, paid=True, period_end=next_year)

    first = deliver(webhook_app, paid)
    second = deliver(webhook_app, also_paid)  # another event about the same invoice: booked once

    assert first.status_code == second.status_code == 200
    assert card_payments(engine, invoice_id) == 1
    renewed = card_row(engine, holder["member_id"])
    assert renewed.status == "active"
    assert renewed.renews_at == next_year.replace(microsecond=0)
    assert benefits(engine, holder["member_id"]) == ("active", 15000)
    assert_ledger_ok(engine)


def test_events_about_subscriptions_that_are_not_cards_change_nothing(webhook_app, engine, holder):
    other = {"id": unique("sub_"), "object": "subscription", "customer": unique("cus_"), "status": "canceled"}

    answer = deliver(webhook_app, event("customer.subscription.deleted", other))
    intent = {"id": unique("pi_"), "customer": holder["card"].stripe_customer_id, "status": "requires_payment_method"}
    no_invoice = deliver(webhook_app, event("payment_intent.payment_failed", intent))

    assert answer.get_json()["processed"] is True and no_invoice.status_code == 200
    assert benefits(engine, holder["member_id"]) == ("active", 15000)


def test_an_unsigned_card_event_is_refused(webhook_app, engine, holder):
    payload = subscription_event(holder["card"], "customer.subscription.deleted", "canceled")

    answer = webhook_app.test_client().post("/stripe/webhook", data=payload, headers=signed(payload, secret="wrong"))

    assert answer.status_code == 400
    assert benefits(engine, holder["member_id"]) == ("active", 15000)


def test_the_time_of_a_period_end_is_read_as_utc():
    from app.payments.stripe_gateway import invoice_of

    found = invoice_of({"id": "in_1", "lines": {"data": [{"period": {"end": 1_800_000_000}}]}})

    assert datetime.fromtimestamp(found.period_end, UTC) == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def test_a_past_due_member_cannot_take_a_second_card_beside_the_one_stripe_retries(webhook_app, engine, holder):
    from tests.factories.members import csrf_of

    card = holder["card"]
    failed = invoice_event(
        card, "invoice.payment_failed", invoice_id=unique("in_"), paid=False, period_end=card.renews_at
    )
    assert deliver(webhook_app, failed).status_code == 200
    browser = holder["browser"]
    page = browser.get("/card")

    again = browser.post("/card/checkout", data={"csrf_token": csrf_of(page)})

    assert "renewal payment failed" in page.get_data(as_text=True)
    assert again.status_code == 409 and "trying it again" in again.get_data(as_text=True)
    assert card_row(engine, holder["member_id"]).setup_intent_count == card.setup_intent_count


def test_money_paid_on_an_earlier_subscription_is_booked_and_changes_no_state(webhook_app, engine, holder):
    card = holder["card"]
    assert (
        deliver(webhook_app, subscription_event(card, "customer.subscription.deleted", "canceled")).status_code == 200
    )
    invoice_id = unique("in_")
    payload = json.loads(
        invoice_event(card, "invoice.paid", invoice_id=invoice_id, paid=True, period_end=card.renews_at)
    )
    payload["data"]["object"]["subscription"] = unique("sub_")  # not the card's subscription, the member's customer
    body = json.dumps(payload).encode()

    answer = deliver(webhook_app, body)

    assert answer.status_code == 200
    assert card_payments(engine, invoice_id) == 1
    assert benefits(engine, holder["member_id"]) == ("canceled", 0)
