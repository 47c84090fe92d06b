"""The backed points report: points outstanding per issuing merchant, their value,
and the part of it backed by money the operator received (lots earned in a settled
statement's period).

The report covers every merchant of the shared database: tests read their own
merchants' rows and check the totals against all rows."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

import ledger
from app.settlement.models import Collection
from ledger.types import utcnow
from tests.conftest import ADMIN_KEY
from tests.factories.boutique import redeem, reward
from tests.factories.members import member_with_points
from tests.factories.merchants import auth, create_merchant
from tests.factories.names import unique
from tests.factories.orders import record_order
from tests.integration.test_auth_and_errors import assert_problem

ADMIN = auth(ADMIN_KEY)


def report(client) -> dict:
    answer = client.get("/v1/reports/liability", headers=ADMIN)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    ids = [row["merchant_id"] for row in body["merchants"]]
    assert ids == sorted(ids, key=lambda found: (found is None, int(found or 0)))
    currencies = sorted({row["currency"] for row in body["merchants"]})
    assert [total["currency"] for total in body["total"]] == currencies
    for total in body["total"]:
        rows = [row for row in body["merchants"] if row["currency"] == total["currency"]]
        for name in ("points_outstanding", "value_cents", "collected_cents"):
            assert total[name] == sum(row[name] for row in rows)
        value_cents = total["value_cents"]
        assert total["coverage_bp"] == (
            10_000 if value_cents == 0 else total["collected_cents"] * 10_000 // value_cents
        )
    return body


def rows_of(body: dict, *shops) -> list[dict]:
    ids = [shop["id"] for shop in shops]
    return [row for row in body["merchants"] if row["merchant_id"] in ids]


def statement(client, shop) -> dict:
    issued = client.post(
        f"/v1/merchants/{shop['id']}/statements", json={"period_end": utcnow().isoformat()}, headers=ADMIN
    )
    assert issued.status_code == 201, issued.get_json()
    return issued.get_json()


def collection_ends(engine, statement_id: str, status: str) -> None:
    """What the collect-statements job records once Stripe answered."""
    with Session(engine) as session:
        session.execute(update(Collection).where(Collection.statement_id == int(statement_id)).values(status=status))
        session.commit()


def earn(client, shop, amount_cents: int) -> None:
    assert record_order(client, shop["headers"], amount_cents=amount_cents).status_code == 201


def test_only_lots_earned_in_a_settled_statements_period_are_collected(app, engine):
    client = app.test_client()
    paid, failing, netted, quiet = (create_merchant(client, ADMIN) for _ in range(4))
    # paid: 200 points (1 EUR) in a statement collected, then 100 points (0.50 EUR) after it.
    earn(client, paid, 30_000)
    collection_ends(engine, statement(client, paid)["id"], "succeeded")
    earn(client, paid, 15_000)
    # failing: 100 points in a statement whose collection failed, 100 in one still pending.
    earn(client, failing, 15_000)
    collection_ends(engine, statement(client, failing)["id"], "failed")
    earn(client, failing, 15_000)
    assert statement(client, failing)["collection"]["status"] == "pending"
    # netted: 200 points (1 EUR), 60 of them spent on its own 3 EUR reward: it is owed, nothing to collect.
    item = reward(client, netted, points_price=60, wholesale_value_cents=300)
    _, _, member = member_with_points(app, engine, client, netted, 30_000)
    redeemed = redeem(member, item["id"])
    assert redeemed.status_code == 303, redeemed.get_data(as_text=True)
    redemption_id = client.get("/v1/redemptions", headers=netted["headers"]).get_json()["data"][0]["id"]
    client.post(f"/v1/redemptions/{redemption_id}/fulfil", json={}, headers=netted["headers"])
    assert statement(client, netted)["collection"]["status"] == "not_needed"
    # quiet: a statement with nothing in it, and no points.
    statement(client, quiet)

    body = report(client)

    assert rows_of(body, paid, failing, netted, quiet) == [
        row(paid, points=300, value=150, collected=100, coverage=6_666),
        row(failing, points=200, value=100, collected=0, coverage=0),
        row(netted, points=140, value=70, collected=70, coverage=10_000),
    ]


def row(shop, *, points, value, collected, coverage) -> dict:
    return {
        "merchant_id": shop["id"],
        "currency": "EUR",
        "points_outstanding": points,
        "value_cents": value,
        "collected_cents": collected,
        "coverage_bp": coverage,
    }


def test_points_the_platform_issued_itself_are_listed_last_and_never_collected(app, engine):
    client = app.test_client()
    before = report(client)
    with Session(engine) as session:
        ledger.earn(
            session,
            member_key=unique("member"),
            issuer=ledger.Issuer("platform", "EUR", 500),
            points=400,
            idempotency_key=unique("bonus"),
            ref=unique("bonus"),
            memo="A goodwill bonus",
            lifetime_days=365,
            now=utcnow(),
        )
        session.commit()

    after = report(client)

    platform = [found for found in before["merchants"] if found["merchant_id"] is None]
    assert (
        after["merchants"][: len(before["merchants"]) - len(platform)] == before["merchants"][: -len(platform) or None]
    )
    assert after["merchants"][-1] == {
        "merchant_id": None,
        "currency": "EUR",
        "points_outstanding": 400 + sum(found["points_outstanding"] for found in platform),
        "value_cents": 200 + sum(found["value_cents"] for found in platform),
        "collected_cents": 0,
        "coverage_bp": 0,
    }
    eur_before, eur_after = (next(t for t in body["total"] if t["currency"] == "EUR") for body in (before, after))
    assert (eur_after["points_outstanding"], eur_after["value_cents"], eur_after["collected_cents"]) == (
        eur_before["points_outstanding"] + 400,
        eur_before["value_cents"] + 200,
        eur_before["collected_cents"],
    )


def test_the_report_is_the_operators_only(app):
    client = app.test_client()
    shop = create_merchant(client, ADMIN)

    assert_problem(client.get("/v1/reports/liability", headers=shop["headers"]), 401)
    assert_problem(client.get("/v1/reports/liability"), 401)
