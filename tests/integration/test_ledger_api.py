"""The ledger's public flows and reads beside earn and clawback, on a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

import ledger
from ledger.models import Entry
from tests.conftest import unique
from tests.integration.test_ledger import assert_rules_hold, balance_of, earn, hold

EUR = "EUR"


def entry_of(session, entry_id):
    found = session.get(Entry, entry_id)
    session.rollback()
    return found


def commission(session, merchant, affiliate, amount_cents, fee_cents, *, key=None, at=None):
    posted = ledger.post_commission(
        session,
        commission_id=7,
        merchant_key=merchant,
        affiliate_key=affiliate,
        currency=EUR,
        amount_cents=amount_cents,
        fee_cents=fee_cents,
        idempotency_key=key or unique("commission"),
        memo="Commission 7 (sale) to affiliate",
        now=at or ledger.utcnow(),
    )
    session.commit()
    return posted


def test_a_commission_charges_the_merchant_the_commission_and_the_network_fee(session):
    merchant, affiliate = unique("m"), unique("a")
    fees_before = balance_of(session, "platform:revenue:fees", EUR)

    posted = commission(session, merchant, affiliate, 1_000, 150)

    assert balance_of(session, f"merchant:{merchant}:receivable", EUR) == -1_150
    assert balance_of(session, f"affiliate:{affiliate}:payable", EUR) == 1_000
    assert balance_of(session, "platform:revenue:fees", EUR) == fees_before + 150
    entry = entry_of(session, posted.id)
    assert (entry.kind, entry.ref) == ("commission", "commission:7")
    assert_rules_hold(session)


def test_a_negative_commission_runs_the_same_legs_back_and_zero_posts_nothing(session):
    merchant, affiliate = unique("m"), unique("a")
    commission(session, merchant, affiliate, 1_000, 150)

    commission(session, merchant, affiliate, -400, -60)

    assert balance_of(session, f"merchant:{merchant}:receivable", EUR) == -690
    assert balance_of(session, f"affiliate:{affiliate}:payable", EUR) == 600
    assert commission(session, merchant, affiliate, 0, 0) is None
    assert_rules_hold(session)


def test_a_commission_key_used_twice_is_refused(session):
    merchant, affiliate, key = unique("m"), unique("a"), unique("k")
    commission(session, merchant, affiliate, 1_000, 150, key=key)

    with pytest.raises(IntegrityError):
        commission(session, merchant, affiliate, 1_000, 150, key=key)
    session.rollback()
    assert balance_of(session, f"affiliate:{affiliate}:payable", EUR) == 1_000


def test_a_payout_moves_the_affiliate_payable_to_cash_under_its_payout_key(session):
    merchant, affiliate = unique("m"), unique("a")
    commission(session, merchant, affiliate, 1_000, 150)
    cash_before = balance_of(session, "platform:cash", EUR)

    posted = ledger.post_payout(
        session, affiliate_key=affiliate, payout_key="p-1", currency=EUR, amount_cents=1_000, now=ledger.utcnow()
    )
    session.commit()

    assert balance_of(session, f"affiliate:{affiliate}:payable", EUR) == 0
    assert balance_of(session, "platform:cash", EUR) == cash_before + 1_000
    entry = entry_of(session, posted.id)
    assert (entry.kind, entry.ref, entry.idempotency_key) == (
        "payout",
        f"affiliate:{affiliate}:payout:p-1",
        f"payout:a{affiliate}:p-1",
    )
    assert_rules_hold(session)


def test_a_payout_of_nothing_is_refused(session):
    with pytest.raises(ValueError):
        ledger.post_payout(
            session, affiliate_key=unique("a"), payout_key="p", currency=EUR, amount_cents=0, now=ledger.utcnow()
        )


def test_a_redemption_owes_the_supplier_its_wholesale_value_and_keeps_the_margin(session):
    member, supplier = unique("u"), unique("s")
    earn(session, member, 1_000)  # 1000 points at 500 cents per 1000: 500 cents in the float
    hold_id = hold(session, member, 1_000)
    margin_before = balance_of(session, "platform:revenue:margin", EUR)

    posted = ledger.post_redemption(
        session, hold_id, supplier_key=supplier, currency=EUR, wholesale_value_cents=300, now=ledger.utcnow()
    )
    session.commit()

    assert posted.status == "posted"
    assert balance_of(session, f"merchant:{supplier}:payable", EUR) == 300
    assert balance_of(session, "platform:revenue:margin", EUR) == margin_before + 200
    assert balance_of(session, "boutique:redeemed", ledger.PTS) >= 1_000
    assert_rules_hold(session)


def test_locking_a_member_creates_the_account_with_nothing_in_it(session):
    member = unique("u")

    ledger.lock_member(session, member)
    session.commit()

    assert ledger.member_points(session, member) == ledger.MemberPoints(0, 0, 0)


def test_account_movements_sum_per_kind_inside_the_period_only(session):
    merchant, affiliate = unique("m"), unique("a")
    now = ledger.utcnow()
    commission(session, merchant, affiliate, 1_000, 150, at=now - timedelta(days=2))
    commission(session, merchant, affiliate, 500, 50, at=now)
    commission(session, merchant, affiliate, 200, 20, at=now)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)

    moved = ledger.account_movements(session, ledger.receivable_account(merchant), start, end)
    fees = ledger.fees_beside(session, ledger.receivable_account(merchant), "commission", start, end)

    assert moved == [ledger.Movement(EUR, "commission", -770)]
    assert fees == {EUR: 70}
    assert ledger.account_movements(session, ledger.payable_account(merchant), start, end) == []


def test_account_movements_of_an_unknown_account_are_empty(session):
    now = ledger.utcnow()
    assert ledger.account_movements(session, unique("nobody"), now - timedelta(days=1), now) == []
