"""Statements collected through Stripe: the collection each statement opens, the
``collect-statements`` job on localstripe, dunning and the ledger's cash entry."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cli import JOBS, run_batches
from app.payments.stripe_gateway import Payment, StripeGateway
from app.settlement.models import Collection, StripeEvent
from app.unit_of_work import UnitOfWork
from ledger.models import Entry
from ledger.types import utcnow
from tests.conftest import WEBHOOK_SECRET, serve
from tests.factories.billing import billing_path, card, confirmed, set_up
from tests.factories.boutique import redeem, reward
from tests.factories.members import member_with_points
from tests.factories.names import unique
from tests.factories.orders import record_order
from tests.integration.test_settlement import assert_ledger_ok, cash, issue
from tests.integration.test_webhook_events import events_to, subscribe

INSUFFICIENT_FUNDS_CARD = "4000000000000341"  # attaches, then every charge is declined


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
    app, client, engine, admin_headers, merchant, stripe_client
):
    customer_id = ready_billing(client, admin_headers, merchant, stripe_client)
    statement = owed_statement(client, admin_headers, merchant)
    net_cents = statement["collection"]["amount_cents"]
    cash_before = cash(engine)

    assert run_collect(app, engine) >= 1

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

    run_collect(app, engine)

    assert shown(client, merchant, statement["id"]) == collection
    assert len(collection_entries(engine, statement["id"])) == 1
    assert collection_row(engine, statement["id"]).attempts == 1
    assert_ledger_ok(engine)


def test_a_statement_the_operator_owes_needs_no_collection_and_the_job_charges_nothing(
    app, client, engine, admin_headers, merchant, stripe_client
):
    ready_billing(client, admin_headers, merchant, stripe_client)
    # 100 points (0.50 EUR) earned, 60 spent on a lamp the merchant supplies at 3 EUR: it is owed 2.50.
    item = reward(client, merchant, points_price=60, wholesale_value_cents=300)
    _, _, member = member_with_points(app, engine, client, merchant, 15_000)
    assert redeem(member, item["id"]).status_code == 303
    redemption_id = client.get("/v1/redemptions", headers=merchant["headers"]).get_json()["data"][0]["id"]
    assert (
        client.post(f"/v1/redemptions/{redemption_id}/fulfil", json={}, headers=merchant["headers"]).status_code == 200
    )

    statement = issue(client, admin_headers, merchant).get_json()
    run_collect(app, engine)

    assert statement["lines"][0]["net_cents"] == -250
    assert statement["collection"] == {"status": "not_needed", "stripe_payment_intent_id": None, "amount_cents": 0}
    row = collection_row(engine, statement["id"])
    assert (row.status, row.amount_cents, row.attempts) == ("not_needed", -250, 0)
    assert intents_for(stripe_client, statement["id"]) == []


def test_a_merchant_without_a_payment_method_waits_and_nothing_is_charged(app, client, engine, admin_headers, merchant):
    statement = owed_statement(client, admin_headers, merchant)

    run_collect(app, engine)

    row = collection_row(engine, statement["id"])
    assert (row.status, row.attempts, row.stripe_payment_intent_id) == ("pending", 0, None)


def test_a_declined_card_fails_tells_the_merchant_and_is_retried_three_times_in_all(
    app, client, engine, admin_headers, merchant, stripe_client
):
    endpoint = subscribe(client, merchant, ["statement.payment_failed"])
    ready_billing(client, admin_headers, merchant, stripe_client, INSUFFICIENT_FUNDS_CARD)
    statement = owed_statement(client, admin_headers, merchant)
    start = utcnow()

    run_collect(app, engine, at=start)

    row = collection_row(engine, statement["id"])
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "Your card was declined.")
    assert row.next_attempt_at == start + timedelta(days=1)
    assert shown(client, merchant, statement["id"])["status"] == "failed"
    failed = [data for kind, data in events_to(engine, endpoint) if kind == "statement.payment_failed"]
    assert [(d["statement_id"], d["attempts"]) for d in failed] == [(statement["id"], 1)]

    run_collect(app, engine, at=start + timedelta(hours=23))
    assert collection_row(engine, statement["id"]).attempts == 1  # not due yet

    run_collect(app, engine, at=start + timedelta(days=1))
    row = collection_row(engine, statement["id"])
    assert (row.attempts, row.next_attempt_at) == (2, start + timedelta(days=4))

    run_collect(app, engine, at=start + timedelta(days=4))
    run_collect(app, engine, at=start + timedelta(days=30))
    row = collection_row(engine, statement["id"])
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert len(events_to(engine, endpoint)) == 3
    assert collection_entries(engine, statement["id"]) == []
    assert_ledger_ok(engine)


# ----------------------------------------------------------------- Stripe's webhooks


def intent_event(statement_id: str, kind: str = "payment_intent.succeeded", *, intent_id: str | None = None) -> bytes:
    succeeded = kind == "payment_intent.succeeded"
    intent = {
        "id": intent_id or unique("pi_"),
        "object": "payment_intent",
        "status": "succeeded" if succeeded else "requires_payment_method",
        "metadata": {"statement_id": statement_id, "attempt": "1"},
        "last_payment_error": None if succeeded else {"message": "Your card was declined."},
    }
    event = {"id": unique("evt_"), "object": "event", "type": kind, "data": {"object": intent}}
    return json.dumps(event).encode()


def signed(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict:
    timestamp = at if at is not None else int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={mac}", "Content-Type": "application/json"}


def deliver(webhook_app, payload: bytes, headers: dict):
    return webhook_app.test_client().post("/stripe/webhook", data=payload, headers=headers)


def stripe_events_seen(engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(StripeEvent)).scalar_one()


def test_a_signed_payment_intent_succeeded_collects_the_statement_once_even_replayed(
    webhook_app, client, engine, admin_headers, merchant
):
    statement = owed_statement(client, admin_headers, merchant)
    payload = intent_event(statement["id"])

    first = deliver(webhook_app, payload, signed(payload))
    again = deliver(webhook_app, payload, signed(payload))

    assert (first.status_code, first.get_json()) == (200, {"received": True, "processed": True})
    assert (again.status_code, again.get_json()) == (200, {"received": True, "processed": False})
    row = collection_row(engine, statement["id"])
    assert (row.status, row.stripe_payment_intent_id) == ("succeeded", json.loads(payload)["data"]["object"]["id"])
    assert len(collection_entries(engine, statement["id"])) == 1
    assert_ledger_ok(engine)


def test_a_payment_failed_event_fails_a_pending_collection_and_schedules_a_retry(
    webhook_app, client, engine, admin_headers, merchant
):
    statement = owed_statement(client, admin_headers, merchant)
    payload = intent_event(statement["id"], "payment_intent.payment_failed")

    assert deliver(webhook_app, payload, signed(payload)).status_code == 200

    row = collection_row(engine, statement["id"])
    assert (row.status, row.last_error) == ("failed", "Your card was declined.")
    assert row.next_attempt_at is not None
    assert collection_entries(engine, statement["id"]) == []


def test_an_unknown_event_type_is_acknowledged_and_ignored(webhook_app, client, engine, admin_headers, merchant):
    statement = owed_statement(client, admin_headers, merchant)
    payload = intent_event(statement["id"], "charge.refunded")

    response = deliver(webhook_app, payload, signed(payload))

    assert response.status_code == 200
    assert collection_row(engine, statement["id"]).status == "pending"


@pytest.mark.parametrize(
    "headers",
    [
        lambda p: {"Content-Type": "application/json"},
        lambda p: signed(p, secret="whsec_someone_else"),
        lambda p: signed(p, at=int(time.time()) - 301),
        lambda p: {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"},
    ],
    ids=["missing", "wrong-secret", "stale", "garbage"],
)
def test_a_webhook_not_signed_by_stripe_is_a_400_and_changes_nothing(
    webhook_app, client, engine, admin_headers, merchant, headers
):
    statement = owed_statement(client, admin_headers, merchant)
    payload = intent_event(statement["id"])
    seen_before = stripe_events_seen(engine)

    response = deliver(webhook_app, payload, headers(payload))

    assert (response.status_code, response.mimetype) == (400, "application/problem+json")
    assert response.get_json()["type"] == "/problems/bad-request"
    row = collection_row(engine, statement["id"])
    assert (row.status, row.stripe_payment_intent_id) == ("pending", None)
    assert stripe_events_seen(engine) == seen_before


def test_the_operator_lists_failed_collections_and_only_the_operator(
    webhook_app, client, engine, admin_headers, merchant
):
    failed = owed_statement(client, admin_headers, merchant)
    payload = intent_event(failed["id"], "payment_intent.payment_failed")
    assert deliver(webhook_app, payload, signed(payload)).status_code == 200
    pending = owed_statement(client, admin_headers, merchant)

    listed, cursor = [], None
    while True:
        query = {"status": "failed", "limit": 100} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/collections", query_string=query, headers=admin_headers)
        assert page.status_code == 200, page.get_json()
        listed += page.get_json()["data"]
        cursor = page.get_json()["next_cursor"]
        if cursor is None:
            break

    mine = [c for c in listed if c["merchant_id"] == merchant["id"]]
    assert [(c["statement_id"], c["status"], c["attempts"]) for c in mine] == [(failed["id"], "failed", 0)]
    assert mine[0]["last_error"] == "Your card was declined."
    assert all(c["status"] == "failed" for c in listed)
    assert pending["id"] not in {c["statement_id"] for c in listed}
    refused = client.get("/v1/collections", headers=merchant["headers"])
    assert refused.status_code == 401
    bad = client.get("/v1/collections", query_string={"status": "lost"}, headers=admin_headers)
    assert bad.status_code == 422


def test_the_operator_lists_collections_of_every_status_without_a_filter(client, admin_headers, merchant):
    owed = owed_statement(client, admin_headers, merchant)

    page = client.get("/v1/collections", query_string={"limit": 200}, headers=admin_headers)

    assert page.status_code == 200, page.get_json()
    assert page.get_json()["data"], "no collection listed"
    assert owed["id"] in {c["statement_id"] for c in page.get_json()["data"]} or page.get_json()["next_cursor"]


def intents_for(stripe_client, statement_id: str) -> list:
    intents = stripe_client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    return [i for i in intents if i.to_dict()["metadata"].get("statement_id") == statement_id]


def test_an_attempt_cut_short_before_its_outcome_is_never_charged_again_blindly(
    app, client, engine, admin_headers, merchant, stripe_client
):
    ready_billing(client, admin_headers, merchant, stripe_client)
    statement = owed_statement(client, admin_headers, merchant)
    start = utcnow()
    # What a crash right after the claim's commit leaves: an attempt started, no intent recorded.
    with Session(engine) as session:
        row = session.execute(select(Collection).where(Collection.statement_id == int(statement["id"]))).scalar_one()
        row.attempts, row.attempt_started_at, row.next_attempt_at = 1, start, start
        session.commit()

    run_collect(app, engine, at=start + timedelta(minutes=20))

    # localstripe cannot search PaymentIntents: the job cannot know, so it charges nothing and says why.
    row = collection_row(engine, statement["id"])
    assert (row.status, row.attempts) == ("pending", 1)
    assert "search PaymentIntents" in row.last_error
    assert intents_for(stripe_client, statement["id"]) == []
    assert collection_entries(engine, statement["id"]) == []


def test_the_job_runs_from_the_command_line(app, client, admin_headers, merchant, stripe_client):
    ready_billing(client, admin_headers, merchant, stripe_client)
    statement = owed_statement(client, admin_headers, merchant)

    result = app.test_cli_runner().invoke(args=["jobs", "run", "collect-statements"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("collect-statements: ")
    assert shown(client, merchant, statement["id"])["status"] == "succeeded"
    assert len(intents_for(stripe_client, statement["id"])) == 1


def test_a_declined_charge_keeps_the_payment_intent_stripe_names_in_its_error():
    """Real Stripe answers a declined confirmation with a 402 whose error carries the
    PaymentIntent it made (localstripe leaves it out): the attempt keeps its id."""
    declined = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "message": "Your card was declined.",
            "payment_intent": {"id": "pi_declined_1", "object": "payment_intent", "status": "requires_payment_method"},
        }
    }
    seen = []

    def stripe_at_the_boundary(environ, start_response):
        seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        start_response("402 Payment Required", [("Content-Type", "application/json")])
        return [json.dumps(declined).encode()]

    with serve(stripe_at_the_boundary) as url:
        gateway = StripeGateway("sk_test_boundary", url)
        try:
            payment = gateway.collect(
                customer_id="cus_1",
                payment_method_id="pm_1",
                amount_cents=1_000,
                currency="EUR",
                statement_id=7,
                attempt=1,
            )
        finally:
            gateway.close()

    assert seen == [("POST", "/v1/payment_intents")]
    assert payment == Payment(id="pi_declined_1", status="failed", error="Your card was declined.")
