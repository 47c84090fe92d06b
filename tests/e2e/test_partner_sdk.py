"""The partner SDK against a real platform on loopback (fixtures from tests/conftest.py)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from partner_sdk import (
    AuthenticationError,
    ConflictError,
    MerchantClient,
    NotFound,
    NotFoundError,
    TransportError,
    ValidationError,
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def unique_email() -> str:
    return f"{unique('member')}@example.test"


@pytest.fixture
def client(live_server: Any, new_merchant: Callable[[], dict[str, Any]]) -> MerchantClient:
    merchant = new_merchant()
    return MerchantClient(live_server.url, merchant["api_key"], max_retries=0)


def test_recording_an_order_earns_points_per_the_rule_and_a_replay_returns_the_same_figures(
    client: MerchantClient,
) -> None:
    order_id, email = unique("order"), unique_email()

    first = client.record_order(order_id, 4599, email)
    again = client.record_order(order_id, 4599, email)

    assert (first.order_id, first.points_earned, first.points_balance) == (order_id, 30, 30)
    assert first.replayed is False
    assert again.replayed is True
    assert (again.member_id, again.points_earned, again.points_balance) == (
        first.member_id,
        30,
        30,
    )
    assert again.raw == first.raw


def test_reusing_an_order_id_with_a_different_amount_raises_conflict(
    client: MerchantClient,
) -> None:
    order_id, email = unique("order"), unique_email()
    client.record_order(order_id, 4599, email)

    with pytest.raises(ConflictError) as excinfo:
        client.record_order(order_id, 5000, email)

    assert excinfo.value.status == 409


def test_refunding_1500_cents_of_the_order_reverses_10_points_leaving_20(
    client: MerchantClient,
) -> None:
    order_id, refund_id = unique("order"), unique("refund")
    client.record_order(order_id, 4599, unique_email())

    refund = client.refund(order_id, refund_id, 1500)
    replay = client.refund(order_id, refund_id, 1500)

    assert (refund.refund_id, refund.order_id) == (refund_id, order_id)
    assert (refund.points_reversed, refund.points_balance) == (10, 20)
    assert refund.replayed is False
    assert replay.replayed is True
    assert (replay.points_reversed, replay.points_balance) == (10, 20)


def test_refunding_more_than_the_order_amount_raises_validation_error(
    client: MerchantClient,
) -> None:
    order_id = unique("order")
    client.record_order(order_id, 4599, unique_email())

    with pytest.raises(ValidationError) as excinfo:
        client.refund(order_id, unique("refund"), 4600)

    assert excinfo.value.status == 422


def test_refunding_an_unknown_order_raises_not_found(client: MerchantClient) -> None:
    with pytest.raises(NotFoundError):
        client.refund(unique("no-such-order"), unique("refund"), 100)


def test_a_bad_api_key_raises_authentication_error(live_server: Any) -> None:
    client = MerchantClient(live_server.url, "not-a-real-key", max_retries=0)

    with pytest.raises(AuthenticationError) as excinfo:
        client.record_order(unique("order"), 4599, unique_email())

    assert excinfo.value.status == 401


def test_find_member_returns_the_balance_and_none_for_an_unknown_email(
    client: MerchantClient,
) -> None:
    email = unique_email()
    order = client.record_order(unique("order"), 4599, email)

    member = client.find_member(email)

    assert member is not None
    assert (member.id, member.email) == (order.member_id, email)
    assert member.points_balance == 30
    assert client.find_member(unique_email()) is None


def test_a_negative_amount_raises_validation_error_naming_amount_cents(
    client: MerchantClient,
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        client.record_order(unique("order"), -5, unique_email())

    assert excinfo.value.status == 422
    assert "amount_cents" in excinfo.value.errors


def test_an_unreachable_platform_raises_transport_error_after_retrying() -> None:
    with socket.socket() as probe:  # grab a free port, then release it so nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = MerchantClient(f"http://127.0.0.1:{port}", "any-key", timeout_s=1.0, max_retries=1, backoff_base_s=0.001)

    with pytest.raises(TransportError) as excinfo:
        client.record_order(unique("order"), 4599, unique_email())

    assert excinfo.value.__cause__ is not None


def test_get_order_shows_the_net_amount_and_points_after_a_refund(client: MerchantClient) -> None:
    order_id = unique("order")
    client.record_order(order_id, 4599, unique_email())
    client.refund(order_id, unique("refund"), 1500)

    order = client.get_order(order_id)

    assert (order.amount_cents, order.net_amount_cents, order.points_earned, order.points_net) == (4599, 3099, 30, 20)
    with pytest.raises(NotFound):
        client.get_order(unique("missing"))


def test_members_are_listed_page_by_page_and_iterated_to_the_end(client: MerchantClient) -> None:
    emails = [unique_email() for _ in range(5)]
    for email in emails:
        client.record_order(unique("order"), 1500, email)

    first = client.list_members(limit=2)
    everyone = list(client.iter_members(page_size=2))

    assert len(first.data) == 2 and first.next_cursor is not None
    assert [m.email for m in everyone] == emails
    assert all(m.points_balance == 10 for m in everyone)


def test_webhook_endpoints_are_managed_through_the_sdk(client: MerchantClient) -> None:
    created = client.create_webhook_endpoint("http://127.0.0.1:9/hooks", ["order.points_awarded"])
    endpoint_id = created.endpoint.id

    assert created.secret.startswith("whsec_")
    assert client.get_webhook_endpoint(endpoint_id) == created.endpoint
    changed = client.update_webhook_endpoint(
        endpoint_id, events=["order.refunded", "order.points_awarded"], enabled=False
    )
    assert (changed.events, changed.enabled) == (["order.points_awarded", "order.refunded"], False)
    rotated = client.rotate_webhook_secret(endpoint_id)
    assert rotated.secret != created.secret and rotated.endpoint.previous_secret_expires_at is not None
    assert client.list_webhook_attempts(endpoint_id).data == []
    assert list(client.iter_webhook_attempts(endpoint_id)) == []
    client.delete_webhook_endpoint(endpoint_id)
    with pytest.raises(NotFound):
        client.get_webhook_endpoint(endpoint_id)


def test_webhook_endpoints_are_iterated_over_every_page(client: MerchantClient) -> None:
    ids = [client.create_webhook_endpoint(f"http://127.0.0.1:9/{i}", ["order.refunded"]).endpoint.id for i in range(3)]

    assert [e.id for e in client.iter_webhook_endpoints(page_size=2)] == ids
    assert client.list_webhook_endpoints(limit=2).next_cursor is not None


def test_a_bad_webhook_endpoint_raises_validation_error_naming_its_fields(client: MerchantClient) -> None:
    with pytest.raises(ValidationError) as excinfo:
        client.create_webhook_endpoint("ftp://nope", ["order.unknown"])

    assert excinfo.value.errors["events"][0].startswith("0: Must be one of")


def test_another_merchants_endpoint_is_not_found(live_server: Any, client: MerchantClient, new_merchant) -> None:
    theirs = MerchantClient(live_server.url, new_merchant()["api_key"], max_retries=0)
    endpoint = theirs.create_webhook_endpoint("http://127.0.0.1:9/x", ["order.refunded"]).endpoint

    with pytest.raises(NotFound):
        client.get_webhook_endpoint(endpoint.id)
    with pytest.raises(NotFound):
        client.delete_webhook_endpoint(endpoint.id)
    assert theirs.get_webhook_endpoint(endpoint.id) == endpoint


def test_a_server_that_answers_connection_close_gets_a_new_connection_per_call(client: MerchantClient) -> None:
    # Werkzeug's server closes every connection (keep-alive is shown in test_sdk_keepalive.py):
    # the SDK must follow it rather than reuse a closed connection.
    order_id = unique("order")

    with client:
        client.record_order(order_id, 4599, unique_email())
        client.get_order(order_id)
        client.list_members(limit=1)

    assert client._http.pool.opened == 3
