"""docs/settlement.md's worked example, run: its statements and its final balances
are read from the document's tables and checked against what the platform does."""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.cli import JOBS, run_batches
from app.unit_of_work import UnitOfWork
from ledger import accounts
from ledger.types import utcnow
from tests.conftest import make_app
from tests.factories.affiliates import build_world
from tests.factories.billing import billing_path, card, confirmed, set_up
from tests.factories.boutique import redeem, reward
from tests.factories.members import sign_in
from tests.factories.merchants import create_merchant
from tests.factories.names import unique, unique_email
from tests.factories.orders import record_order
from tests.integration.test_reconciliation import points_balance

DOC = (Path(__file__).resolve().parents[2] / "docs" / "settlement.md").read_text()
EXAMPLE = DOC[DOC.index("## A worked example") :]
IBAN = "DE89370400440532013000"


def table(header_start: str) -> dict[str, list[str]]:
    """The example's table whose header begins with ``header_start``: first cell -> the other cells."""
    lines = EXAMPLE[EXAMPLE.index(f"| {header_start}") :].splitlines()
    rows = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def cents(text: str) -> int:
    match = re.fullmatch(r"(-?)(\d+)\.(\d\d)", text)
    assert match, text
    sign, whole, fraction = match.groups()
    return (-1 if sign else 1) * (int(whole) * 100 + int(fraction))


@pytest.fixture(scope="module")
def example_app(databases, stripe_fake):
    application = make_app(databases.new(), STRIPE_API_BASE=stripe_fake.url, STRIPE_API_KEY=stripe_fake.api_key)
    yield application
    application.extensions["stripe_gateway"].close()
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


def run_job(app, name: str, *, at=None) -> None:
    with app.app_context():
        from app.extensions import db

        with UnitOfWork(Session(db.engine), clock=lambda: at or utcnow()) as uow:
            run_batches(JOBS[name], uow)


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_the_worked_example_is_what_the_platform_computes(example_app, stripe_client):
    app, client = example_app, example_app.test_client()
    admin = {"Authorization": "Bearer " + app.config["LOYALTY_ADMIN_KEY"]}
    shop_a_terms = {"price_per_1000_points_cents": 1_000, "points_lifetime_days": 1}
    world = build_world(client, admin, functools.partial(create_merchant, client, admin, **shop_a_terms))
    shop_a, blog = world.merchant, world.affiliate
    shop_b = create_merchant(client, admin, domains=["b.example"])
    alice = unique_email()

    # 1. Alice buys for 750.00 EUR through Blog's link; Shop A approves the commission.
    order = ok(
        record_order(
            client, shop_a["headers"], amount_cents=75_000, member_email=alice, click_token=world.click(client)
        ),
        201,
    )
    assert order["points_earned"] == 500
    ok(client.post(f"/v1/commissions/{order['commission']['id']}/approve", headers=shop_a["headers"]))
    # 2. 300 points on Shop B's reward, fulfilled.
    item = reward(client, shop_b, points_price=300, wholesale_value_cents=240)
    assert redeem(sign_in(app, _engine(app), alice), item["id"]).status_code == 303
    [redemption] = ok(client.get("/v1/redemptions", headers=shop_b["headers"]))["data"]
    ok(client.post(f"/v1/redemptions/{redemption['id']}/fulfil", json={}, headers=shop_b["headers"]))
    statements = check_statements(client, admin, shop_a, shop_b)
    settle(app, client, admin, stripe_client, shop_a, shop_b, blog, statements)
    # 5. Alice's last 200 points expire.
    run_job(app, "expire-points", at=utcnow() + timedelta(days=2))
    check_balances(app, shop_a, shop_b, blog)


def check_statements(client, admin, shop_a, shop_b) -> dict:
    """3. The month closes: the statements are the document's."""
    period_end = utcnow().isoformat()
    statements = {
        name: ok(
            client.post(f"/v1/merchants/{m['id']}/statements", json={"period_end": period_end}, headers=admin), 201
        )
        for name, m in (("Shop A", shop_a), ("Shop B", shop_b))
    }
    expected = table("merchant")
    assert set(expected) == set(statements)
    for name, statement in statements.items():
        [line] = statement["lines"]
        shown = [
            line[field]
            for field in (
                "points_bought_cents",
                "commissions_cents",
                "network_fees_cents",
                "rewards_supplied_cents",
                "net_cents",
            )
        ]
        assert shown == [cents(cell) for cell in expected[name]], name
    return statements


def settle(app, client, admin, stripe_client, shop_a, shop_b, blog, statements) -> None:
    """4. Collected from Shop A; Blog and Shop B paid by bank transfer."""
    setup = ok(set_up(client, admin, shop_a["id"]), 201)
    method = confirmed(stripe_client, setup["setup_intent_id"], card(stripe_client))
    ok(client.put(billing_path(shop_a["id"]), json={"payment_method": method}, headers=admin))
    run_job(app, "collect-statements")
    assert (
        ok(client.get(f"/v1/statements/{statements['Shop A']['id']}", headers=shop_a["headers"]))["collection"][
            "status"
        ]
        == "succeeded"
    )
    bank = {"type": "bank_transfer", "iban": IBAN, "name": "Payee"}
    ok(client.put(f"/v1/affiliates/{blog['id']}/payout-method", json=bank, headers=admin))
    ok(client.put(f"/v1/merchants/{shop_b['id']}/payout-method", json=bank, headers=admin))
    run_job(app, "payouts")
    transfers = ok(client.get("/v1/payouts/bank-transfers", headers=admin))["data"]
    assert sorted(p["amount_cents"] for p in transfers) == [240, 6_000]
    for payout in transfers:
        ok(client.post(f"/v1/payouts/{payout['id']}/paid", json={"reference": unique("SEPA")}, headers=admin))


def check_balances(app, shop_a, shop_b, blog) -> None:
    """Every party square; the operator holds its fee, margin and breakage."""
    names = {
        "merchant:A:receivable": accounts.receivable_account(shop_a["id"]),
        "merchant:B:payable": accounts.payable_account(shop_b["id"]),
        "affiliate:Blog:payable": accounts.affiliate_payable_account(blog["id"]),
        accounts.POINTS_FLOAT: accounts.POINTS_FLOAT,
        accounts.REVENUE_FEES: accounts.REVENUE_FEES,
        accounts.REVENUE_MARGIN: accounts.REVENUE_MARGIN,
        accounts.REVENUE_BREAKAGE: accounts.REVENUE_BREAKAGE,
        accounts.PLATFORM_CASH: accounts.PLATFORM_CASH,
    }
    balances = table("account")
    assert set(balances) == set(names)
    with Session(_engine(app)) as session:
        for label, name in names.items():
            found = accounts.find_account(session, name, "EUR")
            assert accounts.balance(session, found) == cents(balances[label][0]), label
        # The example has the database to itself: 500 issued = 0 outstanding + 300 redeemed + 200 expired.
        assert (
            -points_balance(session, like="%:issued"),
            points_balance(session, like="member:%"),
            points_balance(session, name=accounts.BOUTIQUE_REDEEMED),
            points_balance(session, name=accounts.PLATFORM_EXPIRED),
        ) == (500, 0, 300, 200)


def _engine(app):
    with app.app_context():
        from app.extensions import db

        return db.engine
