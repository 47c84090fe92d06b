"""Reconciliation: a generated month of a small coalition, settled end to end, and
every euro and every point explained by the ledger.

Three merchants (two run affiliate programs, one supplies the boutique), two
affiliates and a pool of members: orders with and without referrals, refunds
(partial and full, before and after approval), commissions approved, rejected
and left pending, boutique redemptions fulfilled, a month closed by statements,
collected through Stripe (localstripe), paid out by bank transfer, then points
expired. Then:

- every statement's net equals the merchant's receivable and payable movements
  of its period, summed straight from the postings;
- the cash account equals the succeeded PaymentIntents (read back from Stripe)
  minus the payouts made;
- points issued = outstanding + redeemed + expired, and outstanding equals the
  open lots;
- ``ledger verify`` passes.
"""

from __future__ import annotations

import functools
import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from app.cli import JOBS, run_batches
from app.commissions.models import Commission
from app.unit_of_work import UnitOfWork
from ledger import accounts
from ledger.models import Account, Entry, Lot, Posting
from ledger.types import utcnow
from tests.conftest import make_app
from tests.factories.affiliates import build_world
from tests.factories.billing import billing_path, card, confirmed, set_up
from tests.factories.boutique import redeem, reward
from tests.factories.members import sign_in
from tests.factories.merchants import create_merchant
from tests.factories.names import unique, unique_email
from tests.factories.orders import record_order

VALID_IBAN = "GB82 WEST 1234 5698 7654 32"
ORDERS = 40
SEED = 20261201


@pytest.fixture(scope="module")
def coalition(databases, stripe_fake):
    """The platform on its own database (sums over the whole ledger are then this test's), with Stripe at localstripe."""
    application = make_app(
        databases.new(),
        STRIPE_API_BASE=stripe_fake.url,
        STRIPE_API_KEY=stripe_fake.api_key,
        AFFILIATE_PAYOUT_THRESHOLD_CENTS=1,
    )
    yield application
    application.extensions["stripe_gateway"].close()
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


def run_job(app, engine, name: str, *, at=None) -> int:
    with app.app_context(), UnitOfWork(Session(engine), clock=lambda: at or utcnow()) as uow:
        return run_batches(JOBS[name], uow)


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def postings_sum(session: Session, names: list[str], *, start=None, end=None, skip_kinds=()) -> int:
    query = (
        select(func.coalesce(func.sum(Posting.amount), 0))
        .join(Account, Account.id == Posting.account_id)
        .join(Entry, Entry.id == Posting.entry_id)
        .where(Account.name.in_(names), Posting.asset == "EUR")
    )
    if start is not None:
        query = query.where(Entry.created_at >= start, Entry.created_at < end)
    if skip_kinds:
        query = query.where(Entry.kind.not_in(skip_kinds))
    return int(session.execute(query).scalar_one())


def points_balance(session: Session, *, like: str | None = None, name: str | None = None) -> int:
    query = select(func.coalesce(func.sum(Posting.amount), 0)).join(Account, Account.id == Posting.account_id)
    query = query.where(Posting.asset == accounts.PTS)
    query = query.where(Account.name.like(like) if like is not None else Account.name == name)
    return int(session.execute(query).scalar_one())


