"""The SDK's record_orders against a real platform: batches, typed results, replays."""

from __future__ import annotations

from typing import Any

import pytest

from partner_sdk import BatchOrder, Conflict, ValidationError
from tests.e2e.sdk_world import new_merchant_client
from tests.factories.names import unique, unique_email


def orders(count: int, email: str) -> list[BatchOrder]:
    return [{"order_id": unique("bo"), "amount_cents": 1500 * (i + 1), "member_email": email} for i in range(count)]


def test_a_list_goes_in_batches_and_comes_back_typed_in_order(live_server: Any) -> None:
    client, email = new_merchant_client(live_server), unique_email()
    sent = orders(7, email)

    results = client.record_orders(sent, batch_size=3)

    assert [r.order_id for r in results] == [o["order_id"] for o in sent]
    assert [r.status for r in results] == [201] * 7
    assert all(r.ok and r.error is None for r in results)
    assert [r.order.points_earned for r in results if r.order] == [10 * (i + 1) for i in range(7)]
    assert results[-1].order and results[-1].order.points_balance == 280
    assert client.find_member(email).points_balance == 280


def test_replays_conflicts_and_invalid_orders_come_back_as_a_single_call_would_raise(live_server: Any) -> None:
    client, email = new_merchant_client(live_server), unique_email()
    first = orders(1, email)[0]
    single = client.record_order(first["order_id"], first["amount_cents"], email)
    conflicting: BatchOrder = {**first, "amount_cents": 9000}
    invalid: BatchOrder = {"order_id": unique("bo"), "amount_cents": 0, "member_email": email}

    replay, conflict, refused = client.record_orders([first, conflicting, invalid])

    assert (replay.status, replay.order, replay.order and replay.order.replayed) == (200, single, True)
    assert conflict.status == 409 and isinstance(conflict.error, Conflict) and conflict.order is None
    assert refused.status == 422 and isinstance(refused.error, ValidationError)
    assert "amount_cents" in refused.error.errors
    again = client.record_orders([first])[0]
    assert again.order == single


def test_a_batch_size_beyond_the_platforms_limit_is_refused_before_sending(live_server: Any) -> None:
    client = new_merchant_client(live_server)

    with pytest.raises(ValueError, match="batch_size"):
        client.record_orders(orders(1, unique_email()), batch_size=501)
