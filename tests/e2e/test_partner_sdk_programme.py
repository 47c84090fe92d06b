"""The SDK's programme calls against a real platform: lines, preview, confirm, the member's four figures."""

from __future__ import annotations

from typing import Any

from partner_sdk import MerchantClient, OrderLine, ValidationError
from tests.e2e.sdk_world import operator_post
from tests.factories.merchants import merchant_body
from tests.factories.names import unique, unique_email

RULE = {
    "points": 10,
    "per_amount_cents": 1500,
    "excluded_categories": ["gift-cards"],
    "category_rates": [{"category": "bikes", "points": 3, "per_amount_cents": 1000}],
}
LINES: list[OrderLine] = [
    {"sku": "BIKE-1", "category": "bikes", "quantity": 1, "amount_cents": 2000},
    {"sku": "GIFT-50", "category": "gift-cards", "quantity": 1, "amount_cents": 2500},
    {"sku": "BOOK-7", "category": "books", "quantity": 2, "amount_cents": 3000},
]


def shop(live_server: Any, **terms: Any) -> MerchantClient:
    created = operator_post(live_server, "/v1/merchants", merchant_body(earn_rule=RULE, **terms))
    return MerchantClient(live_server.url, created["api_key"], max_retries=0)


def test_the_preview_says_what_the_order_then_earns(live_server: Any) -> None:
    client, email = shop(live_server), unique_email()

    preview = client.preview_order(7500, email, lines=LINES)
    order = client.record_order(unique("order"), 7500, email, lines=LINES)

    assert (preview.points_base, preview.points_total) == (26, 26)
    assert {(g.category, g.excluded, g.points) for g in preview.groups} == {
        (None, False, 20),
        ("bikes", False, 6),
        ("gift-cards", True, 0),
    }
    assert (order.points_earned, order.points_total, order.bonuses) == (26, 26, [])
    assert order.raw["lines"] == LINES


def test_lines_that_do_not_sum_raise_a_validation_error(live_server: Any) -> None:
    client = shop(live_server)
    try:
        client.record_order(unique("order"), 7000, unique_email(), lines=LINES)
    except ValidationError as refused:
        assert "lines" in refused.errors
    else:
        raise AssertionError("lines summing to 7500 were accepted for 7000")


def test_points_are_incoming_until_the_merchant_confirms(live_server: Any) -> None:
    client, email = shop(live_server, points_pending_days=14), unique_email()

    order = client.record_order(unique("order"), 4500, email)
    member = client.find_member(email)
    confirmed = client.confirm_order(order.order_id)

    assert order.points_available_at is not None
    assert member is not None
    assert (member.points_balance, member.points_incoming, member.points_available) == (0, 30, 0)
    assert (confirmed.points_available_at, confirmed.points_incoming, confirmed.points_available) == (None, 0, 30)
