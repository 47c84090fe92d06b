"""Orders and refunds as services, through the unit of work, without HTTP.

Each test runs in ``db_session``: what the services commit only releases a
savepoint, and everything is rolled back after the test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import ledger
from app.merchants.models import MerchantTerms
from app.merchants.services import create_merchant
from app.orders import services
from app.orders.errors import CurrencyNotAccepted, RefundExceedsOrder
from app.orders.models import Order, Refund
from app.unit_of_work import IdempotencyKeyReused, UnitOfWork
from tests.factories.merchants import merchant_body
from tests.factories.names import unique, unique_email

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def terms(db_session) -> MerchantTerms:
    uow = UnitOfWork(db_session, now=NOW - timedelta(days=1))
    merchant, _key, _clear = create_merchant(uow, {**merchant_body(), "points_lifetime_days": 365})
    uow.commit(merchant.id)
    return MerchantTerms(
        merchant.id,
        merchant.name,
        merchant.currency,
        merchant.earn_points,
        merchant.earn_per_amount_cents,
        merchant.price_per_1000_points_cents,
        merchant.points_lifetime_days,
    )


def _order(amount_cents: int = 4599, **overrides) -> dict:
    return {
        "order_id": unique("order"),
        "amount_cents": amount_cents,
        "currency": "EUR",
        "member_email": unique_email(),
        **overrides,
    }


def _entries(session) -> int:
    return session.execute(select(func.count(ledger.Base.metadata.tables["ledger_entries"].c.id))).scalar_one()


def test_an_order_earns_per_full_block_and_commits_once(db_session, terms):
    uow = UnitOfWork(db_session, now=NOW)
    data = _order(4599)

    answer = services.record_order(uow, terms, data)

    assert (answer["points_earned"], answer["points_balance"], uow.replayed) == (30, 30, False)
    order = db_session.execute(select(Order).where(Order.order_id == data["order_id"])).scalar_one()
    assert (order.member_id, order.created_at) == (int(answer["member_id"]), NOW)


def test_a_replayed_order_returns_the_stored_answer_and_writes_nothing(db_session, terms):
    data = _order(30_000)
    first = services.record_order(UnitOfWork(db_session, now=NOW), terms, data)
    entries = _entries(db_session)

    again = UnitOfWork(db_session, now=NOW + timedelta(minutes=5))
    replayed = services.record_order(again, terms, dict(data))

    assert (replayed, again.replayed) == (first, True)
    assert _entries(db_session) == entries


def test_an_order_id_reused_with_another_amount_is_refused_and_changes_nothing(db_session, terms):
    data = _order(30_000)
    services.record_order(UnitOfWork(db_session, now=NOW), terms, data)
    entries = _entries(db_session)

    uow = UnitOfWork(db_session, now=NOW)
    with pytest.raises(IdempotencyKeyReused):
        services.record_order(uow, terms, {**data, "amount_cents": 31_000})

    assert _entries(db_session) == entries
    assert (
        db_session.execute(select(Order.amount_cents).where(Order.order_id == data["order_id"])).scalar_one() == 30_000
    )


def test_an_order_in_another_currency_is_refused_before_any_write(db_session, terms):
    uow = UnitOfWork(db_session, now=NOW)
    entries = _entries(db_session)
    with pytest.raises(CurrencyNotAccepted):
        services.record_order(uow, terms, _order(currency="USD"))
    uow.discard()
    assert _entries(db_session) == entries


def test_a_refund_takes_back_the_difference_once(db_session, terms):
    data = _order(4599)  # 30 points: 3 full blocks of 15.00
    services.record_order(UnitOfWork(db_session, now=NOW), terms, data)
    refund = {"refund_id": unique("refund"), "amount_cents": 1500}

    uow = UnitOfWork(db_session, now=NOW + timedelta(days=1))
    answer = services.refund_order(uow, terms, data["order_id"], refund)
    again = UnitOfWork(db_session, now=NOW + timedelta(days=2))
    replayed = services.refund_order(again, terms, data["order_id"], dict(refund))

    assert (answer["points_reversed"], answer["order_net_amount_cents"], answer["points_balance"]) == (10, 3099, 20)
    assert (replayed, again.replayed) == (answer, True)
    refunds = db_session.execute(select(Refund).where(Refund.refund_id == refund["refund_id"])).scalars().all()
    assert [(r.amount_cents, r.created_at) for r in refunds] == [(1500, NOW + timedelta(days=1))]


def test_a_refund_beyond_the_order_is_refused_and_leaves_the_order_as_it_was(db_session, terms):
    data = _order(4599)
    services.record_order(UnitOfWork(db_session, now=NOW), terms, data)
    entries = _entries(db_session)

    uow = UnitOfWork(db_session, now=NOW)
    with pytest.raises(RefundExceedsOrder):
        services.refund_order(uow, terms, data["order_id"], {"refund_id": unique("refund"), "amount_cents": 4600})
    uow.discard()

    order = db_session.execute(select(Order).where(Order.order_id == data["order_id"])).scalar_one()
    assert (order.refunded_cents, order.points_reversed, _entries(db_session)) == (0, 0, entries)