def test_a_generated_month_reconciles_to_the_cent_and_the_point(coalition, stripe_client):
    app, client, rng = coalition, coalition.test_client(), random.Random(SEED)
    admin = {"Authorization": "Bearer " + app.config["LOYALTY_ADMIN_KEY"]}
    with app.app_context():
        from app.extensions import db

        engine = db.engine
    new_merchant = functools.partial(create_merchant, client, admin)
    # A and B run programs (8% commission, 10% network fee); B's points last one day; C supplies the boutique.
    referred = [
        build_world(client, admin, new_merchant),
        build_world(client, admin, functools.partial(new_merchant, points_lifetime_days=1)),
    ]
    supplier = new_merchant(domains=["supplier.example"])
    merchants = [referred[0].merchant, referred[1].merchant, supplier]
    members = [unique_email() for _ in range(6)]

    # ---- the month's business
    orders = []
    for _ in range(ORDERS):
        world_index = rng.randrange(3)
        merchant = merchants[world_index]
        body = {"amount_cents": rng.randrange(1_500, 40_000), "member_email": rng.choice(members)}
        if world_index < 2 and rng.random() < 0.6:
            body["click_token"] = referred[world_index].click(client)
        recorded = ok(record_order(client, merchant["headers"], **body), 201)
        orders.append((merchant, recorded))
    commissions = [(m, o) for m, o in orders if o["commission"]]
    assert len(commissions) >= 6
    for merchant, order in commissions[: len(commissions) * 2 // 3]:
        ok(client.post(f"/v1/commissions/{order['commission']['id']}/approve", headers=merchant["headers"]))
    merchant, order = commissions[-1]
    ok(
        client.post(
            f"/v1/commissions/{order['commission']['id']}/reject",
            json={"reason": "Test order"},
            headers=merchant["headers"],
        )
    )
    for merchant, order in rng.sample(orders, 8):
        amount = order["amount_cents"] if rng.random() < 0.4 else order["amount_cents"] // 3
        refund = client.post(
            f"/v1/orders/{order['order_id']}/refunds",
            json={"refund_id": unique("r"), "amount_cents": amount},
            headers=merchant["headers"],
        )
        assert refund.status_code == 201, refund.get_json()
    lamp = reward(client, supplier, points_price=60, wholesale_value_cents=300, stock=20)
    voucher_shop = reward(client, referred[0].merchant, points_price=40, wholesale_value_cents=150, stock=20)
    redeemed = 0
    for email in members[:4]:
        member = sign_in(app, engine, email)
        for item in (lamp, voucher_shop):
            if redeem(member, item["id"]).status_code == 303:
                redeemed += 1
    assert redeemed >= 3
    for merchant in (supplier, referred[0].merchant):
        for redemption in ok(client.get("/v1/redemptions?limit=100", headers=merchant["headers"]))["data"]:
            if redemption["status"] == "placed":
                ok(client.post(f"/v1/redemptions/{redemption['id']}/fulfil", json={}, headers=merchant["headers"]))

    # ---- the month closes: statements, collection through Stripe, payouts
    period_end = utcnow()
    statements = [
        ok(
            client.post(
                f"/v1/merchants/{m['id']}/statements", json={"period_end": period_end.isoformat()}, headers=admin
            ),
            201,
        )
        for m in merchants
    ]
    customers = {}
    for merchant, statement in zip(merchants, statements, strict=True):
        if statement["lines"][0]["net_cents"] > 0:
            setup = ok(set_up(client, admin, merchant["id"]), 201)
            method = confirmed(stripe_client, setup["setup_intent_id"], card(stripe_client))
            ok(client.put(billing_path(merchant["id"]), json={"payment_method": method}, headers=admin))
            customers[merchant["id"]] = setup["stripe_customer_id"]
    assert customers, "no merchant owed anything: the generated month is not a test"
    run_job(app, engine, "collect-statements")
    for world in referred:
        ok(
            client.put(
                f"/v1/affiliates/{world.affiliate['id']}/payout-method",
                json={"type": "bank_transfer", "iban": VALID_IBAN, "name": "Blog"},
                headers=admin,
            )
        )
    ok(
        client.put(
            f"/v1/merchants/{supplier['id']}/payout-method",
            json={"type": "bank_transfer", "iban": VALID_IBAN, "name": "Supplier"},
            headers=admin,
        )
    )
    run_job(app, engine, "payouts")
    transfers = ok(client.get("/v1/payouts/bank-transfers", headers=admin))["data"]
    # The month has what it should: the supplier is owed (its rewards), a refund after approval made an adjustment.
    assert [p["merchant_id"] for p in transfers if p["merchant_id"]] == [supplier["id"]]
    with Session(engine) as session:
        kinds = dict(session.execute(select(Commission.kind, func.count()).group_by(Commission.kind)).all())
    assert kinds.get("adjustment", 0) >= 1, kinds
    assert {p["affiliate_id"] for p in transfers if p["affiliate_id"]} == {w.affiliate["id"] for w in referred}
    for payout in transfers:
        ok(client.post(f"/v1/payouts/{payout['id']}/paid", json={"reference": unique("SEPA")}, headers=admin))

    # ---- points expire (B's, one day old) a few days later
    run_job(app, engine, "expire-points", at=utcnow() + timedelta(days=3))

    with Session(engine) as session:
        # Every statement's net is the merchant's movements of its period, from the postings.
        for merchant, statement in zip(merchants, statements, strict=True):
            names = [accounts.receivable_account(merchant["id"]), accounts.payable_account(merchant["id"])]
            moved = postings_sum(
                session,
                names,
                start=datetime.fromisoformat(statement["period_start"]),
                end=datetime.fromisoformat(statement["period_end"]),
                skip_kinds=("collection", "payout"),
            )
            [line] = statement["lines"]
            assert line["net_cents"] == -moved, (merchant["name"], line)

        # Cash: what Stripe collected, minus what was paid out.
        ours = set(customers.values())
        intents = stripe_client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
        succeeded_cents = sum(i.amount for i in intents if i.customer in ours and i.status == "succeeded")
        paid_out_cents = sum(p["amount_cents"] for p in transfers)
        assert succeeded_cents == sum(s["lines"][0]["net_cents"] for s in statements if s["lines"][0]["net_cents"] > 0)
        assert paid_out_cents > 0
        assert postings_sum(session, [accounts.PLATFORM_CASH]) == paid_out_cents - succeeded_cents

        # Points: issued = outstanding + redeemed + expired; outstanding is the open lots.
        # Whoever issues points (a merchant, later the operator's own bonuses) has an account ending in ":issued".
        issued = -points_balance(session, like="%:issued")
        outstanding = points_balance(session, like="member:%")
        redeemed_points = points_balance(session, name=accounts.BOUTIQUE_REDEEMED)
        expired = points_balance(session, name=accounts.PLATFORM_EXPIRED)
        assert issued == outstanding + redeemed_points + expired
        assert redeemed_points > 0 and expired > 0 and outstanding > 0
        open_lots = session.execute(select(func.coalesce(func.sum(Lot.points_remaining), 0))).scalar_one()
        assert outstanding == open_lots

        report = ledger.verify(session)
    assert report.ok, report.violations
