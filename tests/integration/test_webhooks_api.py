"""Merchants manage webhook endpoints; orders and refunds write events to the outbox."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.constants import WEBHOOK_ENDPOINTS_PER_OWNER_MAX
from app.errors import Invalid
from app.webhooks.models import WebhookEvent
from app.webhooks.services import check_url, emit
from ledger.types import utcnow
from tests.factories.names import unique, unique_email
from tests.factories.orders import record_order
from tests.factories.webhooks import ENDPOINT_URL, FakeDns, deliveries_to, register_endpoint
from tests.integration.test_auth_and_errors import assert_problem

URL = ENDPOINT_URL


def create(client, merchant, **body):
    return register_endpoint(client, merchant["headers"], **body)


def test_creating_an_endpoint_shows_its_secret_once(client, merchant):
    created = create(client, merchant, events=["order.refunded", "order.points_awarded", "order.refunded"])

    assert created.status_code == 201
    body = created.get_json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ["order.points_awarded", "order.refunded"]
    assert body["enabled"] is True
    shown = client.get(f"/v1/webhook-endpoints/{body['id']}", headers=merchant["headers"]).get_json()
    assert "secret" not in shown
    assert shown["url"] == URL
    listed = client.get("/v1/webhook-endpoints", headers=merchant["headers"]).get_json()
    assert [e["id"] for e in listed["data"]] == [body["id"]]
    assert "secret" not in listed["data"][0]


def test_an_endpoint_can_be_changed_disabled_and_deleted(client, merchant):
    endpoint = create(client, merchant).get_json()
    path = f"/v1/webhook-endpoints/{endpoint['id']}"

    changed = client.patch(
        path, json={"url": URL + "/v2", "events": ["order.refunded"], "enabled": False}, headers=merchant["headers"]
    )

    assert changed.status_code == 200
    assert (changed.get_json()["url"], changed.get_json()["events"], changed.get_json()["enabled"]) == (
        URL + "/v2",
        ["order.refunded"],
        False,
    )
    assert client.patch(path, json={}, headers=merchant["headers"]).status_code == 422
    assert client.delete(path, headers=merchant["headers"]).status_code == 204
    assert client.get(path, headers=merchant["headers"]).status_code == 404


def test_rotating_the_secret_returns_a_new_one_and_opens_a_grace_period(client, merchant):
    endpoint = create(client, merchant).get_json()

    rotated = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=merchant["headers"])

    assert rotated.status_code == 201
    assert rotated.get_json()["secret"] != endpoint["secret"]
    assert rotated.get_json()["previous_secret_expires_at"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://hooks.shop.example/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://user:pw@hooks.shop.example/"}, "url"),
        ({"url": "https://hooks.shop.example:99999/"}, "url"),
        ({"url": "https://" + "a" * 2050 + ".example/"}, "url"),
        ({"events": ["order.unknown"]}, "events"),
        ({"events": []}, "events"),
        ({"events": "order.refunded"}, "events"),
        ({"secret": "mine"}, "secret"),
    ],
)
def test_bad_endpoints_are_refused_with_the_field_named_and_nothing_written(client, merchant, engine, body, field):
    response = create(client, merchant, **body)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    listed = client.get("/v1/webhook-endpoints", headers=merchant["headers"]).get_json()
    assert listed["data"] == []


@pytest.mark.parametrize(
    "url",
    ["http://hooks.shop.example/", "https://127.0.0.1/", "https://localhost/x", "https://10.0.0.8/", "https://[::1]/"],
)
def test_production_refuses_http_and_private_hosts(url):
    with pytest.raises(Invalid):
        check_url(url, allow_insecure=False)
    check_url(url, allow_insecure=True)


def test_production_accepts_https_to_a_public_host(monkeypatch):
    FakeDns().install(monkeypatch).answers["hooks.shop.example"] = ["93.184.216.34"]
    check_url("https://hooks.shop.example/loyalty?x=1", allow_insecure=False)


def test_an_owner_has_at_most_the_named_number_of_endpoints(client, new_merchant):
    merchant = new_merchant()
    for _ in range(WEBHOOK_ENDPOINTS_PER_OWNER_MAX):
        assert create(client, merchant).status_code == 201

    refused = create(client, merchant)

    assert refused.status_code == 422


def test_concurrent_creates_never_pass_the_endpoint_limit(app, new_merchant):
    import threading

    merchant = new_merchant()
    attempts = WEBHOOK_ENDPOINTS_PER_OWNER_MAX + 6
    start = threading.Barrier(attempts)
    statuses: list[int] = []

    def one() -> None:
        client = app.test_client()
        start.wait()
        statuses.append(create(client, merchant).status_code)

    threads = [threading.Thread(target=one) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] * WEBHOOK_ENDPOINTS_PER_OWNER_MAX + [422] * 6


def test_another_merchant_cannot_see_or_touch_an_endpoint(client, new_merchant):
    owner, other = new_merchant(), new_merchant()
    endpoint = create(client, owner).get_json()
    path = f"/v1/webhook-endpoints/{endpoint['id']}"

    assert client.get(path, headers=other["headers"]).status_code == 404
    assert client.patch(path, json={"enabled": False}, headers=other["headers"]).status_code == 404
    assert client.delete(path, headers=other["headers"]).status_code == 404
    assert client.post(path + "/rotate-secret", headers=other["headers"]).status_code == 404
    assert client.get(path + "/attempts", headers=other["headers"]).status_code == 404
    assert client.get("/v1/webhook-endpoints", headers=other["headers"]).get_json()["data"] == []
    assert client.get(path, headers=owner["headers"]).get_json()["enabled"] is True


def test_an_idempotency_key_replays_the_create_and_refuses_another_body(client, merchant):
    headers = {**merchant["headers"], "Idempotency-Key": unique("key")}
    body = {"url": URL, "events": ["order.refunded"]}

    first = client.post("/v1/webhook-endpoints", json=body, headers=headers)
    again = client.post("/v1/webhook-endpoints", json=body, headers=headers)
    other = client.post("/v1/webhook-endpoints", json={**body, "url": URL + "/x"}, headers=headers)

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.get_json() == first.get_json()
    assert len(client.get("/v1/webhook-endpoints", headers=merchant["headers"]).get_json()["data"]) == 1


def test_an_idempotency_key_replays_a_rotation_with_the_same_secret(client, merchant):
    endpoint = create(client, merchant).get_json()
    headers = {**merchant["headers"], "Idempotency-Key": unique("key")}
    path = f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret"

    first = client.post(path, headers=headers)
    again = client.post(path, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["secret"] == first.get_json()["secret"]


@pytest.mark.parametrize("key", ["", "a" * 251, "with space", "é"])
def test_a_malformed_idempotency_key_is_refused(client, merchant, key):
    response = client.post(
        "/v1/webhook-endpoints",
        json={"url": URL, "events": ["order.refunded"]},
        headers={**merchant["headers"], "Idempotency-Key": key},
    )

    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["errors"]


def test_orders_and_refunds_write_one_event_per_subscribed_endpoint(client, new_merchant, engine):
    merchant, other = new_merchant(), new_merchant()
    both = create(client, merchant, events=["order.points_awarded", "order.refunded"]).get_json()
    refunds_only = create(client, merchant, events=["order.refunded"]).get_json()
    disabled = create(client, merchant, enabled=False).get_json()
    elsewhere = create(client, other).get_json()
    order_id = unique("o")

    assert record_order(client, merchant["headers"], order_id=order_id).status_code == 201
    refund = client.post(
        f"/v1/orders/{order_id}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 1500},
        headers=merchant["headers"],
    )

    assert refund.status_code == 201
    assert [t for t, _ in deliveries_to(engine, both["id"])] == ["order.points_awarded", "order.refunded"]
    assert [t for t, _ in deliveries_to(engine, refunds_only["id"])] == ["order.refunded"]
    assert deliveries_to(engine, disabled["id"]) == []
    assert deliveries_to(engine, elsewhere["id"]) == []
    _, body = deliveries_to(engine, both["id"])[0]
    assert f'"order_id":"{order_id}"' in body and '"points_earned":30' in body


def test_a_replayed_or_refused_order_writes_no_event(client, merchant, engine):
    endpoint = create(client, merchant).get_json()
    order_id = unique("o")
    email = unique_email()

    assert record_order(client, merchant["headers"], order_id=order_id, member_email=email).status_code == 201
    assert record_order(client, merchant["headers"], order_id=order_id, member_email=email).status_code == 200
    assert record_order(client, merchant["headers"], currency="USD").status_code == 422

    assert len(deliveries_to(engine, endpoint["id"])) == 1


def test_an_event_emitted_in_a_rolled_back_transaction_leaves_nothing(client, merchant, engine):
    endpoint = create(client, merchant).get_json()

    with Session(engine) as s:
        public_id = emit(s, "merchant", int(merchant["id"]), "order.points_awarded", {"x": 1}, now=utcnow())
        assert public_id is not None
        s.rollback()

    with Session(engine) as s:
        events = s.execute(select(func.count()).select_from(WebhookEvent).where(WebhookEvent.public_id == public_id))
        assert events.scalar_one() == 0
    assert deliveries_to(engine, endpoint["id"]) == []


def test_emit_refuses_an_event_outside_the_catalog(session):
    with pytest.raises(ValueError):
        emit(session, "merchant", 1, "order.invented", {}, now=utcnow())


def test_attempts_of_a_new_endpoint_are_an_empty_page(client, merchant):
    endpoint = create(client, merchant).get_json()

    page = client.get(f"/v1/webhook-endpoints/{endpoint['id']}/attempts", headers=merchant["headers"])

    assert page.get_json() == {"data": [], "next_cursor": None}


def test_the_endpoint_list_is_paginated(client, new_merchant):
    merchant = new_merchant()
    ids = [create(client, merchant).get_json()["id"] for _ in range(3)]

    first = client.get("/v1/webhook-endpoints?limit=2", headers=merchant["headers"]).get_json()
    second = client.get(
        f"/v1/webhook-endpoints?limit=2&cursor={first['next_cursor']}", headers=merchant["headers"]
    ).get_json()

    assert [e["id"] for e in first["data"] + second["data"]] == ids
    assert second["next_cursor"] is None


def test_a_delete_retried_with_its_idempotency_key_answers_as_the_first_time(client, merchant):
    endpoint = create(client, merchant).get_json()
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    headers = {**merchant["headers"], "Idempotency-Key": unique("key")}

    first = client.delete(path, headers=headers)
    again = client.delete(path, headers=headers)
    without_key = client.delete(path, headers=merchant["headers"])

    assert (first.status_code, again.status_code, without_key.status_code) == (204, 204, 404)


def test_an_idempotency_key_replays_an_update_once_and_refuses_another_body(client, merchant):
    endpoint = create(client, merchant).get_json()
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    headers = {**merchant["headers"], "Idempotency-Key": unique("key")}

    first = client.patch(path, json={"url": URL + "/v2"}, headers=headers)
    client.patch(path, json={"enabled": False}, headers=merchant["headers"])
    again = client.patch(path, json={"url": URL + "/v2"}, headers=headers)
    other = client.patch(path, json={"url": URL + "/v3"}, headers=headers)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json() == first.get_json()
    assert_problem(other, 409)
    assert other.get_json()["type"] == "/problems/idempotency-conflict"
    # The replay changed nothing: the later disable still holds.
    shown = client.get(path, headers=merchant["headers"]).get_json()
    assert (shown["url"], shown["enabled"]) == (URL + "/v2", False)


def test_an_idempotency_key_of_one_rotation_refuses_a_rotation_of_another_endpoint(client, merchant):
    mine, other = create(client, merchant).get_json(), create(client, merchant).get_json()
    headers = {**merchant["headers"], "Idempotency-Key": unique("key")}

    first = client.post(f"/v1/webhook-endpoints/{mine['id']}/rotate-secret", headers=headers)
    refused = client.post(f"/v1/webhook-endpoints/{other['id']}/rotate-secret", headers=headers)

    assert first.status_code == 201
    assert_problem(refused, 409)
    assert (
        client.get(f"/v1/webhook-endpoints/{other['id']}", headers=merchant["headers"]).get_json()[
            "previous_secret_expires_at"
        ]
        is None
    )


def test_an_idempotency_key_of_one_delete_refuses_the_delete_of_another_endpoint(client, merchant):
    mine, other = create(client, merchant).get_json(), create(client, merchant).get_json()
    headers = {**merchant["headers"], "Idempotency-Key": unique("key")}

    first = client.delete(f"/v1/webhook-endpoints/{mine['id']}", headers=headers)
    refused = client.delete(f"/v1/webhook-endpoints/{other['id']}", headers=headers)

    assert first.status_code == 204
    assert_problem(refused, 409)
    assert client.get(f"/v1/webhook-endpoints/{other['id']}", headers=merchant["headers"]).status_code == 200


def test_an_idempotency_key_belongs_to_one_operation(client, merchant):
    headers = {**merchant["headers"], "Idempotency-Key": unique("key")}
    created = client.post("/v1/webhook-endpoints", json={"url": URL, "events": ["order.refunded"]}, headers=headers)

    rotated = client.post(f"/v1/webhook-endpoints/{created.get_json()['id']}/rotate-secret", headers=headers)

    assert created.status_code == 201
    assert_problem(rotated, 409)
