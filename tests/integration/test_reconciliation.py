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
from dataclasses import dataclass, field
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
from tests.factories.affiliates import World, build_world
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


@dataclass
class Month:
    """The coalition of one generated month, and what happened in it."""

    app: object
    client: object
    admin: dict
    engine: object
    referred: list[World]
    supplier: dict
    members: list[str]
    orders: list = field(default_factory=list)
    statements: list = field(default_factory=list)
    customers: dict = field(default_factory=dict)
    transfers: list = field(default_factory=list)

    @property
    def merchants(self) -> list[dict]:
        return [self.referred[0].merchant, self.referred[1].merchant, self.supplier]


def a_coalition(app) -> Month:
    client = app.test_client()
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
    return Month(app, client, admin, engine, referred, supplier, [unique_email() for _ in range(6)])


def trade(month: Month, rng: random.Random) -> None:
    """Orders (some referred), commissions approved, rejected or left pending, refunds."""
    client = month.client
    for _ in range(ORDERS):
        index = rng.randrange(3)
        merchant = month.merchants[index]
        body = {"amount_cents": rng.randrange(1_500, 40_000), "member_email": rng.choice(month.members)}
        if index < 2 and rng.random() < 0.6:
            body["click_token"] = month.referred[index].click(client)
        month.orders.append((merchant, ok(record_order(client, merchant["headers"], **body), 201)))
    commissions = [(m, o) for m, o in month.orders if o["commission"]]
    assert len(commissions) >= 6
    for merchant, order in commissions[: len(commissions) * 2 // 3]:
        ok(client.post(f"/v1/commissions/{order['commission']['id']}/approve", headers=merchant["headers"]))
    merchant, order = commissions[-1]
    rejected = {"reason": "Test order"}
    ok(client.post(f"/v1/commissions/{order['commission']['id']}/reject", json=rejected, headers=merchant["headers"]))
    for merchant, order in rng.sample(month.orders, 8):
        amount = order["amount_cents"] if rng.random() < 0.4 else order["amount_cents"] // 3
        refund = {"refund_id": unique("r"), "amount_cents": amount}
        ok(client.post(f"/v1/orders/{order['order_id']}/refunds", json=refund, headers=merchant["headers"]), 201)


def shop(month: Month) -> None:
    """Members spend points on rewards of the supplier and of shop A; both fulfil."""
    client, shop_a = month.client, month.referred[0].merchant
    lamp = reward(client, month.supplier, points_price=60, wholesale_value_cents=300, stock=20)
    voucher = reward(client, shop_a, points_price=40, wholesale_value_cents=150, stock=20)
    redeemed = 0
    for email in month.members[:4]:
        member = sign_in(month.app, month.engine, email)
        redeemed += sum(redeem(member, item["id"]).status_code == 303 for item in (lamp, voucher))
    assert redeemed >= 3
    for merchant in (month.supplier, shop_a):
        for redemption in ok(client.get("/v1/redemptions?limit=100", headers=merchant["headers"]))["data"]:
            if redemption["status"] == "placed":
                ok(client.post(f"/v1/redemptions/{redemption['id']}/fulfil", json={}, headers=merchant["headers"]))


def close_and_settle(month: Month, stripe_client) -> None:
    """Statements; what merchants owe collected through Stripe; affiliates and the supplier paid by bank."""
    client, admin = month.client, month.admin
    body = {"period_end": utcnow().isoformat()}
    for merchant in month.merchants:
        month.statements.append(
            ok(client.post(f"/v1/merchants/{merchant['id']}/statements", json=body, headers=admin), 201)
        )
    for merchant, statement in zip(month.merchants, month.statements, strict=True):
        if statement["lines"][0]["net_cents"] > 0:
            setup = ok(set_up(client, admin, merchant["id"]), 201)
            method = confirmed(stripe_client, setup["setup_intent_id"], card(stripe_client))
            ok(client.put(billing_path(merchant["id"]), json={"payment_method": method}, headers=admin))
            month.customers[merchant["id"]] = setup["stripe_customer_id"]
    assert month.customers, "no merchant owed anything: the generated month is not a test"
    run_job(month.app, month.engine, "collect-statements")
    bank = {"type": "bank_transfer", "iban": VALID_IBAN, "name": "Payee"}
    for world in month.referred:
        ok(client.put(f"/v1/affiliates/{world.affiliate['id']}/payout-method", json=bank, headers=admin))
    ok(client.put(f"/v1/merchants/{month.supplier['id']}/payout-method", json=bank, headers=admin))
    run_job(month.app, month.engine, "payouts")
    month.transfers = ok(client.get("/v1/payouts/bank-transfers", headers=admin))["data"]
    for payout in month.transfers:
        ok(client.post(f"/v1/payouts/{payout['id']}/paid", json={"reference": unique("SEPA")}, headers=admin))


def test_a_generated_month_reconciles_to_the_cent_and_the_point(coalition, stripe_client):
    month = a_coalition(coalition)
    trade(month, random.Random(SEED))
    shop(month)
    close_and_settle(month, stripe_client)
    liability = ok(month.client.get("/v1/reports/liability", headers=month.admin))
    run_job(month.app, month.engine, "expire-points", at=utcnow() + timedelta(days=3))  # B's points, a day old

    # The month has what it should: the supplier is owed (its rewards), a refund after approval made an adjustment.
    assert [p["merchant_id"] for p in month.transfers if p["merchant_id"]] == [month.supplier["id"]]
    paid_affiliates = {p["affiliate_id"] for p in month.transfers if p["affiliate_id"]}
    assert paid_affiliates == {w.affiliate["id"] for w in month.referred}
    with Session(month.engine) as session:
        kinds = dict(session.execute(select(Commission.kind, func.count()).group_by(Commission.kind)).all())
        assert kinds.get("adjustment", 0) >= 1, kinds
        check_statements(session, month)
        check_cash(session, month, stripe_client)
        check_points(session)
        report = ledger.verify(session)
    assert report.ok, report.violations
    # Before expiry, every outstanding point was paid for (all statements settled): the float holds its value.
    [total] = liability["total"]
    assert (total["collected_cents"], total["coverage_bp"]) == (total["value_cents"], 10_000)


def check_statements(session: Session, month: Month) -> None:
    """Every statement's net is the merchant's movements of its period, summed from the postings."""
    for merchant, statement in zip(month.merchants, month.statements, strict=True):
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


def check_cash(session: Session, month: Month, stripe_client) -> None:
    """Cash is what Stripe collected (read back from Stripe) minus what was paid out."""
    ours = set(month.customers.values())
    intents = stripe_client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    succeeded_cents = sum(i.amount for i in intents if i.customer in ours and i.status == "succeeded")
    owed = [s["lines"][0]["net_cents"] for s in month.statements if s["lines"][0]["net_cents"] > 0]
    paid_out_cents = sum(p["amount_cents"] for p in month.transfers)
    assert succeeded_cents == sum(owed) and paid_out_cents > 0
    assert postings_sum(session, [accounts.PLATFORM_CASH]) == paid_out_cents - succeeded_cents


def check_points(session: Session) -> None:
    """Issued = outstanding + redeemed + expired; outstanding is the open lots."""
    # Whoever issues points (a merchant, later the operator's own bonuses) has an account ending in ":issued".
    issued = -points_balance(session, like="%:issued")
    outstanding = points_balance(session, like="member:%")
    redeemed = points_balance(session, name=accounts.BOUTIQUE_REDEEMED)
    expired = points_balance(session, name=accounts.PLATFORM_EXPIRED)
    assert issued == outstanding + redeemed + expired
    assert redeemed > 0 and expired > 0 and outstanding > 0
    open_lots = session.execute(select(func.coalesce(func.sum(Lot.points_remaining), 0))).scalar_one()
    assert outstanding == open_lots
