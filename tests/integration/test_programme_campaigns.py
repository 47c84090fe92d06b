"""Campaign bonuses through the order path: their own entries, named in the member's
history, paid by their funder, within a hard budget under concurrency."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from ledger.models import Account, Balance, Entry
from tests.factories.campaigns import start_campaign
from tests.factories.names import unique, unique_email
from tests.factories.orders import order_body, record_order
from tests.integration.test_concurrency import run_together


def balance_of(engine, name: str, asset: str) -> int:
    with Session(engine) as session:
        total = session.execute(
            select(func.coalesce(func.sum(Balance.balance), 0))
            .join(Account, Account.id == Balance.account_id)
            .where(Account.name == name, Account.asset == asset)
        ).scalar_one()
    return int(total)


def test_32_concurrent_orders_award_exactly_a_budget_of_10_bonuses(app, engine, new_merchant):
    shop = new_merchant()
    campaign = start_campaign(
        app.test_client(), shop["headers"], effect={"type": "bonus", "points": 250}, budget_points=2500
    )

    def place(i):
        return record_order(app.test_client(), shop["headers"], order_id=unique(f"c{i}"), member_email=unique_email())

    responses = run_together(32, place)

    assert [r.status_code for r in responses] == [201] * 32
    awarded = [b["points"] for r in responses for b in r.get_json()["bonuses"]]
    assert (len(awarded), sum(awarded)) == (10, 2500)
    shown = app.test_client().get(f"/v1/campaigns/{campaign['id']}", headers=shop["headers"]).get_json()
    assert (shown["points_awarded"], shown["points_remaining"]) == (2500, 0)
    with Session(engine) as session:
        bonus_entries = session.execute(
            select(func.count(Entry.id)).where(Entry.idempotency_key.like(f"earn:{shop['id']}:%:campaign:%"))
        ).scalar_one()
        assert bonus_entries == 10
        assert ledger.verify(session).violations == []


def test_a_double_points_campaign_is_its_own_entry_named_in_the_history_and_paid_by_the_merchant(
    client, engine, new_merchant, admin_headers
):
    shop = new_merchant()
    start_campaign(client, shop["headers"], name="Double points weekend")
    receivable = f"merchant:{shop['id']}:receivable"
    before = balance_of(engine, receivable, "EUR")

    body = order_body(amount_cents=4500)
    order = client.post("/v1/orders", json=body, headers=shop["headers"]).get_json()

    assert (order["points_earned"], order["points_total"]) == (30, 60)
    [bonus] = order["bonuses"]
    assert (bonus["source"], bonus["name"], bonus["points"], bonus["points_net"]) == (
        "campaign",
        "Double points weekend",
        30,
        30,
    )
    assert balance_of(engine, receivable, "EUR") - before == -30  # 60 points at 5.00 EUR per 1000
    with Session(engine) as session:
        history, _ = ledger.member_history(session, order["member_id"], before=None, limit=10)
    assert f"Double points weekend at {shop['name']} (order {body['order_id']})" in {h.memo for h in history}

    refund = {"refund_id": unique("refund"), "amount_cents": 1500}
    answer = client.post(f"/v1/orders/{body['order_id']}/refunds", json=refund, headers=shop["headers"]).get_json()
    got = client.get(f"/v1/orders/{body['order_id']}", headers=shop["headers"]).get_json()
    # 30.00 EUR left: base 20, the doubled extra recomputed on it, 20.
    assert (answer["points_reversed"], got["points_total"], got["bonuses"][0]["points_net"]) == (20, 40, 20)


def test_a_coalition_campaign_is_paid_by_the_operator(client, engine, new_merchant, admin_headers):
    shop = new_merchant()
    tier_free = unique("only-here")  # a category no other test's order has
    start_campaign(
        client,
        admin_headers,
        effect={"type": "bonus", "points": 100},
        conditions={"categories": [tier_free]},
        budget_points=1000,
    )
    programme = balance_of(engine, "platform:programme", "EUR")
    lines = [{"sku": "X", "category": tier_free, "quantity": 1, "amount_cents": 1500}]

    order = client.post("/v1/orders", json=order_body(amount_cents=1500, lines=lines), headers=shop["headers"])

    assert [(b["source"], b["points"]) for b in order.get_json()["bonuses"]] == [("campaign", 100)]
    assert balance_of(engine, "platform:programme", "EUR") - programme == -50
