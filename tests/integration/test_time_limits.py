"""Every time limit, at its boundary and one second on the other side, with an injected clock.

The services take ``now``; click tokens and sign-in links are signed at a chosen
instant (ClickTokens.issue(now=...), members.sign_in._serializer(now)). Jobs that scan the
whole shared database run at an instant long past (CLOCK_ZERO) or inside a transaction
that is rolled back, so they never touch another test's rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app.boutique import services as boutique
from app.commissions import attribution
from app.commissions import services as commissions
from app.commissions.models import Commission
from app.errors import Invalid
from app.identity.auth import merchant_of_key
from app.identity.keys import hash_key
from app.members import sign_in
from app.members.errors import LinkRefused
from app.settlement import services as settlement
from app.unit_of_work import UnitOfWork
from ledger.models import Hold
from ledger.types import utcnow
from tests.factories.affiliates import build_world
from tests.factories.boutique import redeem, reward
from tests.factories.members import member_with_points
from tests.factories.names import unique, unique_email

ONE_SECOND = timedelta(seconds=1)
# Far before any other test's rows: a job run at this instant sees only this module's.
CLOCK_ZERO = datetime(2001, 1, 1, 12, 0, 0, tzinfo=UTC)
SIGN_IN_LINK_AGE_MAX = timedelta(minutes=15)  # docs/boutique.md
REDEMPTION_HOLD_TIMEOUT = timedelta(days=14)  # docs/boutique.md
STATEMENT_CLOSE_DELAY = timedelta(seconds=300)  # docs/settlement.md


@pytest.fixture
def rolled_back(app, engine):
    """A session in the app context whose work is never committed."""
    with app.app_context(), Session(engine) as session:
        yield session
        session.rollback()


def click_token(app, world, *, at: datetime) -> str:
    return app.extensions["clicks"].tokens.issue(
        click_id=unique("c")[:20],
        affiliate_id=int(world.affiliate["id"]),
        program_id=int(world.program["id"]),
        link_id=int(world.link["id"]),
        now=at,
    )


def attribute(session, world, token: str, *, now: datetime):
    from app.extensions import db

    merchant = merchant_of_key(hash_key(world.merchant["api_key"]))
    db.session.remove()  # the key lookup's read transaction; on SQLite it would block the session's writes
    return attribution.attribute(
        UnitOfWork(session, now=now),
        merchant,
        token=token,
        kind="sale",
        conversion_ref=f"order:{unique('o')}",
        sale_cents=10_000,
        member_email=unique_email(),
    )


@pytest.mark.parametrize(("past_window", "expected_error"), [(timedelta(0), None), (ONE_SECOND, "expired")])
def test_a_click_earns_until_exactly_the_programs_window_and_not_a_second_longer(
    app, client, admin_headers, new_merchant, rolled_back, past_window, expected_error
):
    world = build_world(client, admin_headers, new_merchant, attribution_window_days=7)
    clicked_at = utcnow().replace(microsecond=0) - timedelta(days=8)  # tokens carry whole seconds

    brief, error = attribute(
        rolled_back, world, click_token(app, world, at=clicked_at), now=clicked_at + timedelta(days=7) + past_window
    )

    assert error == expected_error
    assert (brief is None) == (expected_error is not None)


@pytest.mark.parametrize(("after_hold", "status"), [(-ONE_SECOND, "pending"), (timedelta(0), "approved")])
def test_a_commission_is_approved_by_the_job_exactly_when_its_hold_ends(
    app, client, admin_headers, new_merchant, rolled_back, after_hold, status
):
    world = build_world(client, admin_headers, new_merchant, hold_days=3)
    ordered_at = CLOCK_ZERO + timedelta(minutes=5)
    brief, error = attribute(rolled_back, world, click_token(app, world, at=CLOCK_ZERO), now=ordered_at)
    assert error is None

    rolled_back.commit = rolled_back.flush  # the job commits its batch; this one must stay uncommitted
    commissions.approve_due(UnitOfWork(rolled_back, now=ordered_at + timedelta(days=3) + after_hold), limit=100)

    commission = rolled_back.get(Commission, int(brief["id"]))
    assert commission.status == status


@pytest.mark.parametrize(("after_expiry", "points_left"), [(-ONE_SECOND, 100), (timedelta(0), 0)])
def test_a_lot_expires_exactly_at_the_end_of_its_lifetime(rolled_back, after_expiry, points_left):
    member = unique("m")
    ledger.earn(
        rolled_back,
        member_key=member,
        issuer=ledger.Issuer(unique("issuer"), "EUR", 500),
        points=100,
        idempotency_key=unique("earn"),
        ref="test",
        now=CLOCK_ZERO,
        lifetime_days=30,
    )

    while ledger.expire_lots(rolled_back, now=CLOCK_ZERO + timedelta(days=30) + after_expiry):
        pass

    assert ledger.member_points(rolled_back, member).balance == points_left


@pytest.mark.parametrize(("after_timeout", "status"), [(-ONE_SECOND, "pending"), (timedelta(0), "voided")])
def test_a_hold_is_voided_by_the_job_exactly_at_its_timeout(rolled_back, after_timeout, status):
    member = unique("m")
    ledger.earn(
        rolled_back,
        member_key=member,
        issuer=ledger.Issuer(unique("issuer"), "EUR", 500),
        points=100,
        idempotency_key=unique("earn"),
        ref="test",
        now=CLOCK_ZERO,
        lifetime_days=365,
    )
    hold = ledger.place_hold(
        rolled_back,
        member_key=member,
        points=30,
        idempotency_key=unique("hold"),
        ref="test",
        now=CLOCK_ZERO,
        timeout_s=600,
    )

    ledger.expire_holds(rolled_back, now=CLOCK_ZERO + timedelta(seconds=600) + after_timeout)

    assert rolled_back.get(Hold, hold.id).status == status


@pytest.mark.parametrize(("after_timeout", "status"), [(-ONE_SECOND, "placed"), (timedelta(0), "expired")])
def test_a_placed_redemption_expires_exactly_when_its_hold_times_out(
    app, client, engine, merchant, after_timeout, status
):
    item = reward(client, merchant, stock=1)
    _, earned, member = member_with_points(app, engine, client, merchant)
    assert redeem(member, item["id"]).status_code == 303

    with app.app_context(), Session(engine) as session:
        redemption = session.execute(
            select(boutique.Redemption).where(boutique.Redemption.member_id == int(earned["member_id"]))
        ).scalar_one()
        assert redemption.expires_at - redemption.created_at == REDEMPTION_HOLD_TIMEOUT
        # The job sweeps every redemption due by then; rolled back, it leaves other tests' alone.
        boutique.expire_redemptions(UnitOfWork(session, now=redemption.expires_at + after_timeout))
        assert redemption.status == status
        session.rollback()


def new_sign_in_link(session, *, at: datetime) -> str:
    tokens: list[str] = []
    sign_in.request_link(
        UnitOfWork(session, now=at),
        email=unique_email(),
        client=unique("client"),
        secret_key="time-limit-test-secret",
        link_url=lambda token: tokens.append(token) or f"http://localhost/signin/link?token={token}",
    )
    return tokens[0]


@pytest.mark.parametrize(
    ("age", "accepted"), [(SIGN_IN_LINK_AGE_MAX - ONE_SECOND, True), (SIGN_IN_LINK_AGE_MAX, False)]
)
def test_a_sign_in_link_works_while_younger_than_fifteen_minutes(app, engine, age, accepted):
    sent_at = utcnow().replace(microsecond=0) - timedelta(hours=1)
    with app.app_context(), Session(engine) as session:
        token = new_sign_in_link(session, at=sent_at)

        if accepted:
            member_id, _epoch = sign_in.use_link(
                UnitOfWork(session, now=sent_at + age), token=token, secret_key="time-limit-test-secret"
            )
            assert member_id > 0
        else:
            with pytest.raises(LinkRefused, match="expired"):
                sign_in.use_link(
                    UnitOfWork(session, now=sent_at + age), token=token, secret_key="time-limit-test-secret"
                )


def test_a_sign_in_link_past_its_age_is_refused_by_its_signature_too(app, engine):
    sent_at = utcnow().replace(microsecond=0) - timedelta(hours=1)
    with app.app_context(), Session(engine) as session:
        token = new_sign_in_link(session, at=sent_at)

        with pytest.raises(LinkRefused, match="expired"):
            sign_in.use_link(
                UnitOfWork(session, now=sent_at + SIGN_IN_LINK_AGE_MAX + ONE_SECOND),
                token=token,
                secret_key="time-limit-test-secret",
            )


@pytest.mark.parametrize(("before_delay", "issued"), [(timedelta(0), True), (ONE_SECOND, False)])
def test_a_statement_closes_a_period_ending_at_least_the_close_delay_ago(app, engine, merchant, before_delay, issued):
    close_delay_s = app.config["STATEMENT_CLOSE_DELAY_S"] or settlement_default_delay()
    assert timedelta(seconds=close_delay_s) == STATEMENT_CLOSE_DELAY
    now = utcnow() + timedelta(hours=1)
    period_end = now - STATEMENT_CLOSE_DELAY + before_delay

    with app.app_context(), UnitOfWork(Session(engine), now=now) as uow:
        if issued:
            statement = settlement.issue_statement(uow, int(merchant["id"]), period_end, close_delay_s=close_delay_s)
            assert statement.period_end == period_end
        else:
            with pytest.raises(Invalid):
                settlement.issue_statement(uow, int(merchant["id"]), period_end, close_delay_s=close_delay_s)


def settlement_default_delay() -> int:
    """The delay production uses (the tests' app sets 0 to issue statements at once)."""
    from app.config import load

    return load("/nonexistent", env={})["STATEMENT_CLOSE_DELAY_S"]
