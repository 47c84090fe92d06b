"""Orders, refunds and member lookups through the HTTP API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import ledger
import ledger.models
import ledger.types
from tests.factories.names import unique, unique_email
from tests.factories.orders import order_body, record_order

ROUNDING = [(1499, 0), (1500, 10), (2999, 10), (4599, 30), (27400, 180), (33500, 220)]


def refund(client, merchant, order_id, amount_cents, *, refund_id=None):
    body = {"refund_id": refund_id or unique("refund"), "amount_cents": amount_cents}
    return client.post(f"/v1/orders/{order_id}/refunds", json=body, headers=merchant["headers"])


def count_entries(session) -> int:
    # End the read at once: on SQLite every transaction holds the write lock.
    count = session.execute(select(func.count(ledger.models.Entry.id))).scalar_one()
    session.rollback()
    return count


def member(client, merchant, email):
    response = client.get("/v1/members", query_string={"email": email}, headers=merchant["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


@pytest.mark.parametrize(("amount_cents", "points"), ROUNDING)
def test_an_order_earns_10_points_per_full_15_eur(client, merchant, amount_cents, points):
    response = record_order(client, merchant["headers"], amount_cents=amount_cents)

    assert response.status_code == 201
    body = response.get_json()
    assert body["points_earned"] == points
    # A merchant sees the member's coalition-wide figures once an order of its own earned points.
    assert body["points_balance"] == (points or None)


def test_the_earn_rule_is_the_merchants_own(client, new_merchant):
    generous = new_merchant(earn_rule={"points": 3, "per_amount_cents": 100})

    assert record_order(client, generous["headers"], amount_cents=1099).get_json()["points_earned"] == 30


def test_a_refund_recomputes_points_on_the_net_amount(client, merchant):
    email = unique_email()
    placed = record_order(client, merchant["headers"], amount_cents=4599, member_email=email).get_json()

    first = refund(client, merchant, placed["order_id"], 1500)
    rest = refund(client, merchant, placed["order_id"], 3099)

    assert first.status_code == 201
    assert first.get_json()["points_reversed"] == 10
    assert first.get_json()["points_balance"] == 20
    assert first.get_json()["order_net_amount_cents"] == 3099
    assert rest.get_json()["points_reversed"] == 20
    assert member(client, merchant, email)[0]["points_balance"] == 0


def test_a_small_refund_that_keeps_the_full_blocks_reverses_nothing(client, merchant):
    placed = record_order(client, merchant["headers"], amount_cents=4599).get_json()

    response = refund(client, merchant, placed["order_id"], 99)

    assert response.status_code == 201
    assert response.get_json()["points_reversed"] == 0
    assert response.get_json()["points_balance"] == 30


def test_a_refund_beyond_the_order_amount_is_refused_and_changes_nothing(client, merchant):
    placed = record_order(client, merchant["headers"], amount_cents=4599).get_json()
    refund(client, merchant, placed["order_id"], 4000)

    response = refund(client, merchant, placed["order_id"], 600)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "amount_cents" in response.get_json()["errors"]
    again = client.get(f"/v1/orders/{placed['order_id']}", headers=merchant["headers"]).get_json()
    assert again["net_amount_cents"] == 599
    assert again["points_balance"] == 0


def test_replaying_an_order_returns_the_first_answer_without_a_new_entry(client, merchant, session):
    body = order_body(amount_cents=27400)
    first = client.post("/v1/orders", json=body, headers=merchant["headers"])
    entries_before = count_entries(session)

    again = client.post("/v1/orders", json=body, headers=merchant["headers"])

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert count_entries(session) == entries_before


def test_reusing_an_order_id_with_another_body_is_a_conflict(client, merchant):
    placed = record_order(client, merchant["headers"], amount_cents=4599).get_json()

    response = record_order(client, merchant["headers"], amount_cents=4600, order_id=placed["order_id"])

    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/idempotency-conflict"


def test_the_same_order_id_at_two_merchants_is_two_orders(client, new_merchant):
    first, second = new_merchant(), new_merchant()
    order_id = unique("order")

    assert record_order(client, first["headers"], amount_cents=1500, order_id=order_id).status_code == 201
    assert record_order(client, second["headers"], amount_cents=1500, order_id=order_id).status_code == 201


def test_replaying_a_refund_returns_the_first_answer_and_another_body_conflicts(client, merchant):
    placed = record_order(client, merchant["headers"], amount_cents=4599).get_json()
    refund_id = unique("refund")

    first = refund(client, merchant, placed["order_id"], 1500, refund_id=refund_id)
    again = refund(client, merchant, placed["order_id"], 1500, refund_id=refund_id)
    other = refund(client, merchant, placed["order_id"], 1600, refund_id=refund_id)

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.get_json() == first.get_json()
    shown = client.get(f"/v1/orders/{placed['order_id']}", headers=merchant["headers"]).get_json()
    assert (shown["net_amount_cents"], shown["points_balance"]) == (3099, 20)


def test_members_are_one_per_email_trimmed_and_case_insensitive(client, merchant):
    email = unique_email()

    first = record_order(client, merchant["headers"], amount_cents=1500, member_email=email).get_json()
    second = record_order(client, merchant["headers"], amount_cents=1500, member_email=f"  {email.upper()} ").get_json()

    assert first["member_id"] == second["member_id"]
    assert second["points_balance"] == 20
    assert member(client, merchant, f" {email.title()}")[0]["email"] == email


def test_one_balance_across_merchants(client, new_merchant):
    first, second = new_merchant(), new_merchant()
    email = unique_email()
    record_order(client, first["headers"], amount_cents=27400, member_email=email)

    response = record_order(client, second["headers"], amount_cents=33500, member_email=email)

    assert response.get_json()["points_balance"] == 400


def test_an_order_in_another_currency_than_the_merchants_is_refused(client, merchant):
    response = record_order(client, merchant["headers"], amount_cents=1500, currency="USD")

    assert response.status_code == 422
    assert "currency" in response.get_json()["errors"]


def test_refunding_points_already_spent_creates_debt_repaid_by_the_next_earn(client, merchant, session):
    email = unique_email()
    placed = record_order(client, merchant["headers"], amount_cents=4599, member_email=email).get_json()
    hold = ledger.place_hold(
        session,
        member_key=placed["member_id"],
        points=25,
        idempotency_key=unique("hold"),
        ref="test",
        now=ledger.types.utcnow(),
        timeout_s=60,
    )
    ledger.post_hold(session, hold.id, now=ledger.types.utcnow())
    session.commit()

    refunded = refund(client, merchant, placed["order_id"], 4599).get_json()
    later = record_order(client, merchant["headers"], amount_cents=3000, member_email=email).get_json()

    assert refunded["points_reversed"] == 30
    assert refunded["points_to_debt"] == 25
    assert (refunded["points_balance"], refunded["points_debt"]) == (0, 25)
    assert (later["points_earned"], later["points_balance"], later["points_debt"]) == (20, 0, 5)
    settled = record_order(client, merchant["headers"], amount_cents=1500, member_email=email).get_json()
    assert (settled["points_balance"], settled["points_debt"]) == (5, 0)


def test_a_merchant_sees_only_members_who_ordered_from_it(client, new_merchant):
    mine, theirs = new_merchant(), new_merchant()
    email = unique_email()
    record_order(client, theirs["headers"], amount_cents=1500, member_email=email)

    assert member(client, mine, email) == []
    assert member(client, theirs, email)[0]["points_balance"] == 10
    listed = client.get("/v1/members", headers=mine["headers"]).get_json()
    assert all(m["email"] != email for m in listed["data"])


def test_another_merchants_order_is_not_found(client, new_merchant):
    mine, theirs = new_merchant(), new_merchant()
    placed = record_order(client, theirs["headers"], amount_cents=4599).get_json()

    shown = client.get(f"/v1/orders/{placed['order_id']}", headers=mine["headers"])
    refunded = refund(client, mine, placed["order_id"], 100)

    assert shown.status_code == 404
    assert refunded.status_code == 404
    assert refunded.mimetype == "application/problem+json"
    assert client.get(f"/v1/orders/{placed['order_id']}", headers=theirs["headers"]).get_json()["points_net"] == 30


def test_members_are_listed_a_page_at_a_time(client, merchant):
    emails = {unique_email() for _ in range(5)}
    for email in emails:
        record_order(client, merchant["headers"], amount_cents=1500, member_email=email)

    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/members", headers=merchant["headers"], query_string=query).get_json()
        assert len(page["data"]) <= 2
        seen += [m["email"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sorted(seen) == sorted(emails)
