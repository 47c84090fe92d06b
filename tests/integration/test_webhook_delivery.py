"""The outbox delivered to a receiver on loopback: signatures, retries, the log, several workers.

These tests use their own database: the delivery job works on every due
delivery, and the shared database holds endpoints other tests (the fuzzer)
created with URLs nobody listens on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import ledger
from app.constants import WEBHOOK_RETRY_SCHEDULE_S
from app.extensions import db
from app.unit_of_work import UnitOfWork
from app.webhooks.delivery import ATTEMPT_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, deliver_due
from app.webhooks.models import WebhookDelivery
from ledger.types import utcnow
from partner_sdk import verify_webhook
from tests.conftest import ADMIN_KEY, make_app
from tests.factories.merchants import auth, merchant_body
from tests.factories.orders import record_order
from tests.receiver import HANG, Receiver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wh_app(databases):
    application = make_app(databases.new())
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def wh_engine(wh_app):
    with wh_app.app_context():
        return db.engine


@pytest.fixture
def api(wh_app):
    return wh_app.test_client()


@pytest.fixture
def shop(api):
    created = api.post("/v1/merchants", json=merchant_body(), headers=auth(ADMIN_KEY)).get_json()
    return {"id": created["id"], "headers": auth(created["api_key"])}


@pytest.fixture(autouse=True)
def nothing_left_pending(wh_engine):
    """Each test counts its own attempts: retries a test leaves behind are closed after it."""
    yield
    with Session(wh_engine) as s:
        s.execute(update(WebhookDelivery).where(WebhookDelivery.status == "pending").values(status="failed"))
        s.commit()


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def subscribe(api, shop, url, events=("order.points_awarded", "order.refunded")):
    response = api.post("/v1/webhook-endpoints", json={"url": url, "events": list(events)}, headers=shop["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def ordered(api, shop) -> dict:
    response = record_order(api, shop["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliver(engine, now, **options) -> int:
    with UnitOfWork(Session(engine), now=now) as uow:
        return deliver_due(uow, allow_insecure=True, **options)


def drain(engine, now, **options) -> int:
    total = 0
    while made := deliver(engine, now, **options):
        total += made
    return total


def attempts(api, shop, endpoint_id):
    page = api.get(f"/v1/webhook-endpoints/{endpoint_id}/attempts?limit=200", headers=shop["headers"])
    assert page.status_code == 200
    return page.get_json()["data"]


def test_a_recorded_order_is_delivered_signed_and_logged(api, shop, receiver, wh_engine):
    endpoint = subscribe(api, shop, receiver.url)
    order = ordered(api, shop)

    assert drain(wh_engine, utcnow()) == 1

    [got] = receiver.received
    assert got.headers["Content-Type"] == "application/json"
    event = verify_webhook(got.body, got.headers[SIGNATURE_HEADER], endpoint["secret"])
    assert event.type == "order.points_awarded"
    assert event.id == got.headers[EVENT_ID_HEADER]
    assert (event.data["order_id"], event.data["points_earned"]) == (order["order_id"], 30)
    assert json.loads(got.body)["owner"] == {"kind": "merchant", "id": shop["id"]}
    [logged] = attempts(api, shop, endpoint["id"])
    assert (logged["outcome"], logged["status_code"], logged["number"]) == ("delivered", 200, 1)
    assert logged["id"] == got.headers[ATTEMPT_ID_HEADER]
    assert logged["event_id"] == event.id
    assert logged["duration_ms"] >= 0 and logged["next_attempt_at"] is None
    assert drain(wh_engine, utcnow() + timedelta(days=2)) == 0


def test_receiver_errors_and_timeouts_are_retried_with_backoff_until_delivered(api, shop, receiver, wh_engine):
    endpoint = subscribe(api, shop, receiver.url)
    receiver.answer(500, HANG)
    ordered(api, shop)
    now = utcnow()

    assert deliver(wh_engine, now) == 1
    assert deliver(wh_engine, now + timedelta(seconds=WEBHOOK_RETRY_SCHEDULE_S[0] * 0.8)) == 0
    assert deliver(wh_engine, now + timedelta(seconds=WEBHOOK_RETRY_SCHEDULE_S[0] * 1.2), timeout_s=0.5) == 1
    assert deliver(wh_engine, now + timedelta(hours=1)) == 1

    logged = attempts(api, shop, endpoint["id"])
    assert [a["outcome"] for a in logged] == ["retry", "retry", "delivered"]
    assert [a["status_code"] for a in logged] == [500, None, 200]
    assert logged[0]["error"] == "HTTP 500"
    assert "timed out" in logged[1]["error"]
    assert logged[0]["next_attempt_at"] is not None
    assert len({a["event_id"] for a in logged}) == 1
    assert len(receiver.received) == 3


def test_a_delivery_that_keeps_failing_gives_up_after_about_a_day(api, shop, receiver, wh_engine):
    endpoint = subscribe(api, shop, receiver.url)
    receiver.answer(*[503] * 20)
    ordered(api, shop)
    now = start = utcnow()

    for _ in range(len(WEBHOOK_RETRY_SCHEDULE_S) + 3):
        deliver(wh_engine, now)
        now += timedelta(hours=7)

    logged = attempts(api, shop, endpoint["id"])
    assert len(logged) == len(WEBHOOK_RETRY_SCHEDULE_S) + 1
    assert [a["outcome"] for a in logged] == ["retry"] * len(WEBHOOK_RETRY_SCHEDULE_S) + ["failed"]
    with Session(wh_engine) as s:
        delivery = s.execute(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == int(endpoint["id"]))
        ).scalar_one()
    assert delivery.status == "failed"
    assert timedelta(hours=20) < delivery.finished_at - start < timedelta(days=3)


def test_a_redirect_is_not_a_delivery(api, shop, receiver, wh_engine):
    endpoint = subscribe(api, shop, receiver.url)
    receiver.answer(302)
    ordered(api, shop)

    deliver(wh_engine, utcnow())

    [logged] = attempts(api, shop, endpoint["id"])
    assert (logged["outcome"], logged["status_code"]) == ("retry", 302)


def test_an_unreachable_endpoint_is_logged_as_an_error(api, shop, wh_engine):
    with Receiver() as gone:
        url = gone.url
    endpoint = subscribe(api, shop, url)
    ordered(api, shop)

    deliver(wh_engine, utcnow())

    [logged] = attempts(api, shop, endpoint["id"])
    assert logged["outcome"] == "retry" and logged["status_code"] is None
    assert logged["error"]


def test_after_a_rotation_deliveries_verify_with_either_secret(api, shop, receiver, wh_engine):
    endpoint = subscribe(api, shop, receiver.url)
    rotated = api.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=shop["headers"]).get_json()
    ordered(api, shop)

    drain(wh_engine, utcnow())

    [got] = receiver.received
    header = got.headers[SIGNATURE_HEADER]
    assert header.count("v1=") == 2
    assert verify_webhook(got.body, header, rotated["secret"]).type == "order.points_awarded"
    assert verify_webhook(got.body, header, endpoint["secret"]).type == "order.points_awarded"


def test_after_the_grace_period_only_the_new_secret_signs(api, shop, receiver, wh_engine):
    endpoint = subscribe(api, shop, receiver.url)
    api.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=shop["headers"])
    ordered(api, shop)

    drain(wh_engine, utcnow() + timedelta(days=2))

    [got] = receiver.received
    assert got.headers[SIGNATURE_HEADER].count("v1=") == 1


def test_a_disabled_endpoint_gets_nothing_until_enabled_again(api, shop, receiver, wh_engine):
    endpoint = subscribe(api, shop, receiver.url)
    ordered(api, shop)
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    api.patch(path, json={"enabled": False}, headers=shop["headers"])

    assert drain(wh_engine, utcnow()) == 0
    api.patch(path, json={"enabled": True}, headers=shop["headers"])
    assert drain(wh_engine, utcnow()) == 1


def test_attempts_are_listed_to_their_owner_only(api, shop, receiver, wh_engine):
    other = api.post("/v1/merchants", json=merchant_body(), headers=auth(ADMIN_KEY)).get_json()
    mine = subscribe(api, shop, receiver.url)
    theirs = api.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url, "events": ["order.points_awarded"]},
        headers=auth(other["api_key"]),
    ).get_json()
    ordered(api, shop)

    drain(wh_engine, utcnow())

    assert len(attempts(api, shop, mine["id"])) == 1
    assert api.get(f"/v1/webhook-endpoints/{mine['id']}/attempts", headers=auth(other["api_key"])).status_code == 404
    assert (
        api.get(f"/v1/webhook-endpoints/{theirs['id']}/attempts", headers=auth(other["api_key"])).get_json()["data"]
        == []
    )


def test_the_attempt_log_is_paginated(api, shop, receiver, wh_engine):
    endpoint = subscribe(api, shop, receiver.url)
    for _ in range(3):
        ordered(api, shop)
    drain(wh_engine, utcnow())

    first = api.get(f"/v1/webhook-endpoints/{endpoint['id']}/attempts?limit=2", headers=shop["headers"]).get_json()
    rest = api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/attempts?limit=2&cursor={first['next_cursor']}",
        headers=shop["headers"],
    ).get_json()

    assert len(first["data"]) == 2 and len(rest["data"]) == 1 and rest["next_cursor"] is None


def test_an_attempt_left_in_flight_by_a_dead_worker_is_abandoned_and_tried_again(api, shop, receiver, wh_engine):
    from app.webhooks.delivery import claim_due

    endpoint = subscribe(api, shop, receiver.url)
    ordered(api, shop)
    now = utcnow()
    with UnitOfWork(Session(wh_engine), now=now) as uow:
        assert len(claim_due(uow, batch=10, lease_s=60)) == 1  # claimed, never posted

    assert deliver(wh_engine, now + timedelta(seconds=30)) == 0  # still leased
    assert deliver(wh_engine, now + timedelta(seconds=61)) == 1

    assert [a["outcome"] for a in attempts(api, shop, endpoint["id"])] == ["abandoned", "delivered"]
    assert len(receiver.received) == 1


def test_several_workers_deliver_every_attempt_exactly_once(api, shop, receiver, wh_engine):
    subscribe(api, shop, receiver.url)
    orders = 40
    for _ in range(orders):
        ordered(api, shop)
    workers = 4
    barrier = threading.Barrier(workers)
    made: list[int] = []
    errors: list[BaseException] = []

    def work():
        try:
            barrier.wait()
            made.append(drain(wh_engine, utcnow(), batch=3))
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(made) == orders
    per_attempt = Counter(r.headers[ATTEMPT_ID_HEADER] for r in receiver.received)
    per_event = Counter(r.headers[EVENT_ID_HEADER] for r in receiver.received)
    assert len(per_attempt) == orders and set(per_attempt.values()) == {1}
    assert len(per_event) == orders and set(per_event.values()) == {1}
    with Session(wh_engine) as s:
        assert ledger.verify(s).violations == []


def test_the_one_shot_job_delivers_what_is_due(wh_app, api, shop, receiver):
    subscribe(api, shop, receiver.url)
    ordered(api, shop)
    ordered(api, shop)

    result = wh_app.test_cli_runner().invoke(args=["jobs", "run", "deliver-webhooks"])

    assert result.exit_code == 0, result.output
    assert "deliver-webhooks: 2" in result.output
    assert len(receiver.received) == 2


def test_the_worker_delivers_as_events_arrive_and_stops_cleanly_on_sigterm(wh_app, api, shop, receiver):
    subscribe(api, shop, receiver.url)
    env = {
        **os.environ,
        "DATABASE_URL": wh_app.config["SQLALCHEMY_DATABASE_URI"],
        "LOYALTY_ADMIN_KEY": ADMIN_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--poll-interval-s", "0.05"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "worker started"
        ordered(api, shop)
        for _ in range(600):  # bounded poll: the worker delivers on its own
            if receiver.received:
                break
            time.sleep(0.05)
        assert len(receiver.received) == 1
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0
    assert "worker stopped" in output
