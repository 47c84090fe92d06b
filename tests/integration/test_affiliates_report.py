"""The affiliate's report: JSON and CSV agree, and reconcile with the ledger."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.orm import Session

from app.clicks import services as clicks
from ledger import accounts
from tests.factories.affiliates import World, build_world, follow, new_affiliate, new_link
from tests.factories.names import unique
from tests.factories.orders import record_order
from tests.integration.test_auth_and_errors import assert_problem


@pytest.fixture
def world(client, admin_headers, new_merchant) -> World:
    """A merchant on shop.example, an affiliate approved for its 8% program, and a link."""
    return build_world(client, admin_headers, new_merchant)


def report(client, world, **query):
    response = client.get("/v1/affiliate/report", query_string=query, headers=world.affiliate["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_report_counts_clicks_orders_leads_and_commissions_per_link(app, client, engine, world):
    second = new_link(client, world.affiliate["headers"], world.program["id"], "https://shop.example/")
    tokens = [world.click(client) for _ in range(3)]
    follow(client, second["code"], ip="198.51.100.9")
    clicks.flush(app)
    approved = record_order(client, world.merchant["headers"], click_token=tokens[0], amount_cents=20_000).get_json()
    rejected = record_order(client, world.merchant["headers"], click_token=tokens[1], amount_cents=10_000).get_json()
    record_order(client, world.merchant["headers"], click_token=tokens[2], amount_cents=5_000)
    client.post(f"/v1/commissions/{approved['commission']['id']}/approve", headers=world.merchant["headers"])
    client.post(
        f"/v1/commissions/{rejected['commission']['id']}/reject",
        json={"reason": "fraud"},
        headers=world.merchant["headers"],
    )

    body = report(client, world, group_by="link")

    rows = {row["key"]: row for row in body["rows"]}
    first = rows[world.link["id"]]
    assert (first["clicks"], first["unique_clicks"], first["orders"], first["leads"]) == (3, 1, 3, 0)
    assert (
        first["commission_approved_cents"],
        first["commission_rejected_cents"],
        first["commission_pending_cents"],
        first["commission_paid_cents"],
    ) == (1_600, 800, 400, 0)
    assert first["conversion_rate"] == 1.0
    assert first["earnings_per_click_cents"] == (1_600 + 400) // 3
    assert (rows[second["id"]]["clicks"], rows[second["id"]]["orders"]) == (1, 0)
    assert body["totals"][0]["clicks"] == 4 and body["totals"][0]["currency"] == "EUR"


def test_the_approved_total_equals_the_affiliates_payable_in_the_ledger(client, engine, world):
    for amount in (10_000, 30_000):
        body = record_order(
            client, world.merchant["headers"], click_token=world.click(client), amount_cents=amount
        ).get_json()
        client.post(f"/v1/commissions/{body['commission']['id']}/approve", headers=world.merchant["headers"])
    client.post(
        f"/v1/orders/{body['order_id']}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 10_000},
        headers=world.merchant["headers"],
    )

    totals = report(client, world, group_by="program")["totals"][0]

    with Session(engine) as session:
        account = accounts.find_account(session, accounts.affiliate_payable_account(world.affiliate["id"]), "EUR")
        in_ledger = accounts.balance(session, account)
    assert totals["commission_approved_cents"] == in_ledger == 800 + 2_400 - 800


def test_the_csv_report_has_the_same_rows_as_the_json(client, world):
    record_order(client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000)
    as_json = report(client, world, group_by="day")["rows"]

    response = client.get(
        "/v1/affiliate/report",
        query_string={"group_by": "day"},
        headers={**world.affiliate["headers"], "Accept": "text/csv"},
    )

    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [{k: str(v) for k, v in row.items()} for row in as_json] == rows


def test_an_affiliate_sees_only_its_own_figures(client, admin_headers, world):
    record_order(client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000)
    stranger = new_affiliate(client, admin_headers)

    response = client.get("/v1/affiliate/report", headers=stranger["headers"])

    assert response.get_json()["rows"] == [] and response.get_json()["totals"] == []


def test_a_bad_report_range_is_refused(client, world):
    for query in (
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"group_by": "hour"},
        {"from": "yesterday"},
        {"surprise": "1"},
    ):
        assert_problem(client.get("/v1/affiliate/report", query_string=query, headers=world.affiliate["headers"]), 422)
