"""Incoming points and the operator as issuer, in the ledger core (rolled back after each test)."""

from __future__ import annotations

from datetime import timedelta

import ledger
from ledger import accounts
from ledger.types import utcnow
from tests.factories.names import unique

EUR = "EUR"
SHOP = ledger.Issuer("issuer-shop", EUR, 500)
OPERATOR = ledger.Issuer(ledger.OPERATOR, EUR, 500)


def earn(session, member, points, *, issuer=SHOP, at=None, available_at=None, lifetime_days=365, key=None):
    return ledger.earn(
        session,
        member_key=member,
        issuer=issuer,
        points=points,
        idempotency_key=key or unique("earn"),
        ref=f"order:{issuer.key}:{unique('o')}",
        now=at or utcnow(),
        lifetime_days=lifetime_days,
        available_at=available_at,
    )


def figures(session, member):
    found = ledger.member_points(session, member)
    return (found.balance, found.held, found.debt, found.incoming)


def balance_of(session, name, asset):
    acct = accounts.find_account(session, name, asset)
    return accounts.balance(session, acct) if acct else 0


def assert_rules_hold(session):
    assert [str(v) for v in ledger.verify(session).violations] == []


def clawback(session, member, points, entry_id, *, issuer=SHOP):
    return ledger.clawback(
        session,
        member_key=member,
        issuer=issuer,
        points=points,
        earn_entry_id=entry_id,
        idempotency_key=unique("refund"),
        ref="test",
        now=utcnow(),
    )


def test_incoming_points_are_neither_balance_nor_spendable_nor_expiring(db_session):
    member = unique("m")
    now = utcnow()
    earned = earn(db_session, member, 120, at=now, available_at=now + timedelta(days=14), lifetime_days=1)

    assert figures(db_session, member) == (0, 0, 0, 120)
    assert earned.member_after is None
    ledger.expire_lots(db_session, now=now + timedelta(days=10))
    assert figures(db_session, member) == (0, 0, 0, 120)
    [lot] = ledger.incoming_lots(db_session, member, limit=10)
    assert (lot.points, lot.available_at) == (120, now + timedelta(days=14))
    assert ledger.member_lots(db_session, member, limit=10) == []
    assert_rules_hold(db_session)


def test_release_makes_them_available_and_expiry_counts_from_then(db_session):
    member = unique("m")
    now = utcnow()
    earn(db_session, member, 120, at=now, available_at=now + timedelta(days=14), lifetime_days=30)

    ledger.release_due(db_session, now=now + timedelta(days=13))
    assert figures(db_session, member) == (0, 0, 0, 120)
    ledger.release_due(db_session, now=now + timedelta(days=14))

    assert figures(db_session, member) == (120, 0, 0, 0)
    [lot] = ledger.member_lots(db_session, member, limit=10)
    assert lot.expires_at == now + timedelta(days=44)
    history, _ = ledger.member_history(db_session, member, before=None, limit=10)
    assert sorted((h.kind, h.points, h.incoming) for h in history) == [
        ("earn", 120, True),
        ("release", -120, True),
        ("release", 120, False),
    ]
    assert_rules_hold(db_session)


def test_a_refund_of_incoming_points_never_creates_debt(db_session):
    member = unique("m")
    now = utcnow()
    earned = earn(db_session, member, 100, at=now, available_at=now + timedelta(days=14))
    float_before = balance_of(db_session, accounts.POINTS_FLOAT, EUR)

    taken = clawback(db_session, member, 60, earned.entry_id)

    assert (taken.points_from_balance, taken.points_to_debt, taken.value_returned_cents) == (60, 0, 30)
    assert figures(db_session, member) == (0, 0, 0, 40)
    assert balance_of(db_session, accounts.POINTS_FLOAT, EUR) - float_before == -30
    assert ledger.release_lot(db_session, earn_entry_id=earned.entry_id, now=now) == 40
    assert ledger.release_lot(db_session, earn_entry_id=earned.entry_id, now=now) == 0
    assert figures(db_session, member) == (40, 0, 0, 0)
    assert_rules_hold(db_session)


def test_arriving_points_repay_debt_first(db_session):
    member = unique("m")
    now = utcnow()
    spent = earn(db_session, member, 100, at=now)
    hold = ledger.place_hold(
        db_session, member_key=member, points=100, idempotency_key=unique("h"), ref="t", now=now, timeout_s=60
    )
    ledger.post_hold(db_session, hold.id, now=now)
    clawback(db_session, member, 100, spent.entry_id)  # spent, then refunded: 100 owed
    assert figures(db_session, member) == (0, 0, 100, 0)
    incoming = earn(db_session, member, 150, at=now, available_at=now + timedelta(days=1))
    assert figures(db_session, member) == (0, 0, 100, 150)  # still owed while incoming

    assert ledger.release_lot(db_session, earn_entry_id=incoming.entry_id, now=now) == 150

    assert figures(db_session, member) == (50, 0, 0, 0)
    assert_rules_hold(db_session)


def test_the_operator_pays_for_its_own_points(db_session):
    member = unique("m")
    programme_before = balance_of(db_session, accounts.PLATFORM_PROGRAMME, EUR)
    issued_before = balance_of(db_session, accounts.PLATFORM_ISSUED, "PTS")

    earned = earn(db_session, member, 200, issuer=OPERATOR)
    clawback(db_session, member, 50, earned.entry_id, issuer=OPERATOR)

    assert balance_of(db_session, accounts.PLATFORM_PROGRAMME, EUR) - programme_before == -75
    assert balance_of(db_session, accounts.PLATFORM_ISSUED, "PTS") - issued_before == -150
    assert figures(db_session, member) == (150, 0, 0, 0)
    assert_rules_hold(db_session)


def test_verify_names_an_incoming_account_that_disagrees_with_its_lots(db_session):
    member = unique("m")
    now = utcnow()
    earn(db_session, member, 80, at=now, available_at=now + timedelta(days=3))
    incoming = accounts.find_account(db_session, accounts.member_incoming_account(member), "PTS")
    accounts.apply(db_session, [(incoming, 5)])

    found = [str(v) for v in ledger.verify(db_session).violations]

    assert any("incoming lots hold 80, incoming account 85" in v for v in found), found
