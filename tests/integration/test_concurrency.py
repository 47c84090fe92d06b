"""Concurrent writers end with exact balances (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from app.settlement.models import Payout
from ledger.models import Entry
from ledger.types import utcnow
from tests.factories.names import unique, unique_email
from tests.factories.orders import order_body, record_order


def run_together(count: int, work):
    """Run ``work(i)`` in ``count`` threads released at the same instant."""
    barrier = threading.Barrier(count)

    def task(i):
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(task, range(count)))


def entries_with_key(engine, key: str) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count(Entry.id)).where(Entry.idempotency_key == key)).scalar_one()


def test_32_threads_ordering_for_one_member_end_with_the_exact_balance(app, merchant, engine):
    email = unique_email()

    def place(i):
        return record_order(app.test_client(), merchant["headers"], order_id=unique(f"par{i}"), member_email=email)

    responses = run_together(32, place)

    assert [r.status_code for r in responses] == [201] * 32
    assert sorted(r.get_json()["points_balance"] for r in responses) == list(range(30, 32 * 30 + 1, 30))
    found = app.test_client().get("/v1/members", query_string={"email": email}, headers=merchant["headers"])
    assert found.get_json()["data"][0]["points_balance"] == 32 * 30
    with Session(engine) as s:
        assert ledger.verify(s).violations == []


def test_16_threads_sending_the_same_order_create_exactly_one_entry(app, merchant, engine):
    order_id = unique("same")
    body = order_body(order_id=order_id, amount_cents=27400)

    responses = run_together(16, lambda i: app.test_client().post("/v1/orders", json=body, headers=merchant["headers"]))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 15 + [201]
    assert len({r.get_data() for r in responses}) == 1
    assert entries_with_key(engine, f"earn:{merchant['id']}:{order_id}") == 1
    assert responses[0].get_json()["points_balance"] == 180


def test_parallel_holds_never_overdraw_a_member(app, merchant, engine):
    email = unique_email()
    placed = record_order(app.test_client(), merchant["headers"], amount_cents=15000, member_email=email).get_json()
    assert placed["points_balance"] == 100

    def hold(i):
        with Session(engine) as s:
            try:
                ledger.place_hold(
                    s,
                    member_key=placed["member_id"],
                    points=10,
                    idempotency_key=unique(f"h{i}"),
                    ref="test",
                    now=utcnow(),
                    timeout_s=600,
                )
                s.commit()
                return "held"
            except ledger.InsufficientPoints:
                s.rollback()
                return "refused"

    outcomes = run_together(24, hold)

    assert outcomes.count("held") == 10
    assert outcomes.count("refused") == 14
    with Session(engine) as s:
        points = ledger.member_points(s, placed["member_id"])
        assert (points.balance, points.held, points.available) == (100, 100, 0)
        assert ledger.verify(s).violations == []


def test_parallel_refunds_of_one_order_never_exceed_it(app, merchant, engine):
    order_id = unique("o")
    record_order(app.test_client(), merchant["headers"], order_id=order_id, amount_cents=4500)

    responses = run_together(
        8,
        lambda i: app.test_client().post(
            f"/v1/orders/{order_id}/refunds",
            json={"refund_id": unique(f"r{i}"), "amount_cents": 1500},
            headers=merchant["headers"],
        ),
    )

    assert sorted(r.status_code for r in responses) == [201] * 3 + [422] * 5
    shown = app.test_client().get(f"/v1/orders/{order_id}", headers=merchant["headers"]).get_json()
    assert (shown["net_amount_cents"], shown["points_net"], shown["points_balance"]) == (0, 0, 0)


@pytest.mark.postgres_only
def test_16_threads_sending_the_same_payout_make_one_payout(app, engine, client, admin_headers, new_merchant):
    from tests.factories.affiliates import build_world
    from tests.integration.test_settlement import approved_sale, cash, payable, statuses

    world = build_world(client, admin_headers, new_merchant)
    amounts = [approved_sale(client, world, 10_000 * (i + 1))["amount_cents"] for i in range(3)]
    cash_before = cash(engine)
    payout_id = unique("same-payout")
    path = f"/v1/affiliates/{world.affiliate['id']}/payouts"
    body = {"payout_id": payout_id, "currency": "EUR", "reference": "T-16"}

    responses = run_together(16, lambda i: app.test_client().post(path, json=body, headers=admin_headers))

    assert sorted(r.status_code for r in responses) == [200] * 15 + [201], [r.get_json() for r in responses]
    assert len({r.get_data() for r in responses}) == 1
    assert responses[0].get_json()["amount_cents"] == sum(amounts)
    assert entries_with_key(engine, f"payout:a{world.affiliate['id']}:{payout_id}") == 1
    with Session(engine) as s:
        payouts = s.execute(select(func.count(Payout.id)).where(Payout.affiliate_id == int(world.affiliate["id"])))
        assert payouts.scalar_one() == 1
        assert ledger.verify(s).violations == []
    assert cash(engine) - cash_before == sum(amounts)
    assert payable(engine, world) == 0
    assert set(statuses(engine, world).values()) == {"paid"}
