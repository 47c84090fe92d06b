"""Collecting a statement end to end on localstripe, its webhooks over real HTTP.

The platform is served on loopback with its own database and registered at
localstripe as a webhook endpoint. After the ``collect-statements`` job charges
a statement, localstripe itself sends the signed ``payment_intent.*`` event
(about a second later) to ``/stripe/webhook``, which verifies and processes it.
A thin middleware keeps each delivery as received, so a test can wait for it
and then replay exactly what localstripe sent.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from io import BytesIO

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.settlement import collections
from app.settlement.models import StripeEvent
from ledger.types import utcnow
from tests.conftest import ADMIN_KEY, make_app, serve
from tests.factories.merchants import auth, create_merchant
from tests.factories.names import unique
from tests.integration.test_collections import (
    INSUFFICIENT_FUNDS_CARD,
    collection_entries,
    collection_row,
    intent_event,
    intents_for,
    owed_statement,
    ready_billing,
    run_collect,
    shown,
    signed,
    stripe_events_seen,
)
from tests.integration.test_settlement import assert_ledger_ok, cash
from tests.integration.test_webhook_events import events_to, subscribe

WEBHOOK_SECRET = "whsec_test_e2e_collections"
WEBHOOK_PATH = "/stripe/webhook"
STRIPE_EVENTS = ["payment_intent.succeeded", "payment_intent.payment_failed"]
# localstripe waits a second before it sends; the rest is slack for a loaded machine.
DELIVERY_TIMEOUT_S = 15.0
POLL_S = 0.05
HTTP_TIMEOUT_S = 10
ADMIN_HEADERS = auth(ADMIN_KEY)


@dataclass
class Delivery:
    """One request to the webhook path as received, and the app's answer once given."""

    headers: dict[str, str]
    body: bytes
    status: int | None = None
    answer: bytes = b""

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class RecordedWebhooks:
    """WSGI middleware: keeps every request to the webhook path, then lets the app answer it.

    localstripe is shared by the whole session and sends each event to every endpoint
    registered with it. An event about a customer this platform did not make comes from
    another test's app (its statement ids overlap ours): it is answered here and never
    reaches the app, as real Stripe would never send another account's events."""

    app: Callable
    customers: set[str] = field(default_factory=set)
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"] != WEBHOOK_PATH:
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = BytesIO(body)
        delivery = Delivery(_headers(environ), body)
        with self._lock:
            self.deliveries.append(delivery)
        if self._foreign(body):
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        status: list[str] = []

        def recording_start_response(line, headers, exc_info=None):
            status.append(line)
            return start_response(line, headers, exc_info)

        answer = self.app(environ, recording_start_response)
        try:
            chunks = b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        with self._lock:
            delivery.status, delivery.answer = int(status[0].split()[0]), chunks
        return [chunks]

    def _foreign(self, body: bytes) -> bool:
        try:
            customer = json.loads(body)["data"]["object"].get("customer")
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
        return customer is not None and customer not in self.customers

    def answered(self, matches: Callable[[dict], bool]) -> list[Delivery]:
        """The deliveries the app has answered whose event ``matches``, waiting up to
        ``DELIVERY_TIMEOUT_S`` for the first one; none by then fails the test."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while True:
            with self._lock:
                found = [d for d in self.deliveries if d.status is not None and matches(d.event)]
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching delivery answered within {DELIVERY_TIMEOUT_S} s")
            time.sleep(POLL_S)


def _headers(environ) -> dict[str, str]:
    named = {key[5:]: value for key, value in environ.items() if key.startswith("HTTP_")}
    named |= {key: environ[key] for key in ("CONTENT_TYPE", "CONTENT_LENGTH") if environ.get(key)}
    return {key.replace("_", "-").title(): value for key, value in named.items()}


@dataclass(frozen=True)
class Platform:
    app: Flask
    url: str
    hooks: RecordedWebhooks

    @property
    def engine(self):
        with self.app.app_context():
            return db.engine


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """POST over HTTP: (status, content type, body), a 4xx included."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get_content_type(), error.read()


def register_at_localstripe(stripe_fake, name: str, url: str, events: list[str]) -> None:
    body = json.dumps({"url": url, "secret": WEBHOOK_SECRET, "events": events}).encode()
    status, _, answer = post(f"{stripe_fake.url}/_config/webhooks/{name}", body, {"Content-Type": "application/json"})
    assert status == 200, answer


