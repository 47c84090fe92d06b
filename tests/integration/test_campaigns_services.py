"""The bonuses campaigns give an order: matching, rounding, preview against award, the budget cap."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign
from app.campaigns.services import Bonus, award, offered
from app.unit_of_work import UnitOfWork
from ledger.types import utcnow
from tests.factories.campaigns import facts, stored_campaign
from tests.factories.names import unique
from tests.integration.test_concurrency import run_together
from tests.integration.test_route_access import row_counts


@pytest.fixture
def merchant_id(merchant) -> int:
    return int(merchant["id"])


def awarded(engine, campaign_id: int) -> int:
    with Session(engine) as s:
        return s.execute(select(Campaign.points_awarded).where(Campaign.id == campaign_id)).scalar_one()


def offered_now(engine, order) -> list[Bonus]:
    with Session(engine) as s:
        return offered(s, order)


def award_and_commit(engine, order) -> list[Bonus]:
    with UnitOfWork(Session(engine)) as uow:
        return uow.commit(award(uow.session, order))


# -- matching ----------------------------------------------------------------------------

MATCHING = {
    # conditions, facts overrides, matches
    "no conditions": ({}, {}, True),
    "first order here, it is": ({"first_order": True}, {"first_order_here": True, "first_order_anywhere": False}, True),
    "first order here, it is not": ({"first_order": True}, {"first_order_here": False}, False),
    "first order false is no condition": ({"first_order": False}, {"first_order_here": False}, True),
    "minimum reached": ({"min_amount_cents": 10_000}, {"amount_cents": 10_000}, True),
    "minimum missed by a cent": ({"min_amount_cents": 10_000}, {"amount_cents": 9_999}, False),
    "a category in common": ({"categories": ["bikes", "tools"]}, {"categories": frozenset({"tools", "food"})}, True),
    "no category in common": ({"categories": ["bikes"]}, {"categories": frozenset({"food"})}, False),
    "categories but no lines": ({"categories": ["bikes"]}, {"categories": frozenset()}, False),
    "the tier": ({"tier": "Gold"}, {"tier": "Gold"}, True),
    "another tier": ({"tier": "Gold"}, {"tier": "Silver"}, False),
    "no tier": ({"tier": "Gold"}, {"tier": None}, False),
    "every condition": (
        {"first_order": True, "min_amount_cents": 500, "categories": ["bikes"], "tier": "Gold"},
        {"categories": frozenset({"bikes"}), "tier": "Gold"},
        True,
    ),
}


@pytest.mark.parametrize("case", MATCHING.values(), ids=MATCHING.keys())
def test_a_merchant_campaign_matches_its_conditions(engine, merchant_id, case):
    conditions, overrides, matches = case
    campaign_id = stored_campaign(engine, merchant_id, conditions=conditions)

    bonuses = offered_now(engine, facts(merchant_id, **overrides))

    assert [b.campaign_id for b in bonuses] == ([campaign_id] if matches else [])


def test_a_merchant_campaign_ignores_other_merchants_orders(engine, new_merchant, merchant_id):
    stored_campaign(engine, merchant_id)
    other = int(new_merchant()["id"])

    assert offered_now(engine, facts(other)) == []


def test_an_operator_campaign_applies_at_every_merchant_and_is_paid_by_the_operator(engine, new_merchant):
    tier = unique("T")
    campaign_id = stored_campaign(engine, None, conditions={"tier": tier}, effect={"type": "bonus", "points": 75})
    first, second = int(new_merchant()["id"]), int(new_merchant()["id"])

    for merchant_id in (first, second):
        bonuses = offered_now(engine, facts(merchant_id, tier=tier))
        assert [(b.campaign_id, b.funder, b.points) for b in bonuses] == [(campaign_id, "operator", 75)]


def test_an_operator_first_order_campaign_asks_for_the_first_order_in_the_coalition(engine, merchant_id):
    tier = unique("T")
    stored_campaign(engine, None, conditions={"first_order": True, "tier": tier})

    here_only = facts(merchant_id, tier=tier, first_order_here=True, first_order_anywhere=False)
    anywhere = facts(merchant_id, tier=tier, first_order_here=False, first_order_anywhere=True)

    assert offered_now(engine, here_only) == []
    assert len(offered_now(engine, anywhere)) == 1


def test_only_an_active_campaign_gives_points(engine, merchant_id):
    now = utcnow()
    stored_campaign(engine, merchant_id, starts_at=now + timedelta(hours=1), ends_at=now + timedelta(days=1))
    then = now - timedelta(days=3)
    stored_campaign(engine, merchant_id, now=then, ends_at=then + timedelta(days=1))
    paused = stored_campaign(engine, merchant_id)
    ended = stored_campaign(engine, merchant_id)
    with Session(engine) as s:
        s.get(Campaign, paused).paused_at = now
        s.get(Campaign, ended).ended_at = now
        s.commit()

    assert offered_now(engine, facts(merchant_id, now=now)) == []


def test_a_campaign_ends_at_its_end_and_starts_at_its_start(engine, merchant_id):
    now = utcnow()
    starts_at, ends_at = now - timedelta(hours=1), now + timedelta(hours=1)
    campaign_id = stored_campaign(engine, merchant_id, starts_at=starts_at, ends_at=ends_at)

    def ids(at):
        return [b.campaign_id for b in offered_now(engine, facts(merchant_id, now=at))]

    assert (ids(starts_at), ids(ends_at - timedelta(microseconds=1)), ids(ends_at)) == (
        [campaign_id],
        [campaign_id],
        [],
    )
    assert ids(starts_at - timedelta(microseconds=1)) == []


# -- the effect ----------------------------------------------------------------------------

# base points, factor_bp, extra points: floor(base * (factor_bp - 10000) / 10000)
ROUNDING = [
    (60, 20000, 60),
    (60, 15000, 30),
    (7, 15000, 3),
    (1, 19999, 0),
    (3, 13333, 0),
    (10, 12500, 2),
    (999, 10001, 0),
    (10_000, 10001, 1),
    (123, 100000, 1107),
]


def test_the_documented_rounding_table_is_the_tested_one():
    text = (Path(__file__).resolve().parents[2] / "docs" / "programme.md").read_text()
    section = text.split("### How many points", 1)[1].split("\n### ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    documented = [tuple(int(cell) for cell in row) for row in rows[2:]]

    assert documented == ROUNDING


@pytest.mark.parametrize(("base", "factor_bp", "extra"), ROUNDING)
def test_a_multiplier_gives_the_extra_points_rounded_down(engine, merchant_id, base, factor_bp, extra):
    stored_campaign(engine, merchant_id, effect={"type": "multiplier", "factor_bp": factor_bp})

    bonuses = offered_now(engine, facts(merchant_id, base_points=base))

    assert [b.points for b in bonuses] == ([extra] if extra else [])


def test_bonuses_come_in_campaign_order_each_capped_by_its_remaining_budget(engine, merchant_id):
    first = stored_campaign(engine, merchant_id, effect={"type": "bonus", "points": 500}, budget_points=200)
    second = stored_campaign(engine, merchant_id, effect={"type": "multiplier", "factor_bp": 20000})

    bonuses = offered_now(engine, facts(merchant_id, base_points=60))

    assert [(b.campaign_id, b.funder, b.points) for b in bonuses] == [
        (first, "merchant", 200),
        (second, "merchant", 60),
    ]
    assert all(b.name for b in bonuses)


# -- preview and award ---------------------------------------------------------------------


def test_offered_equals_award_and_writes_nothing(app, engine, merchant_id):
    first = stored_campaign(engine, merchant_id, effect={"type": "bonus", "points": 500}, budget_points=700)
    stored_campaign(engine, merchant_id, effect={"type": "multiplier", "factor_bp": 30000})
    order = facts(merchant_id, base_points=60)
    before = row_counts(app)

    with Session(engine) as s:
        previewed = offered(s, order)
        assert not s.new and not s.dirty
    after_preview = row_counts(app)
    assert awarded(engine, first) == 0
    granted = award_and_commit(engine, order)

    assert after_preview == before
    assert previewed == granted
    assert [b.points for b in granted] == [500, 120]
    assert [b.points for b in offered_now(engine, order)] == [200, 120]


def test_award_adds_to_points_awarded_and_stops_at_the_budget(engine, merchant_id):
    campaign_id = stored_campaign(engine, merchant_id, effect={"type": "bonus", "points": 400}, budget_points=1000)

    grants = [[b.points for b in award_and_commit(engine, facts(merchant_id))] for _ in range(4)]

    assert grants == [[400], [400], [200], []]
    assert awarded(engine, campaign_id) == 1000


def test_award_does_not_commit(engine, merchant_id):
    campaign_id = stored_campaign(engine, merchant_id)

    with UnitOfWork(Session(engine)) as uow:
        assert len(award(uow.session, facts(merchant_id))) == 1

    assert awarded(engine, campaign_id) == 0


def test_a_campaign_paused_after_the_preview_awards_nothing(engine, merchant_id):
    campaign_id = stored_campaign(engine, merchant_id)
    order = facts(merchant_id)
    assert len(offered_now(engine, order)) == 1
    with Session(engine) as s:
        s.get(Campaign, campaign_id).paused_at = utcnow()
        s.commit()

    assert award_and_commit(engine, order) == []


@pytest.mark.postgres_only
def test_32_concurrent_orders_award_exactly_the_budget_of_10_bonuses(engine, merchant_id):
    # On PostgreSQL the threads meet on the row lock; on SQLite on the database's write lock.
    campaign_id = stored_campaign(engine, merchant_id, effect={"type": "bonus", "points": 250}, budget_points=2500)

    results = run_together(32, lambda i: award_and_commit(engine, facts(merchant_id, member_id=i + 1)))

    granted = [bonus.points for bonuses in results for bonus in bonuses]
    assert granted == [250] * 10
    assert awarded(engine, campaign_id) == 2500


@pytest.mark.postgres_only
def test_concurrent_orders_share_a_budget_that_is_not_a_multiple_of_the_bonus(engine, merchant_id):
    campaign_id = stored_campaign(engine, merchant_id, effect={"type": "bonus", "points": 300}, budget_points=1000)

    results = run_together(16, lambda i: award_and_commit(engine, facts(merchant_id, member_id=i + 1)))

    assert sorted(bonus.points for bonuses in results for bonus in bonuses) == [100, 300, 300, 300]
    assert awarded(engine, campaign_id) == 1000


def test_the_database_refuses_points_awarded_beyond_the_budget(engine, merchant_id):
    from sqlalchemy.exc import IntegrityError

    campaign_id = stored_campaign(engine, merchant_id, budget_points=100)

    with Session(engine) as s, pytest.raises(IntegrityError):
        s.get(Campaign, campaign_id).points_awarded = 101
        s.commit()
    assert awarded(engine, campaign_id) == 0


def test_order_facts_refuse_impossible_orders(merchant_id):
    with pytest.raises(ValueError):
        facts(merchant_id, base_points=-1)
    with pytest.raises(ValueError):
        facts(merchant_id, amount_cents=-1)
    with pytest.raises(ValueError):
        facts(merchant_id, now=utcnow().replace(tzinfo=None))
