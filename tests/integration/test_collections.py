"""Statements collected through Stripe: the collection each statement opens, the
``collect-statements`` job on localstripe, dunning and the ledger's cash entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cli import JOBS, run_batches
from app.settlement.models import Collection
from app.unit_of_work import UnitOfWork
from ledger.models import Entry
from ledger.types import utcnow
from tests.conftest import make_app
from tests.factories.billing import billing_path, card, confirmed, set_up
from tests.factories.orders import record_order
from tests.integration.test_settlement import assert_ledger_ok, cash, issue
from tests.integration.test_webhook_events import events_to, subscribe

INSUFFICIENT_FUNDS_CARD = "4000000000000341"  # attaches, then every charge is declined


@pytest.fixture(scope="module")
def stripe_app(db_url, stripe_fake):
    application = make_app(db_url, STRIPE_API_BASE=stripe_fake.url, STRIPE_API_KEY=stripe_fake.api_key)
    yield application
    application.extensions["stripe_gateway"].close()
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


@pytest.fixture
def client(stripe_app):
    return stripe_app.test_client()


@pytest.fixture(scope="module")
def stripe_client(stripe_fake):
    return stripe_fake.client()


def ready_billing(client, admin_headers, merchant, stripe_client, number: str = "4242424242424242") -> str:
    setup = set_up(client, admin_headers, merchant["id"]).get_json()
    payment_method = confirmed(stripe_client, setup["setup_intent_id"], card(stripe_client, number))
    saved = client.put(billing_path(merchant["id"]), json={"payment_method": payment_method}, headers=admin_headers)
    assert saved.status_code == 200, saved.get_json()
    return setup["stripe_customer_id"]


def owed_statement(client, admin_headers, merchant) -> dict:
    assert record_order(client, merchant["headers"], amount_cents=30_000).status_code == 201
    statement = issue(client, admin_headers, merchant)
    assert statement.status_code == 201, statement.get_json()
    return statement.get_json()


def run_collect(app, engine, *, at=None) -> int:
    """The collect-statements job, at ``at`` (now by default)."""
    with app.app_context(), UnitOfWork(Session(engine), clock=lambda: at or utcnow()) as uow:
        return run_batches(JOBS["collect-statements"], uow)


def shown(client, merchant, statement_id: str) -> dict:
    return client.get(f"/v1/statements/{statement_id}", headers=merchant["headers"]).get_json()["collection"]


def collection_entries(engine, statement_id: str) -> list[int]:
    with Session(engine) as session:
        return list(
            session.execute(select(Entry.id).where(Entry.ref.like(f"%:collection:statement-{statement_id}"))).scalars()
        )


def collection_row(engine, statement_id: str) -> Collection | None:
    with Session(engine) as session:
        return session.execute(
            select(Collection).where(Collection.statement_id == int(statement_id))
        ).scalar_one_or_none()


def test_a_statement_the_merchant_owes_opens_a_pending_collection_of_its_net(client, engine, admin_headers, merchant):
    assert record_order(client, merchant["headers"], amount_cents=30_000).status_code == 201

    statement = issue(client, admin_headers, merchant).get_json()

    net_cents = statement["lines"][0]["net_cents"]
    assert net_cents > 0
    assert statement["collection"] == {"status": "pending", "stripe_payment_intent_id": None, "amount_cents": net_cents}
    row = collection_row(engine, statement["id"])
    assert (row.status, row.amount_cents, row.currency, row.attempts) == ("pending", net_cents, "EUR", 0)
    assert_ledger_ok(engine)


def test_a_statement_with_nothing_owed_needs_no_collection(client, engine, admin_headers, merchant):
    statement = issue(client, admin_headers, merchant).get_json()

    assert statement["collection"] == {"status": "not_needed", "stripe_payment_intent_id": None, "amount_cents": 0}
    assert collection_row(engine, statement["id"]) is None


def test_a_statement_is_collected_once_through_stripe_and_posts_one_cash_entry(
    stripe_app, client, engine, admin_headers, merchant, stripe_client
):
    customer_id = ready_billing(client, admin_headers, merchant, stripe_client)
    statement = owed_statement(client, admin_headers, merchant)
    net_cents = statement["collection"]["amount_cents"]
    cash_before = cash(engine)

    assert run_collect(stripe_app, engine) >= 1

    collection = shown(client, merchant, statement["id"])
    assert (collection["status"], collection["amount_cents"]) == ("succeeded", net_cents)
    intent = stripe_client.v1.payment_intents.retrieve(collection["stripe_payment_intent_id"])
    assert (intent.status, intent.amount, intent.currency, intent.customer) == (
        "succeeded",
        net_cents,
        "eur",
        customer_id,
    )
    assert intent.to_dict()["metadata"] == {"statement_id": statement["id"], "attempt": "1"}
    assert len(collection_entries(engine, statement["id"])) == 1
    assert cash(engine) == cash_before - net_cents

    run_collect(stripe_app, engine)

    assert shown(client, merchant, statement["id"]) == collection
    assert len(collection_entries(engine, statement["id"])) == 1
    assert collection_row(engine, statement["id"]).attempts == 1
    assert_ledger_ok(engine)


def test_a_merchant_without_a_payment_method_waits_and_nothing_is_charged(
    stripe_app, client, engine, admin_headers, merchant
):
    statement = owed_statement(client, admin_headers, merchant)

    run_collect(stripe_app, engine)

    row = collection_row(engine, statement["id"])
    assert (row.status, row.attempts, row.stripe_payment_intent_id) == ("pending", 0, None)


def test_a_declined_card_fails_tells_the_merchant_and_is_retried_three_times_in_all(
    stripe_app, client, engine, admin_headers, merchant, stripe_client
):
    endpoint = subscribe(client, merchant, ["statement.payment_failed"])
    ready_billing(client, admin_headers, merchant, stripe_client, INSUFFICIENT_FUNDS_CARD)
    statement = owed_statement(client, admin_headers, merchant)
    start = utcnow()

    run_collect(stripe_app, engine, at=start)

    row = collection_row(engine, statement["id"])
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "Your card was declined.")
    assert row.next_attempt_at == start + timedelta(days=1)
    assert shown(client, merchant, statement["id"])["status"] == "failed"
    failed = [data for kind, data in events_to(engine, endpoint) if kind == "statement.payment_failed"]
    assert [(d["statement_id"], d["attempts"]) for d in failed] == [(statement["id"], 1)]

    run_collect(stripe_app, engine, at=start + timedelta(hours=23))
    assert collection_row(engine, statement["id"]).attempts == 1  # not due yet

    run_collect(stripe_app, engine, at=start + timedelta(days=1))
    row = collection_row(engine, statement["id"])
    assert (row.attempts, row.next_attempt_at) == (2, start + timedelta(days=4))

    run_collect(stripe_app, engine, at=start + timedelta(days=4))
    run_collect(stripe_app, engine, at=start + timedelta(days=30))
    row = collection_row(engine, statement["id"])
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert len(events_to(engine, endpoint)) == 3
    assert collection_entries(engine, statement["id"]) == []
    assert_ledger_ok(engine)
