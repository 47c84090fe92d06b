"""The paid card: its terms, a member subscribing on localstripe through the /card
pages, its benefits (multiplier, vouchers per spend) and redeeming its vouchers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from app.card import services
from app.card.models import CardVoucher
from app.settlement.lines import statement_rows
from app.unit_of_work import UnitOfWork
from ledger import accounts
from ledger.models import Entry
from ledger.types import utcnow
from tests.conftest import ADMIN_KEY, make_app
from tests.factories.card import card_row, checkout, member_id_of, newest_terms, put_terms, take_card, terms_body
from tests.factories.members import csrf_of, sign_in
from tests.factories.merchants import auth
from tests.factories.names import unique_email
from tests.factories.orders import record_order
from tests.integration.test_settlement import assert_ledger_ok

EUR = "EUR"


def balance_of(engine, name: str, asset: str = EUR) -> int:
    with Session(engine) as session:
        found = accounts.find_account(session, name, asset)
        return 0 if found is None else accounts.balance(session, found)


def entries_of(engine, kind: str) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(Entry).where(Entry.kind == kind)).scalar_one()


@pytest.fixture
def terms(client, admin_headers):
    """The card offered with the default terms (x1.5, 10 EUR per 500 EUR)."""
    answer = put_terms(client, admin_headers)
    assert answer.status_code in (200, 201), answer.get_json()
    return answer.get_json()


@pytest.fixture
def holder(app, engine, stripe_client, terms):
    email = unique_email()
    browser, answer = take_card(app, engine, stripe_client, email)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return {"email": email, "browser": browser, "member_id": member_id_of(engine, email)}


# -- terms ---------------------------------------------------------------------------


def test_before_any_terms_the_card_is_a_404_problem(databases):
    app = make_app(databases.new())
    try:
        answer = app.test_client().get("/v1/card", headers=auth(ADMIN_KEY))
        page = app.test_client().get("/card")
    finally:
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()

    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"
    assert "PUT /v1/card" in answer.get_json()["detail"]
    assert "not offered yet" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("currency", terms_body(currency="USD")),
        ("interval", terms_body(interval="month")),
        ("earn_multiplier_bp", terms_body(earn_multiplier_bp=10000)),
        ("earn_multiplier_bp", terms_body(earn_multiplier_bp=100001)),
        ("earn_multiplier_bp", terms_body(earn_multiplier_bp=1.5)),
        ("price_cents", terms_body(price_cents=0)),
        ("name", terms_body(name="")),
        ("voucher", terms_body(voucher={"value_cents": 1000})),
        ("voucher", terms_body(voucher={"value_cents": 50000, "per_spend_cents": 50000})),
        ("voucher", terms_body(voucher={"value_cents": 1000, "per_spend_cents": 0})),
        ("color", terms_body(color="gold")),
    ],
)
def test_terms_that_are_not_valid_are_a_422_naming_the_field_and_change_nothing(
    client, admin_headers, engine, field, body
):
    before = entries_of(engine, "card_payment"), _terms_count(engine)

    answer = client.put("/v1/card", json=body, headers=admin_headers)

    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"]
    assert (entries_of(engine, "card_payment"), _terms_count(engine)) == before


def _terms_count(engine) -> int:
    from app.card.models import CardTerms

    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(CardTerms)).scalar_one()


def test_only_the_operator_sets_the_terms(client, merchant):
    assert put_terms(client, merchant["headers"]).status_code == 401


def test_terms_make_a_stripe_plan_once_and_new_terms_a_new_version(client, admin_headers, engine, stripe_client):
    first = put_terms(client, admin_headers, price_cents=5900)
    again = put_terms(client, admin_headers, price_cents=5900)
    plan = stripe_client.v1.plans.retrieve(newest_terms(engine).stripe_plan_id)
    changed = put_terms(client, admin_headers, price_cents=6900)
    shown = client.get("/v1/card", headers=admin_headers)

    assert first.status_code in (200, 201)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert (plan.amount, plan.currency, plan.interval) == (5900, "eur", "year")
    assert changed.status_code == 201
    assert changed.get_json()["version"] != first.get_json()["version"]
    assert shown.status_code == 200 and shown.get_json() == changed.get_json()
    assert shown.get_json()["voucher"] == {"value_cents": 1000, "per_spend_cents": 50000}
    assert stripe_client.v1.plans.retrieve(newest_terms(engine).stripe_plan_id).amount == 6900


# -- subscribing -----------------------------------------------------------------------


def test_a_member_subscribes_and_the_payment_is_booked_in_eur(app, engine, stripe_client, terms, client, merchant):
    email = unique_email()
    cash_before = balance_of(engine, accounts.PLATFORM_CASH)
    revenue_before = balance_of(engine, accounts.REVENUE_CARDS)

    browser, answer = take_card(app, engine, stripe_client, email)
    page = browser.get("/card").get_data(as_text=True)
    card = card_row(engine, member_id_of(engine, email))
    subscription = stripe_client.v1.subscriptions.retrieve(card.stripe_subscription_id)

    assert answer.status_code == 303
    assert 'data-testid="card-status">Active' in page
    assert card.status == "active" and card.terms_id == int(terms["version"])
    assert card.renews_at - utcnow() > timedelta(days=364)
    assert subscription.status == "active" and subscription.customer == card.stripe_customer_id
    assert balance_of(engine, accounts.PLATFORM_CASH) == cash_before - 4900
    assert balance_of(engine, accounts.REVENUE_CARDS) == revenue_before + 4900
    assert record_order(client, merchant["headers"], member_email=email).status_code == 201
    found = client.get("/v1/members", query_string={"email": email}, headers=merchant["headers"]).get_json()
    assert found["data"][0]["card"]["status"] == "active"
    assert found["data"][0]["card"]["renews_at"].startswith(card.renews_at.date().isoformat())
    assert_ledger_ok(engine)


def test_a_declined_card_subscribes_nobody(app, engine, stripe_client, terms):
    email = unique_email()

    browser, answer = take_card(app, engine, stripe_client, email, number="4000000000000341")

    assert answer.status_code == 402, answer.get_data(as_text=True)
    assert "declined" in answer.get_data(as_text=True).lower()
    with Session(engine) as session:
        assert services.state_of(session, member_id_of(engine, email), utcnow())["status"] == "none"
    assert "Take the card" in browser.get("/card").get_data(as_text=True)


def test_a_holder_cannot_take_the_card_twice(holder):
    browser = holder["browser"]
    page = browser.get("/card")

    again = browser.post("/card/checkout", data={"csrf_token": csrf_of(page)})

    assert again.status_code == 409
    assert "already hold the card" in again.get_data(as_text=True)


def test_the_card_forms_refuse_a_post_without_the_csrf_token(holder, engine):
    assert holder["browser"].post("/card/cancel").status_code == 400
    assert holder["browser"].post("/card/subscribe", data={"setup_intent": "seti_x"}).status_code == 400
    assert card_row(engine, holder["member_id"]).cancel_at_period_end is False


def test_cancelling_stops_the_renewal_and_keeps_the_paid_year(holder, engine, stripe_client):
    browser = holder["browser"]
    page = browser.get("/card")

    cancelled = browser.post("/card/cancel", data={"csrf_token": csrf_of(page)})
    shown = browser.get("/card").get_data(as_text=True)
    card = card_row(engine, holder["member_id"])

    assert cancelled.status_code == 303
    assert stripe_client.v1.subscriptions.retrieve(card.stripe_subscription_id).cancel_at_period_end is True
    assert card.cancel_at_period_end and card.status == "active"
    assert "will not renew" in shown
    with Session(engine) as session:
        assert services.multiplier_bp(session, holder["member_id"], utcnow()) == 15000


def test_only_the_checkout_page_may_load_stripe_js(holder, app, engine):
    started, _ = checkout(sign_in(app, engine, unique_email()))
    card_page = holder["browser"].get("/card")

    assert started.status_code == 200
    assert app.config["STRIPE_JS_URL"] == "https://js.stripe.com/v3/"
    assert '<script src="https://js.stripe.com/v3/"></script>' in started.get_data(as_text=True)
    policy = started.headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com;" in policy
    assert "connect-src 'self' https://js.stripe.com http://127.0.0.1:" in policy
    assert "unsafe" not in policy
    assert "script-src" not in card_page.headers["Content-Security-Policy"]


# -- benefits ------------------------------------------------------------------------------


def test_the_multiplier_holds_while_active_and_before_renews_at_only(holder, engine):
    member_id = holder["member_id"]
    renews_at = card_row(engine, member_id).renews_at

    with Session(engine) as session:
        assert services.multiplier_bp(session, member_id, renews_at - timedelta(seconds=1)) == 15000
        assert services.multiplier_bp(session, member_id, renews_at) == 0
        assert services.multiplier_bp(session, member_id + 10**9, utcnow()) == 0
        assert services.state_of(session, member_id + 10**9, utcnow()) == {"status": "none", "renews_at": None}


@pytest.mark.parametrize(
    ("spends", "vouchers", "carried"),
    [
        ([30000, 25000, 50000], [0, 1, 1], 5000),
        ([49999, 1], [0, 1], 0),
        ([150000], [3], 0),
        ([120000, 30000], [2, 1], 0),
    ],
)
def test_vouchers_are_issued_per_full_spend_step_and_the_remainder_is_carried(
    holder, engine, spends, vouchers, carried
):
    member_id = holder["member_id"]
    revenue_before = balance_of(engine, accounts.REVENUE_CARDS)
    issued = []
    for amount_cents in spends:
        with Session(engine) as session:
            uow = UnitOfWork(session)
            issued.append(services.on_order(uow, member_id, amount_cents, EUR))
            uow.commit(None)

    assert [len(batch) for batch in issued] == vouchers
    assert card_row(engine, member_id).spend_cents == carried
    codes = [v["code"] for batch in issued for v in batch]
    assert len(set(codes)) == len(codes) and all(len(code) >= 24 for code in codes)
    assert all(v["value_cents"] == 1000 and v["currency"] == EUR for batch in issued for v in batch)
    assert all(v["expires_at"] - v["issued_at"] == timedelta(days=365) for batch in issued for v in batch)
    assert balance_of(engine, accounts.REVENUE_CARDS) == revenue_before - 1000 * sum(vouchers)
    page = holder["browser"].get("/card").get_data(as_text=True)
    assert all(code in page for code in codes)
    assert_ledger_ok(engine)


def test_orders_in_another_currency_or_without_an_active_card_count_nothing(holder, engine):
    member_id = holder["member_id"]
    nobody = member_id + 10**9
    with Session(engine) as session:
        uow = UnitOfWork(session)
        assert services.on_order(uow, member_id, 100000, "USD") == []
        assert services.on_order(uow, nobody, 100000, EUR) == []
        assert services.on_order(UnitOfWork(session, now=utcnow() + timedelta(days=400)), member_id, 100000, EUR) == []
        uow.commit(None)
    assert card_row(engine, member_id).spend_cents == 0


# -- vouchers ------------------------------------------------------------------------------


def voucher_of(engine, holder) -> dict:
    with Session(engine) as session:
        uow = UnitOfWork(session)
        (voucher,) = services.on_order(uow, holder["member_id"], 50000, EUR)
        uow.commit(None)
    return voucher


def redeem(client, merchant, code: str, order_id: str = "o-voucher-1"):
    return client.post(f"/v1/card-vouchers/{code}/redeem", json={"order_id": order_id}, headers=merchant["headers"])


def test_a_merchant_redeems_a_voucher_once_and_is_owed_its_value(holder, engine, client, new_merchant):
    voucher = voucher_of(engine, holder)
    first_shop, second_shop = new_merchant(), new_merchant()
    payable = accounts.payable_account(first_shop["id"])

    redeemed = redeem(client, first_shop, voucher["code"])
    retried = redeem(client, first_shop, voucher["code"])
    elsewhere = redeem(client, second_shop, voucher["code"], "o-other")
    other_order = redeem(client, first_shop, voucher["code"], "o-voucher-2")

    assert redeemed.status_code == 200, redeemed.get_json()
    body = redeemed.get_json()
    assert body["code"] == voucher["code"] and body["order_id"] == "o-voucher-1" and body["redeemed_at"]
    assert "member" not in str(body) and holder["email"] not in str(body)
    assert retried.status_code == 200 and retried.get_json() == body
    assert elsewhere.status_code == 409 and elsewhere.mimetype == "application/problem+json"
    assert other_order.status_code == 409
    assert balance_of(engine, payable) == 1000
    assert balance_of(engine, accounts.payable_account(second_shop["id"])) == 0
    assert entries_of_ref(engine, f"merchant:{first_shop['id']}:card-voucher:") == 1
    with Session(engine) as session:
        rows = statement_rows(session, int(first_shop["id"]), utcnow() - timedelta(hours=1), utcnow())
    assert [(r.category, r.amount_cents, r.entry_kind) for r in rows] == [
        ("rewards_supplied", 1000, "card_voucher_redeem")
    ]
    assert "Used on" in holder["browser"].get("/card").get_data(as_text=True)
    assert_ledger_ok(engine)


def entries_of_ref(engine, prefix: str) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(Entry).where(Entry.ref.startswith(prefix))).scalar_one()


def test_an_unknown_or_expired_voucher_is_refused_without_a_word_about_anyone(holder, engine, client, merchant):
    voucher = voucher_of(engine, holder)
    with Session(engine) as session:
        found = session.execute(select(CardVoucher).where(CardVoucher.code == voucher["code"])).scalar_one()
        found.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()

    unknown = redeem(client, merchant, "not-a-real-code")
    too_long = redeem(client, merchant, "x" * 200)
    expired = redeem(client, merchant, voucher["code"])

    assert unknown.status_code == 404 and unknown.mimetype == "application/problem+json"
    assert too_long.status_code == 404
    assert expired.status_code == 410 and expired.get_json()["type"] == "/problems/gone"
    assert holder["email"] not in expired.get_data(as_text=True)
    assert balance_of(engine, accounts.payable_account(merchant["id"])) == 0


def test_the_ledger_rules_hold_after_every_card_flow(holder, engine, client, merchant):
    voucher = voucher_of(engine, holder)
    assert redeem(client, merchant, voucher["code"]).status_code == 200

    with Session(engine) as session:
        report = ledger.verify(session)

    assert report.ok, report.violations


def test_an_expired_unused_voucher_gives_its_value_back_to_card_revenue_once(holder, engine, client, merchant):
    from app.cli import JOBS, run_batches

    unused, used = voucher_of(engine, holder), voucher_of(engine, holder)
    assert redeem(client, merchant, used["code"]).status_code == 200
    revenue, liability = balance_of(engine, accounts.REVENUE_CARDS), balance_of(engine, accounts.CARD_VOUCHERS)
    later = unused["expires_at"] + timedelta(seconds=1)

    with Session(engine) as session:
        first = run_batches(JOBS["expire-card-vouchers"], UnitOfWork(session, clock=lambda: later))
    with Session(engine) as session:
        second = run_batches(JOBS["expire-card-vouchers"], UnitOfWork(session, clock=lambda: later))
        lapsed = {
            v.code: v.lapsed_at
            for v in session.execute(
                select(CardVoucher).where(CardVoucher.code.in_([unused["code"], used["code"]]))
            ).scalars()
        }

    assert first >= 1 and second == 0
    assert lapsed[unused["code"]] == later and lapsed[used["code"]] is None
    assert balance_of(engine, accounts.REVENUE_CARDS) - revenue == first * 1000 >= 1000
    assert liability - balance_of(engine, accounts.CARD_VOUCHERS) == first * 1000
    assert_ledger_ok(engine)
