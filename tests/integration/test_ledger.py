"""The ledger core on a real database: holds, lots, expiry, reversals, verify."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

import ledger
from ledger import accounts
from ledger.journal import Leg, post
from ledger.models import Lot, Posting
from ledger.types import utcnow
from tests.conftest import free_port, make_app, upgrade
from tests.factories.names import unique

EUR = "EUR"
CHEAP = ledger.Issuer("issuer-cheap", EUR, 500)
DEAR = ledger.Issuer("issuer-dear", EUR, 800)


def earn(session, member, points, *, issuer=CHEAP, at=None, lifetime_days=365):
    result = ledger.earn(
        session,
        member_key=member,
        issuer=issuer,
        points=points,
        idempotency_key=unique("earn"),
        ref="test",
        now=at or utcnow(),
        lifetime_days=lifetime_days,
    )
    session.commit()
    return result


def hold(session, member, points, *, timeout_s=600, at=None):
    placed = ledger.place_hold(
        session,
        member_key=member,
        points=points,
        idempotency_key=unique("hold"),
        ref="test",
        now=at or utcnow(),
        timeout_s=timeout_s,
    )
    session.commit()
    return placed.id


def points(session, member):
    found = ledger.member_points(session, member)
    session.rollback()
    return (found.balance, found.held, found.debt)


def balance_of(session, name, asset):
    acct = accounts.find_account(session, name, asset)
    value = accounts.balance(session, acct) if acct else 0
    session.rollback()
    return value


def assert_rules_hold(session):
    report = ledger.verify(session)
    session.rollback()
    assert report.violations == []


def test_a_hold_posts_at_most_once(session):
    member = unique("m")
    earn(session, member, 100)
    hold_id = hold(session, member, 40)

    ledger.post_hold(session, hold_id, now=utcnow())
    session.commit()

    with pytest.raises(ledger.HoldAlreadyResolved):
        ledger.post_hold(session, hold_id, now=utcnow())
    session.rollback()
    with pytest.raises(ledger.HoldAlreadyResolved):
        ledger.void_hold(session, hold_id, now=utcnow())
    session.rollback()
    assert points(session, member) == (60, 0, 0)
    assert_rules_hold(session)


def test_a_voided_hold_returns_the_points_and_cannot_be_posted(session):
    member = unique("m")
    earn(session, member, 100)
    hold_id = hold(session, member, 70)
    assert points(session, member) == (100, 70, 0)

    ledger.void_hold(session, hold_id, now=utcnow())
    session.commit()

    with pytest.raises(ledger.HoldAlreadyResolved):
        ledger.post_hold(session, hold_id, now=utcnow())
    session.rollback()
    assert points(session, member) == (100, 0, 0)


def test_a_partial_post_spends_part_and_releases_the_rest(session):
    member = unique("m")
    earn(session, member, 100)
    hold_id = hold(session, member, 50)

    posted = ledger.post_hold(session, hold_id, now=utcnow(), points=20)
    session.commit()

    assert (posted.status, posted.points_posted) == ("posted", 20)
    assert points(session, member) == (80, 0, 0)
    assert_rules_hold(session)


def test_a_hold_past_its_timeout_cannot_post_and_the_job_voids_it(session):
    member = unique("m")
    start = utcnow()
    earn(session, member, 100, at=start)
    hold_id = hold(session, member, 30, timeout_s=60, at=start)

    with pytest.raises(ledger.HoldExpired):
        ledger.post_hold(session, hold_id, now=start + timedelta(seconds=61))
    session.rollback()
    voided = ledger.expire_holds(session, now=start + timedelta(seconds=61))
    session.commit()

    assert voided >= 1
    assert points(session, member) == (100, 0, 0)
    assert ledger.expire_holds(session, now=start + timedelta(seconds=61)) == 0


def test_a_hold_beyond_the_available_points_is_refused(session):
    member = unique("m")
    earn(session, member, 100)
    hold(session, member, 80)

    with pytest.raises(ledger.InsufficientPoints):
        ledger.place_hold(
            session, member_key=member, points=21, idempotency_key=unique("h"), ref="t", now=utcnow(), timeout_s=60
        )
    session.rollback()
    assert points(session, member) == (100, 80, 0)


def test_placing_a_hold_again_with_its_key_returns_it_and_another_amount_conflicts(session):
    member = unique("m")
    earn(session, member, 100)
    key = unique("hold")
    first = ledger.place_hold(
        session, member_key=member, points=10, idempotency_key=key, ref="t", now=utcnow(), timeout_s=60
    )
    session.commit()
    again = ledger.place_hold(
        session, member_key=member, points=10, idempotency_key=key, ref="t", now=utcnow(), timeout_s=60
    )
    assert again.id == first.id
    session.rollback()

    with pytest.raises(ledger.IdempotencyConflict):
        ledger.place_hold(
            session, member_key=member, points=11, idempotency_key=key, ref="t", now=utcnow(), timeout_s=60
        )
    session.rollback()
    assert points(session, member) == (100, 10, 0)


def test_spending_takes_the_oldest_lot_first_with_its_own_value(session):
    member = unique("m")
    start = utcnow() - timedelta(days=10)
    earn(session, member, 100, issuer=DEAR, at=start)
    earn(session, member, 100, issuer=CHEAP, at=start + timedelta(days=1))
    value_before = balance_of(session, accounts.REDEMPTION_VALUE, EUR)

    ledger.post_hold(session, hold(session, member, 150), now=utcnow())
    session.commit()

    lots = session.execute(
        select(Lot.issuer, Lot.points_remaining, Lot.value_remaining_cents)
        .where(Lot.member_account_id == accounts.find_account(session, f"member:{member}", "PTS").id)
        .order_by(Lot.earned_at)
    ).all()
    session.rollback()
    assert [tuple(lot) for lot in lots] == [("issuer-dear", 0, 0), ("issuer-cheap", 50, 25)]
    # 100 points at 8.00/1000 (80 cents) and 50 at 5.00/1000 (25 cents) left the float.
    assert balance_of(session, accounts.REDEMPTION_VALUE, EUR) - value_before == 105
    assert_rules_hold(session)


def test_expired_lots_become_breakage_but_points_under_a_hold_wait_for_it(session):
    member = unique("m")
    start = utcnow() - timedelta(days=40)
    earn(session, member, 100, at=start, lifetime_days=30)
    earn(session, member, 50, at=start + timedelta(days=20), lifetime_days=365)
    hold_id = hold(session, member, 120, at=utcnow())
    breakage_before = balance_of(session, accounts.REVENUE_BREAKAGE, EUR)

    ledger.expire_lots(session, now=utcnow())
    session.commit()

    # The hold covers the oldest lot first, so none of it expires while held.
    assert points(session, member) == (150, 120, 0)
    ledger.void_hold(session, hold_id, now=utcnow())
    ledger.expire_lots(session, now=utcnow())
    session.commit()
    assert points(session, member) == (50, 0, 0)
    assert balance_of(session, accounts.REVENUE_BREAKAGE, EUR) - breakage_before == 50
    assert balance_of(session, f"member:{member}", "PTS") == 50
    assert_rules_hold(session)


def test_running_expiry_twice_expires_nothing_more(session):
    member = unique("m")
    earn(session, member, 100, at=utcnow() - timedelta(days=3), lifetime_days=1)
    ledger.expire_lots(session, now=utcnow())
    session.commit()

    assert ledger.expire_lots(session, now=utcnow()) == 0
    session.rollback()
    assert points(session, member) == (0, 0, 0)


def test_an_entry_that_does_not_balance_is_refused(session):
    cash = accounts.account(session, "platform:cash", EUR)
    fees = accounts.account(session, "platform:revenue:fees", EUR)

    with pytest.raises(ledger.UnbalancedEntry):
        post(session, kind="adjustment", legs=[Leg(cash, 100), Leg(fees, -99)], ref="t", now=utcnow())
    session.rollback()


def test_a_reversal_mirrors_its_entry_once_and_points_entries_use_their_own_flow(session):
    cash = accounts.account(session, "platform:cash", EUR)
    fees = accounts.account(session, "platform:revenue:fees", EUR)
    original = post(session, kind="adjustment", legs=[Leg(cash, 250), Leg(fees, -250)], ref="t", now=utcnow())
    session.commit()

    reversal = ledger.reverse(session, original.id, idempotency_key=unique("rev"), ref="t", now=utcnow())
    session.commit()
    mirrored = session.execute(select(Posting.account_id, Posting.amount).where(Posting.entry_id == reversal.id)).all()
    assert sorted(mirrored) == sorted([(cash.id, -250), (fees.id, 250)])
    with pytest.raises(ledger.NotReversible):
        ledger.reverse(session, original.id, idempotency_key=unique("rev"), ref="t", now=utcnow())
    session.rollback()
    earned = earn(session, unique("m"), 10)
    with pytest.raises(ledger.NotReversible):
        ledger.reverse(session, earned.entry_id, idempotency_key=unique("rev"), ref="t", now=utcnow())
    session.rollback()
    assert_rules_hold(session)


def test_an_idempotency_key_replays_its_answer_and_refuses_another_request(session):
    scope, key = "test", unique("k")
    assert ledger.claim_request(session, scope, key, ledger.request_fingerprint({"a": 1, "b": 2})) is None
    ledger.complete_request(session, scope, key, {"answer": 42})
    session.commit()

    assert ledger.claim_request(session, scope, key, ledger.request_fingerprint({"b": 2, "a": 1})) == {"answer": 42}
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.claim_request(session, scope, key, ledger.request_fingerprint({"a": 1, "b": 3}))
    session.rollback()


def test_debt_is_repaid_to_the_merchant_whose_refund_created_it(session):
    member = unique("m")
    earned = earn(session, member, 100, issuer=DEAR)
    ledger.post_hold(session, hold(session, member, 100), now=utcnow())
    session.commit()
    receivable_before = balance_of(session, accounts.receivable_account(DEAR.key), EUR)

    ledger.clawback(
        session,
        member_key=member,
        issuer=DEAR,
        points=60,
        earn_entry_id=earned.entry_id,
        idempotency_key=unique("cb"),
        ref="t",
        now=utcnow(),
    )
    session.commit()
    assert points(session, member) == (0, 0, 60)
    repaid = earn(session, member, 100, issuer=CHEAP)

    assert (repaid.points_to_debt, repaid.points_to_balance) == (60, 40)
    assert points(session, member) == (40, 0, 0)
    # CHEAP paid 50 cents for 100 points: 30 for the 60 that repaid DEAR's debt.
    assert balance_of(session, accounts.receivable_account(DEAR.key), EUR) - receivable_before == 30
    assert_rules_hold(session)


@pytest.fixture
def own_database(databases):
    """A database of its own, for tests that corrupt it on purpose."""
    app = make_app(databases.new())
    yield app
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()


def seed_demo(app):
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output


def verify_cli(app):
    return app.test_cli_runner().invoke(args=["ledger", "verify"])


def test_verify_passes_on_the_demo_database(own_database):
    seed_demo(own_database)

    result = verify_cli(own_database)

    assert result.exit_code == 0, result.output
    assert "all rules hold" in result.output


@pytest.mark.parametrize(
    ("tamper", "rule"),
    [
        ("UPDATE ledger_postings SET amount = amount + 1 WHERE id = (SELECT MIN(id) FROM ledger_postings)", "rule 1"),
        (
            "UPDATE ledger_balances SET balance = balance + 5 WHERE account_id = (SELECT MIN(id) FROM ledger_accounts)",
            "rule 6",
        ),
        (
            "UPDATE ledger_lots SET points_remaining = points_remaining - 1 WHERE id = (SELECT MAX(id) FROM ledger_lots)",
            "rule 7",
        ),
        ("UPDATE ledger_lots SET value_expired = value_expired + 1 WHERE points_expired > 0", "rule 7"),
        (
            "UPDATE ledger_balances SET pending = pending + 1 WHERE account_id = (SELECT MIN(account_id) FROM ledger_holds)",
            "rule 5",
        ),
        ("UPDATE ledger_entries SET memo = 'changed' WHERE id = (SELECT MIN(id) FROM ledger_entries)", "rule 8"),
    ],
    ids=["posting", "stored-balance", "lot", "expired-lot", "pending", "entry-memo"],
)
def test_verify_fails_naming_the_rule_after_a_change_by_hand(own_database, tamper, rule):
    seed_demo(own_database)
    from app.extensions import db

    with own_database.app_context(), Session(db.engine) as s:
        s.execute(text(tamper))
        s.commit()

    result = verify_cli(own_database)

    assert result.exit_code == 1
    assert f"VIOLATION {rule}" in result.output


def test_an_altered_posting_also_breaks_the_hash_chain(own_database):
    seed_demo(own_database)
    from app.extensions import db

    with own_database.app_context(), Session(db.engine) as s:
        first = s.execute(select(Posting.id).order_by(Posting.id).limit(1)).scalar_one()
        s.execute(update(Posting).where(Posting.id == first).values(amount=Posting.amount * 2))
        s.commit()
        messages = [str(v) for v in ledger.verify(s).violations]

    assert any(m.startswith("rule 8") for m in messages)
    assert any(m.startswith("rule 2") for m in messages)


@pytest.mark.parametrize("sweep_before_posting", [True, False], ids=["sweep-first", "post-first"])
def test_held_points_come_from_the_oldest_lots_whenever_expiry_runs(session, sweep_before_posting):
    member = unique("m")
    start = utcnow() - timedelta(days=10)
    earn(session, member, 100, at=start, lifetime_days=5)
    earn(session, member, 100, at=start + timedelta(days=1), lifetime_days=365)
    hold_id = hold(session, member, 100, at=start + timedelta(days=2), timeout_s=30 * 86400)

    if sweep_before_posting:
        assert ledger.expire_lots(session, now=utcnow()) == 0
        session.commit()
    ledger.post_hold(session, hold_id, now=utcnow())
    ledger.expire_lots(session, now=utcnow())
    session.commit()

    # The hold spent the expiring lot; the younger lot is intact either way.
    assert points(session, member) == (100, 0, 0)
    assert_rules_hold(session)


def test_refunding_points_that_expired_takes_them_back_from_breakage_not_from_the_member(session):
    member = unique("m")
    start = utcnow() - timedelta(days=10)
    earned = earn(session, member, 100, issuer=DEAR, at=start, lifetime_days=5)
    ledger.expire_lots(session, now=utcnow())
    session.commit()
    breakage_before = balance_of(session, accounts.REVENUE_BREAKAGE, EUR)
    receivable_before = balance_of(session, accounts.receivable_account(DEAR.key), EUR)

    result = ledger.clawback(
        session,
        member_key=member,
        issuer=DEAR,
        points=60,
        earn_entry_id=earned.entry_id,
        idempotency_key=unique("cb"),
        ref="t",
        now=utcnow(),
    )
    session.commit()

    assert (result.points_from_balance, result.points_from_expired, result.points_to_debt) == (0, 60, 0)
    assert points(session, member) == (0, 0, 0)
    # 60 of the 100 expired points (80 cents at 8.00/1000) were never owed: 48 cents go back.
    assert breakage_before - balance_of(session, accounts.REVENUE_BREAKAGE, EUR) == 48
    assert balance_of(session, accounts.receivable_account(DEAR.key), EUR) - receivable_before == 48
    assert_rules_hold(session)


def test_members_whose_expired_points_are_all_held_do_not_block_the_members_after_them(databases):
    from sqlalchemy import create_engine

    engine = create_engine(databases.new())
    try:
        with Session(engine) as s:
            past = utcnow() - timedelta(days=3)
            held = [unique("held"), unique("held")]
            for member in held:  # the first members in id order: every expired point is under a hold
                earn(s, member, 40, at=past, lifetime_days=1)
                hold(s, member, 40)
            free = unique("free")
            earn(s, free, 25, at=past, lifetime_days=1)

            # One member per batch: the job must look past the held ones to find work.
            assert ledger.expire_lots(s, now=utcnow(), batch_max=1) == 25
            s.commit()
            assert points(s, free) == (0, 0, 0)
            assert [points(s, member) for member in held] == [(40, 40, 0), (40, 40, 0)]
            assert ledger.expire_lots(s, now=utcnow(), batch_max=1) == 0
            assert_rules_hold(s)
    finally:
        engine.dispose()


def verify_once(url: str):
    """``ledger verify`` by an app of its own, whose pool is closed afterwards."""
    app = make_app(url)
    try:
        return verify_cli(app)
    finally:
        from app.extensions import db

        with app.app_context():
            db.engine.dispose()


def test_verify_on_a_database_without_the_schema_says_so_in_one_line(databases):
    result = verify_once(databases.new(migrate=False))

    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "ledger verify: the database has no schema yet: run `flask --app wsgi db upgrade`"
    ]


def test_verify_on_an_unreachable_database_says_so_in_one_line():
    result = verify_once(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere")

    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("ledger verify: the database does not answer (")


def test_verify_on_a_database_behind_the_migrations_says_which_revision(databases):
    url = databases.new(migrate=False)
    upgrade(url, "0008")

    result = verify_once(url)

    assert result.exit_code == 2
    assert "is at 0008, this release needs " in result.output and "db upgrade" in result.output
