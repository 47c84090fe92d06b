"""The members' programme over HTTP: order lines and earning rules, incoming points,
preview, tiers, and what a merchant sees of a member (docs/programme.md)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from app.cli import JOBS, run_batches
from app.unit_of_work import UnitOfWork
from ledger import utcnow
from tests.factories.boutique import redeem, reward
from tests.factories.members import sign_in
from tests.factories.names import unique, unique_email
from tests.factories.orders import order_body, record_order

DOC = Path(__file__).resolve().parents[2] / "docs" / "programme.md"
RULE = {
    "points": 10,
    "per_amount_cents": 1500,
    "excluded_categories": ["gift-cards"],
    "category_rates": [{"category": "bikes", "points": 3, "per_amount_cents": 1000}],
}


def engine_of(app):
    with app.app_context():
        from app.extensions import db

        return db.engine


def run_job(app, name: str, *, at) -> int:
    with app.app_context(), UnitOfWork(Session(engine_of(app)), clock=lambda: at) as uow:
        return run_batches(JOBS[name], uow)


def verify(app) -> list[str]:
    with Session(engine_of(app)) as session:
        return [str(v) for v in ledger.verify(session).violations]


def table_rows(heading: str) -> list[list[str]]:
    """The rows of the first table under ``heading`` in docs/programme.md."""
    text = DOC.read_text()
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows[2:]]


def lines_of(spec: str) -> list[dict]:
    """``bikes 1999 + books 2500`` as order lines."""
    lines = []
    for i, part in enumerate(spec.split("+")):
        category, cents = part.split()
        lines.append({"sku": f"SKU-{i}", "category": category, "quantity": 1, "amount_cents": int(cents)})
    return lines


def member_of(client, merchant, email) -> dict:
    found = client.get("/v1/members", query_string={"email": email}, headers=merchant["headers"]).get_json()["data"]
    return found[0] if found else {}


@pytest.fixture
def shop(new_merchant):
    return new_merchant(earn_rule=RULE)


def test_the_rounding_table_of_the_docs_holds_for_lines(client, shop):
    rows = table_rows("Earning per rate group")
    assert len(rows) >= 5
    for spec, base_group, bikes, excluded, total in rows:
        body = order_body(amount_cents=sum(line["amount_cents"] for line in lines_of(spec)), lines=lines_of(spec))
        answer = client.post("/v1/orders", json=body, headers=shop["headers"]).get_json()
        assert answer["points_earned"] == int(total), (spec, answer)
        preview = client.post("/v1/orders/preview", json=body, headers=shop["headers"]).get_json()
        groups = {g["category"]: g for g in preview["groups"]}
        assert groups.get(None, {"points": 0})["points"] == int(base_group), spec
        assert groups.get("bikes", {"points": 0})["points"] == int(bikes), spec
        assert groups.get("gift-cards", {"amount_cents": 0})["amount_cents"] == int(excluded), spec


def test_lines_must_sum_to_the_amount(client, shop, engine):
    body = order_body(amount_cents=5000, lines=lines_of("books 2000 + bikes 2999"))
    with Session(engine) as session:
        before = session.execute(select(func.count()).select_from(ledger.models.Entry)).scalar_one()

    response = client.post("/v1/orders", json=body, headers=shop["headers"])

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "lines" in response.get_json()["errors"]
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(ledger.models.Entry)).scalar_one() == before


def test_earn_rule_categories_are_validated(client, new_merchant, admin_headers):
    from tests.factories.merchants import merchant_body

    both = {**RULE, "excluded_categories": ["bikes"]}
    twice = {**RULE, "category_rates": RULE["category_rates"] * 2}
    for rule in (both, twice, {**RULE, "excluded_categories": [" padded "]}):
        response = client.post("/v1/merchants", json=merchant_body(earn_rule=rule), headers=admin_headers)
        assert response.status_code == 422, rule
    assert new_merchant(earn_rule=RULE)["earn_rule"] == RULE


def test_a_refund_recomputes_each_rate_group_on_its_share(client, shop):
    body = order_body(amount_cents=6000, lines=lines_of("books 3000 + bikes 2000 + gift-cards 1000"))
    order = client.post("/v1/orders", json=body, headers=shop["headers"]).get_json()
    assert order["points_earned"] == 20 + 6

    refund = {"refund_id": unique("refund"), "amount_cents": 3000}
    answer = client.post(f"/v1/orders/{body['order_id']}/refunds", json=refund, headers=shop["headers"]).get_json()

    # Half is left: books 1500 -> 10 points, bikes 1000 -> 3 points.
    assert answer["points_reversed"] == 26 - 13


def test_preview_equals_what_the_order_earns_and_writes_nothing(client, shop, engine, admin_headers):
    client.put(
        "/v1/tiers",
        json=[{"name": "Silver", "min_spend_cents": 5000, "earn_multiplier_bp": 15000}],
        headers=admin_headers,
    )
    body = order_body(amount_cents=6000, lines=lines_of("books 3000 + bikes 3000"))
    tables = ["ledger_entries", "ledger_postings", "ledger_lots", "orders", "members", "member_tiers", "order_awards"]

    def counts():
        with engine.connect() as connection:
            return {t: connection.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in tables}

    before = counts()
    preview = client.post("/v1/orders/preview", json=body, headers=shop["headers"])
    assert preview.status_code == 200, preview.get_json()
    assert counts() == before

    order = client.post("/v1/orders", json=body, headers=shop["headers"]).get_json()
    preview = preview.get_json()
    assert preview["points_base"] == order["points_earned"] == 20 + 9
    assert (
        [(b["source"], b["points"]) for b in preview["bonuses"]]
        == [(b["source"], b["points"]) for b in order["bonuses"]]
        == [("tier", 14)]
    )
    assert preview["points_total"] == order["points_total"] == 43
    client.put("/v1/tiers", json=[], headers=admin_headers)


def test_a_preview_at_a_shop_with_a_return_window_says_when_the_points_become_available(client, new_merchant):
    shop = new_merchant(points_pending_days=14)
    body = order_body(amount_cents=4500)

    preview = client.post("/v1/orders/preview", json=body, headers=shop["headers"])
    order = client.post("/v1/orders", json=body, headers=shop["headers"]).get_json()

    assert preview.status_code == 200, preview.get_json()
    shown = datetime.fromisoformat(preview.get_json()["points_available_at"])
    assert abs(shown - datetime.fromisoformat(order["points_available_at"])) < timedelta(minutes=1)


def test_incoming_points_wait_out_the_return_window(app, client, new_merchant):
    shop = new_merchant(points_pending_days=14)
    email = unique_email()
    order = record_order(client, shop["headers"], amount_cents=4500, member_email=email).get_json()
    assert order["points_earned"] == 30
    assert order["points_available_at"] is not None
    figures = member_of(client, shop, email)
    assert (figures["points_balance"], figures["points_incoming"], figures["points_available"]) == (0, 30, 0)

    # The jobs run over the whole (shared) database: what counts is this member's figures.
    run_job(app, "release-points", at=utcnow() + timedelta(days=13))
    run_job(app, "expire-points", at=utcnow() + timedelta(days=3000))  # incoming points never expire
    assert member_of(client, shop, email)["points_incoming"] == 30
    assert run_job(app, "release-points", at=utcnow() + timedelta(days=15)) >= 1

    figures = member_of(client, shop, email)
    assert (figures["points_balance"], figures["points_incoming"], figures["points_available"]) == (30, 0, 30)
    got = client.get(f"/v1/orders/{order['order_id']}", headers=shop["headers"]).get_json()
    assert got["points_available_at"] is None
    assert verify(app) == []


def test_confirming_an_order_releases_its_points_at_once(app, client, new_merchant):
    shop = new_merchant(points_pending_days=30)
    email = unique_email()
    order = record_order(client, shop["headers"], amount_cents=3000, member_email=email).get_json()

    confirmed = client.post(f"/v1/orders/{order['order_id']}/confirm", headers=shop["headers"])
    again = client.post(f"/v1/orders/{order['order_id']}/confirm", headers=shop["headers"])

    assert confirmed.status_code == again.status_code == 200
    assert confirmed.get_json()["points_available_at"] is None
    assert (confirmed.get_json()["points_available"], confirmed.get_json()["points_incoming"]) == (20, 0)
    assert again.get_json()["points_available"] == 20
    missing = client.post("/v1/orders/nope/confirm", headers=shop["headers"])
    assert missing.status_code == 404
    assert verify(app) == []


def test_a_refund_inside_the_window_takes_incoming_points_back_without_debt(app, client, new_merchant):
    shop = new_merchant(points_pending_days=14)
    email = unique_email()
    order = record_order(client, shop["headers"], amount_cents=4500, member_email=email).get_json()
    refund = {"refund_id": unique("refund"), "amount_cents": 4500}

    answer = client.post(f"/v1/orders/{order['order_id']}/refunds", json=refund, headers=shop["headers"]).get_json()

    assert (answer["points_reversed"], answer["points_to_debt"]) == (30, 0)
    assert member_of(client, shop, email)["points_incoming"] == 0
    assert run_job(app, "release-points", at=utcnow() + timedelta(days=15)) >= 1  # its empty lot is closed
    assert member_of(client, shop, email)["points_balance"] == 0
    assert verify(app) == []


def test_incoming_points_cannot_be_spent(app, engine, client, new_merchant, merchant):
    shop = new_merchant(points_pending_days=14)
    email = unique_email()
    record_order(client, shop["headers"], amount_cents=30_000, member_email=email)
    item = reward(client, merchant, points_price=100)

    response = redeem(sign_in(app, engine, email), item["id"])

    assert response.status_code == 422
    assert "Not enough points: this reward needs 100, you have 0 available." in response.get_data(as_text=True)
    assert member_of(client, shop, email)["points_held"] == 0


def test_a_merchant_sees_a_member_only_once_an_order_of_its_own_earned_points(client, new_merchant):
    first, second = new_merchant(), new_merchant()
    email = unique_email()
    record_order(client, first["headers"], amount_cents=30_000, member_email=email)

    tiny = record_order(client, second["headers"], amount_cents=1, member_email=email).get_json()

    assert tiny["points_earned"] == 0
    assert all(tiny[k] is None for k in ("points_balance", "points_held", "points_available", "points_incoming"))
    assert member_of(client, second, email) == {}
    assert member_of(client, first, email)["points_balance"] == 200
    earned = record_order(client, second["headers"], amount_cents=1500, member_email=email).get_json()
    assert earned["points_balance"] == 210
    assert member_of(client, second, email)["points_balance"] == 210


def test_tiers_upgrade_at_once_and_downgrade_at_the_yearly_review(app, client, new_merchant, admin_headers):
    levels = [
        {"name": "Silver", "min_spend_cents": 50_000, "earn_multiplier_bp": 12_500},
        {"name": "Gold", "min_spend_cents": 150_000, "earn_multiplier_bp": 15_000},
    ]
    assert client.put("/v1/tiers", json=levels, headers=admin_headers).status_code == 200
    shop = new_merchant()
    email = unique_email()
    try:
        first = record_order(client, shop["headers"], amount_cents=45_000, member_email=email).get_json()
        assert first["bonuses"] == []
        assert member_of(client, shop, email)["tier"]["next"] == {
            "name": "Silver",
            "min_spend_cents": 50_000,
            "missing_cents": 5_000,
        }
        crossing = record_order(client, shop["headers"], amount_cents=15_000, member_email=email).get_json()
        assert [(b["source"], b["name"], b["points"]) for b in crossing["bonuses"]] == [("tier", "Silver tier", 25)]
        assert crossing["points_total"] == 125
        refund = {"refund_id": unique("refund"), "amount_cents": 60_000 - 45_000}
        client.post(f"/v1/orders/{first['order_id']}/refunds", json=refund, headers=shop["headers"])
        assert member_of(client, shop, email)["tier"]["name"] == "Silver"  # kept until the review
        assert run_job(app, "tier-review", at=utcnow() + timedelta(days=366)) >= 1
        assert member_of(client, shop, email)["tier"]["name"] is None
        with Session(engine_of(app)) as session:
            programme = session.execute(
                select(func.sum(ledger.models.Balance.balance))
                .join(ledger.models.Account)
                .where(ledger.models.Account.name == "platform:programme")
            ).scalar_one()
        assert programme < 0  # the operator paid for the tier's points
        assert verify(app) == []
    finally:
        client.put("/v1/tiers", json=[], headers=admin_headers)


@pytest.mark.parametrize(
    "body",
    [
        {"tiers": []},
        [{"name": "A", "min_spend_cents": 100, "earn_multiplier_bp": 9_000}],
        [{"name": "A", "min_spend_cents": 100, "earn_multiplier_bp": 12_000}] * 2,
        [
            {"name": "A", "min_spend_cents": 100, "earn_multiplier_bp": 12_000},
            {"name": "B", "min_spend_cents": 100, "earn_multiplier_bp": 13_000},
        ],
        [{"name": "A", "min_spend_cents": 100}],
    ],
)
def test_bad_tiers_are_refused(client, admin_headers, body):
    response = client.put("/v1/tiers", json=body, headers=admin_headers)
    assert response.status_code == 422, response.get_json()
    assert response.content_type == "application/problem+json"
    assert client.get("/v1/tiers", headers=admin_headers).get_json() == []


def test_only_the_operator_sets_tiers(client, merchant):
    response = client.put("/v1/tiers", json=[], headers=merchant["headers"])
    assert response.status_code in (401, 403)


def test_the_docs_name_every_member_figure():
    text = DOC.read_text()
    for figure in ("points_balance", "points_held", "points_incoming", "points_available"):
        assert re.search(rf"`{figure}`", text), figure


def test_the_points_page_shows_incoming_points_and_the_way_to_the_next_tier(
    app, engine, client, new_merchant, admin_headers
):
    levels = [{"name": "Silver", "min_spend_cents": 50_000, "earn_multiplier_bp": 12_500}]
    assert client.put("/v1/tiers", json=levels, headers=admin_headers).status_code == 200
    try:
        shop = new_merchant(points_pending_days=10)
        email = unique_email()
        record_order(client, shop["headers"], amount_cents=4500, member_email=email)

        page = sign_in(app, engine, email).get("/points").get_data(as_text=True)

        assert 'data-testid="points-incoming">30<' in page
        assert 'data-testid="arrivals"' in page and shop["name"] in page
        assert "455.00 EUR more spend in 12 months reaches <strong>Silver</strong>" in page
    finally:
        client.put("/v1/tiers", json=[], headers=admin_headers)


def test_an_earn_rule_beyond_the_integer_columns_is_refused(client, admin_headers):
    from tests.factories.merchants import merchant_body

    for rule in (
        {"points": 10, "per_amount_cents": 2**31},
        {**RULE, "category_rates": [{"category": "bikes", "points": 3, "per_amount_cents": 2**31}]},
    ):
        response = client.post("/v1/merchants", json=merchant_body(earn_rule=rule), headers=admin_headers)
        assert response.status_code == 422, rule
        assert response.content_type == "application/problem+json"


def test_an_order_that_would_earn_more_than_one_entry_holds_is_refused(client, new_merchant, engine):
    generous = new_merchant(earn_rule={"points": 1_000_000, "per_amount_cents": 1})
    with Session(engine) as session:
        before = session.execute(select(func.count()).select_from(ledger.models.Entry)).scalar_one()

    response = record_order(client, generous["headers"], amount_cents=10_000_000_000)

    assert response.status_code == 422
    assert "amount_cents" in response.get_json()["errors"]
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(ledger.models.Entry)).scalar_one() == before
