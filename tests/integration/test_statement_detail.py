"""A statement's lines name the ledger entries they sum, and the same entries come
as CSV, one row per entry and category, summing to the lines."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app.settlement.lines import CATEGORIES, CSV_HEADER
from ledger.models import Entry
from ledger.types import utcnow
from tests.factories.affiliates import World, build_world
from tests.factories.boutique import redeem, reward
from tests.factories.members import member_with_points
from tests.factories.names import unique
from tests.factories.orders import record_order
from tests.integration.test_auth_and_errors import assert_problem
from tests.integration.test_settlement import approved_sale, assert_ledger_ok, issue

CSV_ACCEPT = {"Accept": "text/csv"}


@pytest.fixture
def world(client, admin_headers, new_merchant) -> World:
    return build_world(client, admin_headers, new_merchant)


def busy_period(app, engine, client, world: World) -> None:
    """Earns, a refund, commissions with fees, a negative commission adjustment, a reward
    the merchant supplied redeemed in the boutique, and a collection settling nothing new."""
    merchant = world.merchant
    sale = approved_sale(client, world, 30_000)
    approved_sale(client, world, 15_000)
    refunded = client.post(
        f"/v1/orders/{sale['order_id']}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 15_000},
        headers=merchant["headers"],
    )
    assert refunded.status_code == 201, refunded.get_json()
    assert record_order(client, merchant["headers"], amount_cents=4_599).status_code == 201
    item = reward(client, merchant, points_price=60, wholesale_value_cents=300)
    _, _, member = member_with_points(app, engine, client, merchant, 15_000)
    assert redeem(member, item["id"]).status_code == 303
    redemption_id = client.get("/v1/redemptions", headers=merchant["headers"]).get_json()["data"][0]["id"]
    fulfilled = client.post(f"/v1/redemptions/{redemption_id}/fulfil", json={}, headers=merchant["headers"])
    assert fulfilled.status_code == 200, fulfilled.get_json()
    with Session(engine) as session:
        ledger.post_collection(
            session,
            merchant_key=merchant["id"],
            currency="EUR",
            amount_cents=70,
            collection_key=unique("earlier"),
            now=utcnow(),
        )
        session.commit()


def csv_rows(response) -> list[dict]:
    assert (response.status_code, response.mimetype) == (200, "text/csv"), response.get_data(as_text=True)
    reader = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert tuple(reader.fieldnames or ()) == CSV_HEADER
    return list(reader)


def kinds_of(engine, entry_ids) -> dict[str, str]:
    with Session(engine) as session:
        found = session.execute(select(Entry.id, Entry.kind).where(Entry.id.in_([int(i) for i in entry_ids])))
        return {str(entry_id): kind for entry_id, kind in found}


def test_the_csv_rows_sum_to_the_json_lines_and_name_the_lines_entries(app, client, engine, admin_headers, world):
    busy_period(app, engine, client, world)
    statement = issue(client, admin_headers, world.merchant).get_json()
    (line,) = statement["lines"]

    rows = csv_rows(
        client.get(f"/v1/statements/{statement['id']}", headers={**world.merchant["headers"], **CSV_ACCEPT})
    )

    sums: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        sums[(row["currency"], row["category"])] += int(row["amount_cents"])
    assert {category: sums[("EUR", category)] for category in CATEGORIES} == {
        category: line[f"{category}_cents"] for category in CATEGORIES
    }
    assert line["net_cents"] == sum(
        -amount if category == "rewards_supplied" else amount for (_, category), amount in sums.items()
    )
    # 2 sales, their commissions and adjustment, 1 refund, 2 earns, 1 redemption: not the collection.
    assert line == {
        "currency": "EUR",
        "points_bought_cents": 100 + 50 - 50 + 15 + 50,
        "commissions_cents": 2_400 + 1_200 - 1_200,
        "network_fees_cents": 240 + 120 - 120,
        "rewards_supplied_cents": 300,
        "other_cents": 0,
        "net_cents": 165 + 2_400 + 240 - 300,
        "entry_ids": line["entry_ids"],
    }
    kinds = kinds_of(engine, line["entry_ids"])
    assert sorted(kinds.values()) == sorted(["earn"] * 4 + ["commission"] * 3 + ["clawback", "redeem"])
    assert line["entry_ids"] == sorted(line["entry_ids"], key=int)
    # The log names the same entries: the collection settles an earlier statement.
    assert len(statement["log"]["leaf_indexes"]) == len(line["entry_ids"])
    assert sorted({row["entry_id"] for row in rows}, key=int) == line["entry_ids"]
    assert all(row["statement_id"] == statement["id"] and row["entry_kind"] == kinds[row["entry_id"]] for row in rows)
    commission_rows = [row for row in rows if row["entry_kind"] == "commission"]
    assert sorted(row["category"] for row in commission_rows) == ["commissions"] * 3 + ["network_fees"] * 3
    assert {row["amount_cents"] for row in commission_rows if row["category"] == "network_fees"} == {
        "240",
        "120",
        "-120",
    }
    assert_ledger_ok(engine)


def test_the_operator_reads_a_merchants_statement_as_json_or_csv(client, admin_headers, new_merchant):
    mine, other = new_merchant(), new_merchant()
    record_order(client, mine["headers"], amount_cents=15_000)
    statement = issue(client, admin_headers, mine).get_json()
    theirs = issue(client, admin_headers, other).get_json()
    path = f"/v1/merchants/{mine['id']}/statements/{statement['id']}"

    shown = client.get(path, headers=admin_headers)
    as_csv = client.get(path, headers={**admin_headers, **CSV_ACCEPT})
    merchant_csv = client.get(f"/v1/statements/{statement['id']}", headers={**mine["headers"], **CSV_ACCEPT})

    assert shown.status_code == 200 and shown.get_json() == statement
    assert (statement["final"], statement["liability"]) == (False, None)
    assert as_csv.get_data() == merchant_csv.get_data()
    (row,) = csv_rows(as_csv)
    assert (row["category"], row["entry_kind"], row["amount_cents"]) == ("points_bought", "earn", "50")
    assert [row["entry_id"]] == statement["lines"][0]["entry_ids"]
    assert_problem(client.get(f"/v1/merchants/{mine['id']}/statements/{theirs['id']}", headers=admin_headers), 404)
    assert_problem(client.get(f"/v1/merchants/999999999/statements/{statement['id']}", headers=admin_headers), 404)
    assert client.get(path, headers=mine["headers"]).status_code in (401, 403)


def test_an_empty_statement_has_a_zero_line_without_entries_and_a_csv_header_only(client, admin_headers, merchant):
    statement = issue(client, admin_headers, merchant).get_json()

    rows = csv_rows(client.get(f"/v1/statements/{statement['id']}", headers={**merchant["headers"], **CSV_ACCEPT}))

    assert rows == []
    assert statement["lines"][0]["entry_ids"] == [] and statement["lines"][0]["net_cents"] == 0


def test_listed_statements_name_their_entries_too(client, admin_headers, merchant):
    record_order(client, merchant["headers"], amount_cents=15_000)
    statement = issue(client, admin_headers, merchant).get_json()

    listed = client.get(f"/v1/merchants/{merchant['id']}/statements", headers=admin_headers).get_json()["data"]

    assert listed == [statement] and len(statement["lines"][0]["entry_ids"]) == 1