@pytest.fixture(scope="module")
def platform(databases, stripe_fake) -> Iterator[Platform]:
    application = make_app(
        databases.new(),
        STRIPE_API_BASE=stripe_fake.url,
        STRIPE_API_KEY=stripe_fake.api_key,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    hooks = RecordedWebhooks(application)
    name = unique("e2e-collections")
    with serve(hooks) as url:
        register_at_localstripe(stripe_fake, name, url + WEBHOOK_PATH, STRIPE_EVENTS)
        try:
            yield Platform(application, url, hooks)
        finally:
            # localstripe cannot remove an endpoint: this one is left listening to no event.
            # It lives in localstripe's memory only, so the next session's fresh one never has it.
            register_at_localstripe(stripe_fake, name, url + WEBHOOK_PATH, [])
    application.extensions["stripe_gateway"].close()
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def client(platform):
    return platform.app.test_client()


@pytest.fixture
def merchant(client) -> dict:
    return create_merchant(client, ADMIN_HEADERS)


def billed(platform, client, merchant, stripe_client, number: str = "4242424242424242") -> str:
    """Billing set up through the API with the card; returns its customer, this platform's."""
    customer_id = ready_billing(client, ADMIN_HEADERS, merchant, stripe_client, number)
    platform.hooks.customers.add(customer_id)
    return customer_id


def intents_of(stripe_client, customer_id: str, statement_id: str) -> list:
    """The customer's PaymentIntents for the statement (other apps' statements share its id)."""
    return [i for i in intents_for(stripe_client, statement_id) if i.customer == customer_id]


def about(kind: str, statement_id: str, attempt: int) -> Callable[[dict], bool]:
    def matches(event: dict) -> bool:
        metadata = event["data"]["object"].get("metadata") or {}
        return event["type"] == kind and metadata == {"statement_id": statement_id, "attempt": str(attempt)}

    return matches


def events_seen(engine, event_id: str) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(StripeEvent).where(StripeEvent.event_id == event_id)
        return session.execute(query).scalar_one()


def test_a_collected_statement_posts_one_cash_entry_and_localstripes_webhook_replayed_changes_nothing(
    platform, client, merchant, stripe_client
):
    engine = platform.engine
    billed(platform, client, merchant, stripe_client)
    statement = owed_statement(client, ADMIN_HEADERS, merchant)
    net_cents = statement["collection"]["amount_cents"]
    cash_before = cash(engine)

    assert run_collect(platform.app, engine) == 1

    [delivery] = platform.hooks.answered(about("payment_intent.succeeded", statement["id"], 1))
    assert (delivery.status, json.loads(delivery.answer)) == (200, {"received": True, "processed": True})
    collection = shown(client, merchant, statement["id"])
    assert (collection["status"], collection["amount_cents"]) == ("succeeded", net_cents)
    assert collection["stripe_payment_intent_id"] == delivery.event["data"]["object"]["id"]
    assert len(collection_entries(engine, statement["id"])) == 1
    assert cash(engine) == cash_before - net_cents
    assert events_seen(engine, delivery.event["id"]) == 1

    replays = [post(platform.url + WEBHOOK_PATH, delivery.body, delivery.headers) for _ in range(2)]

    assert [(status, json.loads(body)) for status, _, body in replays] == [
        (200, {"received": True, "processed": False})
    ] * 2
    assert shown(client, merchant, statement["id"]) == collection
    assert len(collection_entries(engine, statement["id"])) == 1
    assert cash(engine) == cash_before - net_cents
    assert events_seen(engine, delivery.event["id"]) == 1
    assert collection_row(engine, statement["id"]).attempts == 1
    assert_ledger_ok(engine)


def test_localstripes_webhook_collects_a_statement_whose_job_died_after_the_charge(
    platform, client, merchant, stripe_client, monkeypatch
):
    engine = platform.engine
    customer_id = billed(platform, client, merchant, stripe_client)
    statement = owed_statement(client, ADMIN_HEADERS, merchant)
    net_cents = statement["collection"]["amount_cents"]
    cash_before = cash(engine)

    def crash(*args, **kwargs):
        raise RuntimeError("the worker died before recording Stripe's answer")

    # Only the job's own recording dies: the webhook's handler holds the real one.
    monkeypatch.setattr(collections, "record", crash)
    with pytest.raises(RuntimeError):
        run_collect(platform.app, engine)
    monkeypatch.undo()

    [delivery] = platform.hooks.answered(about("payment_intent.succeeded", statement["id"], 1))
    assert (delivery.status, json.loads(delivery.answer)) == (200, {"received": True, "processed": True})
    collection = shown(client, merchant, statement["id"])
    assert collection == {
        "status": "succeeded",
        "stripe_payment_intent_id": delivery.event["data"]["object"]["id"],
        "amount_cents": net_cents,
    }
    assert len(collection_entries(engine, statement["id"])) == 1
    assert cash(engine) == cash_before - net_cents

    # Past the claim's timeout the job finds nothing due: the statement is not charged again.
    assert run_collect(platform.app, engine, at=utcnow() + timedelta(hours=1)) == 0
    for _ in range(2):
        assert post(platform.url + WEBHOOK_PATH, delivery.body, delivery.headers)[0] == 200

    assert len(intents_of(stripe_client, customer_id, statement["id"])) == 1
    assert len(collection_entries(engine, statement["id"])) == 1
    assert cash(engine) == cash_before - net_cents
    assert_ledger_ok(engine)


def test_a_declined_card_fails_tells_the_merchant_and_the_retry_fails_again_collecting_nothing(
    platform, client, merchant, stripe_client
):
    engine = platform.engine
    endpoint = subscribe(client, merchant, ["statement.payment_failed"])
    customer_id = billed(platform, client, merchant, stripe_client, INSUFFICIENT_FUNDS_CARD)
    statement = owed_statement(client, ADMIN_HEADERS, merchant)
    cash_before = cash(engine)
    start = utcnow()

    assert run_collect(platform.app, engine, at=start) == 1

    row = collection_row(engine, statement["id"])
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "Your card was declined.")
    assert row.next_attempt_at == start + timedelta(days=1)
    failed = [data for kind, data in events_to(engine, endpoint) if kind == "statement.payment_failed"]
    assert [(d["statement_id"], d["attempts"], d["error"]) for d in failed] == [
        (statement["id"], 1, "Your card was declined.")
    ]
    # localstripe answers the charge with a 402 and also sends payment_intent.payment_failed.
    [delivery] = platform.hooks.answered(about("payment_intent.payment_failed", statement["id"], 1))
    assert (delivery.status, json.loads(delivery.answer)) == (200, {"received": True, "processed": True})
    assert delivery.event["data"]["object"]["last_payment_error"]["message"] == "Your card was declined."
    row = collection_row(engine, statement["id"])
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "Your card was declined.")
    assert row.next_attempt_at == start + timedelta(days=1)
    assert shown(client, merchant, statement["id"])["status"] == "failed"
    assert len(events_to(engine, endpoint)) == 1

    assert run_collect(platform.app, engine, at=start + timedelta(days=1)) == 1

    [retried] = platform.hooks.answered(about("payment_intent.payment_failed", statement["id"], 2))
    assert retried.status == 200
    row = collection_row(engine, statement["id"])
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 2, start + timedelta(days=4))
    failed = [data for kind, data in events_to(engine, endpoint) if kind == "statement.payment_failed"]
    assert [d["attempts"] for d in failed] == [1, 2]
    assert (
        sorted(i.status for i in intents_of(stripe_client, customer_id, statement["id"]))
        == ["requires_payment_method"] * 2
    )
    assert collection_entries(engine, statement["id"]) == []
    assert cash(engine) == cash_before
    assert_ledger_ok(engine)


def test_a_webhook_with_a_bad_signature_is_refused_by_the_live_server_and_changes_nothing(platform, client, merchant):
    engine = platform.engine
    statement = owed_statement(client, ADMIN_HEADERS, merchant)
    payload = intent_event(statement["id"])
    seen_before = stripe_events_seen(engine)

    status, content_type, body = post(
        platform.url + WEBHOOK_PATH, payload, signed(payload, secret="whsec_someone_else")
    )

    assert (status, content_type) == (400, "application/problem+json")
    assert json.loads(body)["type"] == "/problems/bad-request"
    row = collection_row(engine, statement["id"])
    assert (row.status, row.stripe_payment_intent_id, row.attempts) == ("pending", None, 0)
    assert stripe_events_seen(engine) == seen_before
