"""The ledger's public flows and reads beside earn and clawback, on a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import literal, select
from sqlalchemy.exc import IntegrityError

import ledger
from ledger.models import Entry, Hold, Lot
from tests.factories.names import unique
from tests.integration.test_ledger import assert_rules_hold, balance_of, earn, hold

EUR = "EUR"
FAR = timedelta(days=20 * 365)


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


def collect(session, merchant, amount_cents, key="s-1"):
    return ledger.post_collection(
        session, merchant_key=merchant, currency=EUR, amount_cents=amount_cents, collection_key=key, now=ledger.utcnow()
    )


def test_a_collection_moves_cash_into_the_merchant_receivable_once_per_key(session):
    merchant, affiliate = unique("m"), unique("a")
    commission(session, merchant, affiliate, 1_000, 150)  # the merchant owes 1150: receivable -1150
    cash_before = balance_of(session, "platform:cash", EUR)

    posted = collect(session, merchant, 1_150)
    session.commit()
    again = collect(session, merchant, 1_150)
    session.commit()

    assert again == posted
    assert balance_of(session, f"merchant:{merchant}:receivable", EUR) == 0
    assert balance_of(session, "platform:cash", EUR) == cash_before - 1_150
    entry = entry_of(session, posted.id)
    assert (entry.kind, entry.ref, entry.idempotency_key) == (
        "collection",
        f"merchant:{merchant}:collection:s-1",
        f"collection:m{merchant}:s-1",
    )
    assert session.execute(select(Entry).where(Entry.ref == entry.ref)).scalars().all() == [entry]
    assert_rules_hold(session)


def test_a_collection_key_replayed_with_another_amount_is_a_conflict(session):
    merchant = unique("m")
    collect(session, merchant, 500)
    session.commit()

    with pytest.raises(ledger.IdempotencyConflict):
        collect(session, merchant, 501)


def test_a_collection_of_nothing_is_refused(session):
    with pytest.raises(ValueError):
        collect(session, unique("m"), 0)


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


def test_entry_movements_give_each_entry_of_the_period_with_its_fee_beside(session):
    merchant, affiliate = unique("m"), unique("a")
    now = ledger.utcnow()
    commission(session, merchant, affiliate, 1_000, 150, at=now - timedelta(days=2))
    second = commission(session, merchant, affiliate, 500, 50, at=now)
    third = commission(session, merchant, affiliate, -200, -20, at=now)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    names = [ledger.receivable_account(merchant), ledger.payable_account(merchant)]

    moved = ledger.entry_movements(session, names, start, end)

    assert [(m.entry_id, m.kind, m.account, m.asset, m.amount, m.fee) for m in moved] == [
        (second.id, "commission", names[0], EUR, -550, 50),
        (third.id, "commission", names[0], EUR, 220, -20),
    ]
    assert {m.created_at for m in moved} == {now}


def test_entry_movements_of_unknown_accounts_are_empty_and_their_number_is_bounded(session):
    now = ledger.utcnow()
    assert ledger.entry_movements(session, [unique("nobody")], now - timedelta(days=1), now) == []
    with pytest.raises(ValueError):
        ledger.entry_movements(session, [], now, now)


def test_outstanding_points_count_open_lots_and_the_value_earned_in_backed_periods(session):
    merchant, other = unique("m"), unique("m")
    now = ledger.utcnow()
    earn_order(session, unique("u"), 200, merchant=merchant, order_id="1", at=now - timedelta(days=10))
    earn_order(session, unique("u"), 100, merchant=merchant, order_id="2", at=now - timedelta(days=1))
    earn_order(session, unique("u"), 400, merchant=other, order_id="3", at=now - timedelta(days=10))
    # Only the merchant's period ten days ago is backed: its first lot (200 points, 1 EUR).
    backed = select(
        literal(merchant).label("issuer"),
        literal(now - timedelta(days=11)).label("period_start"),
        literal(now - timedelta(days=5)).label("period_end"),
    ).subquery()

    found = ledger.outstanding_points(session, backed, issuers=[merchant, other])

    assert sorted(found, key=lambda o: o.issuer != merchant) == [
        ledger.Outstanding(merchant, EUR, 300, 150, 100),
        ledger.Outstanding(other, EUR, 400, 200, 0),
    ]


def earn_order(session, member, points, *, merchant, order_id, at=None, lifetime_days=365):
    result = ledger.earn(
        session,
        member_key=member,
        issuer=ledger.Issuer(merchant, EUR, 500),
        points=points,
        idempotency_key=unique("earn"),
        ref=ledger.order_ref(merchant, order_id),
        memo=f"Order {order_id}",
        now=at or ledger.utcnow(),
        lifetime_days=lifetime_days,
    )
    session.commit()
    return result


def test_the_history_names_each_entry_by_structured_reference_newest_first(session):
    member, merchant = unique("u"), unique("m")
    earned = earn_order(session, member, 100, merchant=merchant, order_id="A:1")  # a colon inside the order id
    hold_id = hold(session, member, 30)
    session.get(Hold, hold_id).ref = ledger.redemption_ref(41)
    session.commit()
    redeemed = ledger.post_redemption(
        session, hold_id, supplier_key=merchant, currency=EUR, wholesale_value_cents=10, now=ledger.utcnow()
    )
    session.commit()

    history, older = ledger.member_history(session, member, before=None, limit=10)

    assert older is None
    assert [(h.kind, h.points, h.reference) for h in history] == [
        ("redeem", -30, ledger.Reference("redemption", redemption_id=41)),
        ("earn", 100, ledger.Reference("order", merchant_key=merchant, order_id="A:1")),
    ]
    assert [h.entry_id for h in history] == [redeemed.entry_id, earned.entry_id]
    assert history[1].memo == "Order A:1"


def test_an_expiry_in_the_history_names_the_lot_and_its_issuing_merchant(session):
    member, merchant = unique("u"), unique("m")
    past = ledger.utcnow() - timedelta(days=10)
    earned = earn_order(session, member, 50, merchant=merchant, order_id="o", at=past, lifetime_days=1)
    while ledger.expire_lots(session, now=ledger.utcnow()):
        session.commit()
    session.commit()

    history, _ = ledger.member_history(session, member, before=None, limit=10)

    assert history[0].kind == "expire"
    assert history[0].points == -50
    assert history[0].reference == ledger.Reference("lot", merchant_key=merchant, lot_id=earned.lot_id)


def test_the_history_pages_by_keyset_without_gaps_or_repeats(session):
    member, merchant = unique("u"), unique("m")
    for n in range(5):
        earn_order(session, member, 10 + n, merchant=merchant, order_id=str(n))

    seen, before = [], None
    while True:
        page, before = ledger.member_history(session, member, before=before, limit=2)
        seen += [h.points for h in page]
        if before is None:
            break

    assert seen == [14, 13, 12, 11, 10]
    assert ledger.member_history(session, unique("nobody"), before=None, limit=2) == ([], None)
    with pytest.raises(ValueError):
        ledger.member_history(session, member, before=None, limit=0)


def test_member_lots_list_open_lots_soonest_expiry_first(session):
    member, merchant = unique("u"), unique("m")
    # Far in the future, so that no job of another test (expiry notices) sees these lots.
    at = ledger.utcnow() + FAR
    later = earn_order(session, member, 10, merchant=merchant, order_id="a", at=at, lifetime_days=300)
    sooner = earn_order(session, member, 20, merchant=merchant, order_id="b", at=at, lifetime_days=30)
    spent = hold(session, member, 20, at=at)
    ledger.post_hold(session, spent, now=at)  # oldest first: all of `later`, 10 of `sooner`
    session.commit()

    lots = ledger.member_lots(session, member, limit=5)

    assert [(lot.lot_id, lot.points_remaining, lot.issuer, lot.member_key) for lot in lots] == [
        (sooner.lot_id, 10, merchant, member)
    ]
    assert later.lot_id not in {lot.lot_id for lot in lots}


def test_lots_expiring_skips_the_lots_the_caller_has_handled_inside_the_query(session):
    member, merchant = unique("u"), unique("m")
    now = ledger.utcnow() + FAR
    first = earn_order(session, member, 10, merchant=merchant, order_id="a", at=now, lifetime_days=2)
    second = earn_order(session, member, 20, merchant=merchant, order_id="b", at=now, lifetime_days=3)
    handled = Lot.__table__.alias("handled")
    only_first = select(handled.c.id).where(handled.c.id == first.lot_id).subquery()

    mine = [
        lot
        for lot in ledger.lots_expiring(session, after=now, until=now + timedelta(days=4), limit=10_000)
        if lot.member_key == member
    ]
    unhandled = [
        lot
        for lot in ledger.lots_expiring(
            session, after=now, until=now + timedelta(days=4), limit=10_000, skip_lot_ids_in=only_first.c.id
        )
        if lot.member_key == member
    ]

    assert [lot.lot_id for lot in mine] == [first.lot_id, second.lot_id]
    assert [lot.lot_id for lot in unhandled] == [second.lot_id]
