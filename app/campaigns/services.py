"""Campaigns: their lifecycle, and the bonuses they give an order within their budget.

The order path calls ``offered`` (a preview: reads only, no locks, no writes) and
``award`` (the same bonuses, the budget reserved in the caller's transaction).

Lock order, for the whole application: ``award`` locks the matching campaigns'
rows (``SELECT ... FOR UPDATE`` in one statement, in id order) and is called
*before* the order path locks the member's ledger row. Nothing else locks
campaign rows (pause, resume and end lock the one row they change, and lock
nothing else), so "campaign rows in id order, then the member" is the only
order in which these locks are ever taken, and two orders cannot deadlock on
them. On SQLite the writing transaction already holds the database's write lock
(``BEGIN IMMEDIATE``), so the rows need no lock of their own.

The budget is a hard cap: a grant is ``min(points, budget_points -
points_awarded)`` read under the row lock, so concurrent orders never award
more than ``budget_points`` in total (the table's check constraint holds it too).
A refund does not give budget back: points granted stay counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Select, and_, column, not_, or_, select, table
from sqlalchemy.orm import Session

from app import cache_versions
from app.campaigns.errors import CampaignEnded, CampaignNotFound, EndsInThePast
from app.campaigns.models import ACTIVE, BONUS, ENDED, FACTOR_BP_ONE, MULTIPLIER, PAUSED, SCHEDULED, Campaign
from app.identity.callers import Caller
from app.pagination import Page, paginate
from app.programme.extras import OrderAward
from app.rows import one_or_raise
from app.segments import services as segments
from app.unit_of_work import UnitOfWork
from ledger import UTCDateTime

MERCHANT_FUNDED = "merchant"
OPERATOR_FUNDED = "operator"


@dataclass(frozen=True)
class OrderFacts:
    """What a campaign may look at in an order, as the order path knows it when recording it."""

    merchant_id: int
    member_id: int
    amount_cents: int  # the order's amount
    currency: str
    categories: frozenset[str]  # categories of the order's lines (empty without lines)
    tier: str | None  # the member's tier name when the order is recorded
    first_order_here: bool  # the member's first order at this merchant
    first_order_anywhere: bool  # the member's first order in the coalition
    base_points: int  # points of the merchant's own earn rule for this order
    now: datetime

    def __post_init__(self) -> None:
        if self.amount_cents < 0:
            raise ValueError(f"an order's amount is never negative, not {self.amount_cents}")
        if self.base_points < 0:
            raise ValueError(f"an order's base points are never negative, not {self.base_points}")
        if self.now.tzinfo is None:
            raise ValueError("facts.now must be timezone-aware")


@dataclass(frozen=True)
class Bonus:
    """Points a campaign gives one order; ``funder`` pays for them."""

    campaign_id: int
    name: str
    funder: str  # "merchant" (the order's merchant pays) or "operator"
    points: int
    # A multiplier's factor (None for a fixed bonus): a refund recomputes its extra on the base left.
    factor_bp: int | None = None


# -- the order path --------------------------------------------------------------------


def offered(session: Session, facts: OrderFacts) -> list[Bonus]:
    """What active, matching campaigns would give this order now: reads only, locks nothing.

    Each bonus is capped by its campaign's remaining budget; bonuses of zero
    points are left out; the list is in campaign id order.
    """
    live = _live(session, facts)
    within = _audience_reached(session, live, facts.member_id)
    return [bonus for bonus in (_bonus(c, facts, within) for c in live) if bonus is not None]


def award(session: Session, facts: OrderFacts) -> list[Bonus]:
    """The bonuses of ``offered``, their points reserved from the budgets in the caller's
    transaction (never commits). Locks the matching campaigns' rows in id order: call it
    before locking the member's ledger row (see the module's lock order)."""
    live = _live(session, facts)
    within = _audience_reached(session, live, facts.member_id)
    candidates = [campaign.id for campaign in live if _bonus(campaign, facts, within) is not None]
    if not candidates:
        return []
    locked = session.execute(
        select(Campaign)
        .where(Campaign.id.in_(candidates))
        .order_by(Campaign.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalars()
    bonuses = []
    for campaign in locked:
        bonus = _bonus(campaign, facts, within)  # read again under the lock: paused, ended or spent meanwhile
        if bonus is None:
            continue
        campaign.points_awarded += bonus.points
        if campaign.points_awarded > campaign.budget_points:
            raise RuntimeError(f"campaign {campaign.id} would award beyond its budget")
        bonuses.append(bonus)
    session.flush()
    return bonuses


def any_live(session: Session, merchant_id: int, now: datetime) -> bool:
    """Whether any campaign may apply to this merchant's orders now: one cheap read that
    lets the order path skip working out the facts of an order when none can (and no
    read at all while the coalition has no campaign, kept per process until one is made)."""
    if not cache_versions.cached(session, cache_versions.CAMPAIGNS, None, _any_campaign):
        return False
    return session.execute(_live_query(merchant_id, now).with_only_columns(Campaign.id).limit(1)).first() is not None


def _any_campaign(session: Session) -> bool:
    return session.execute(select(Campaign.id).limit(1)).first() is not None


def _live(session: Session, facts: OrderFacts) -> list[Campaign]:
    """Campaigns active at ``facts.now`` with budget left that may apply to this order's merchant."""
    return list(session.execute(_live_query(facts.merchant_id, facts.now).order_by(Campaign.id)).scalars())


def _live_query(merchant_id: int, now: datetime):
    return select(Campaign).where(
        or_(Campaign.merchant_id == merchant_id, Campaign.merchant_id.is_(None)),
        Campaign.ended_at.is_(None),
        Campaign.paused_at.is_(None),
        Campaign.starts_at <= now,
        Campaign.ends_at > now,
        Campaign.points_awarded < Campaign.budget_points,
    )


def _audience_reached(session: Session, live: list[Campaign], member_id: int) -> frozenset[int]:
    """The live campaigns limited to an audience (a segment; an offer's mailed
    recipients, once each) whose audience holds the member: a read only when one is."""
    if not member_id:
        return frozenset()
    reached: set[int] = set()
    by_segment = {c.segment_id: c.id for c in live if c.segment_id is not None}
    if by_segment:
        held = segments.segments_of(session, member_id, set(by_segment))
        reached.update(c.id for c in live if c.segment_id in held)
    by_offer = {c.offer_id: c.id for c in live if c.offer_id is not None}
    if by_offer:
        recipients = _RECIPIENTS.c
        mailed = session.execute(
            select(recipients.offer_id).where(
                recipients.member_id == member_id,
                recipients.offer_id.in_(sorted(by_offer)),
                recipients.sent_at.is_not(None),
            )
        ).scalars()
        candidates = {by_offer[offer_id] for offer_id in mailed}
        reached.update(candidates - _already_awarded(session, member_id, candidates))
    return frozenset(reached)


# Read by name: offers create their campaigns, so campaigns may not import offers.
_RECIPIENTS = table(
    "offer_recipients",
    column("offer_id", BigInteger),
    column("member_id", BigInteger),
    column("sent_at", UTCDateTime),
)
_ORDERS = table("orders", column("id", BigInteger), column("member_id", BigInteger))


def _already_awarded(session: Session, member_id: int, campaign_ids: set[int]) -> set[int]:
    if not campaign_ids:
        return set()
    return set(
        session.execute(
            select(OrderAward.campaign_id)
            .join(_ORDERS, _ORDERS.c.id == OrderAward.order_pk)
            .where(_ORDERS.c.member_id == member_id, OrderAward.campaign_id.in_(sorted(campaign_ids)))
        ).scalars()
    )


def _bonus(campaign: Campaign, facts: OrderFacts, within: frozenset[int]) -> Bonus | None:
    if campaign.status_at(facts.now) != ACTIVE or not _matches(campaign, facts, within):
        return None
    points = min(_points(campaign, facts.base_points), campaign.points_remaining)
    if points <= 0:
        return None
    funder = OPERATOR_FUNDED if campaign.merchant_id is None else MERCHANT_FUNDED
    factor_bp = campaign.factor_bp if campaign.effect_type == MULTIPLIER else None
    return Bonus(campaign_id=campaign.id, name=campaign.name, funder=funder, points=points, factor_bp=factor_bp)


def _matches(campaign: Campaign, facts: OrderFacts, within: frozenset[int]) -> bool:
    if campaign.merchant_id is not None and campaign.merchant_id != facts.merchant_id:
        return False
    if (campaign.segment_id is not None or campaign.offer_id is not None) and campaign.id not in within:
        return False
    if campaign.first_order:
        first = facts.first_order_anywhere if campaign.merchant_id is None else facts.first_order_here
        if not first:
            return False
    if campaign.min_amount_cents is not None and facts.amount_cents < campaign.min_amount_cents:
        return False
    if campaign.categories is not None and not campaign.category_set & facts.categories:
        return False
    return campaign.tier is None or campaign.tier == facts.tier


def _points(campaign: Campaign, base_points: int) -> int:
    """A multiplier's extra points (floor; the base is the merchant rule's), or the fixed bonus."""
    if campaign.effect_type == MULTIPLIER:
        return base_points * (campaign.factor_bp - FACTOR_BP_ONE) // FACTOR_BP_ONE
    return campaign.bonus_points


# -- the lifecycle ---------------------------------------------------------------------


def create_campaign(uow: UnitOfWork, caller: Caller, data: dict) -> Campaign:
    """A campaign of the calling merchant, or a coalition-wide one for the operator."""
    if data["ends_at"].astimezone(UTC) <= uow.now:
        raise EndsInThePast()
    effect, conditions = data["effect"], data["conditions"]
    categories = conditions.get("categories")
    segment_id = conditions.get("segment_id")
    if segment_id is not None:
        segment_id = segments.owned_segment(
            uow.session, caller.merchant_id, int(segment_id), field="conditions.segment_id"
        )
    campaign = Campaign(
        merchant_id=caller.merchant_id,
        name=data["name"],
        starts_at=data["starts_at"],
        ends_at=data["ends_at"],
        effect_type=effect["type"],
        factor_bp=effect.get("factor_bp"),
        bonus_points=effect.get("points"),
        first_order=conditions.get("first_order"),
        min_amount_cents=conditions.get("min_amount_cents"),
        categories=None if categories is None else json.dumps(categories),
        tier=conditions.get("tier"),
        segment_id=segment_id,
        budget_points=data["budget_points"],
        points_awarded=0,
        created_at=uow.now,
        paused_at=None,
        ended_at=None,
    )
    uow.session.add(campaign)
    uow.session.flush()
    return campaign.as_of(uow.now)


def start_offer_bonus(uow: UnitOfWork, offer, name: str) -> Campaign:
    """The campaign that gives an offer's bonus: its owner's, the offer's window, to the
    offer's mailed recipients once each; its budget follows the recipients
    (``size_offer_bonus``)."""
    campaign = Campaign(
        merchant_id=offer.merchant_id,
        offer_id=offer.id,
        name=name,
        starts_at=offer.starts_at,
        ends_at=offer.ends_at,
        effect_type=BONUS,
        factor_bp=None,
        bonus_points=offer.reward_points,
        budget_points=offer.reward_points,
        points_awarded=0,
        created_at=uow.now,
        paused_at=None,
        ended_at=None,
    )
    uow.session.add(campaign)
    uow.session.flush()
    return campaign


def size_offer_bonus(session: Session, offer_id: int, recipients: int) -> None:
    """Room for one bonus per targeted recipient (at least one, as every budget)."""
    campaign = session.execute(select(Campaign).where(Campaign.offer_id == offer_id).with_for_update()).scalar_one()
    campaign.budget_points = max(campaign.points_awarded, campaign.bonus_points * max(recipients, 1))


def offer_bonus_awarded(session: Session, offer_id: int) -> int:
    """The points an offer's bonus has given so far (0 for an offer without one)."""
    found = session.execute(select(Campaign.points_awarded).where(Campaign.offer_id == offer_id)).scalar_one_or_none()
    return int(found or 0)


def list_campaigns(
    session: Session, caller: Caller, *, now: datetime, status: str | None, limit: int, cursor: str | None
) -> Page:
    """The caller's campaigns (the operator: all), oldest first, optionally of one status."""
    query = select(Campaign)
    if not caller.is_operator:
        query = query.where(Campaign.merchant_id == caller.merchant_id)
    if status is not None:
        query = query.where(_status_is(status, now))
    page = paginate(session, query, Campaign.id, limit=limit, cursor=cursor)
    for campaign in page.data:
        campaign.as_of(now)
    return page


def _status_is(status: str, now: datetime):
    """``Campaign.status_at`` as SQL."""
    ended = or_(Campaign.ended_at.is_not(None), Campaign.ends_at <= now)
    paused = Campaign.paused_at.is_not(None)
    if status == ENDED:
        return ended
    if status == PAUSED:
        return and_(not_(ended), paused)
    started = Campaign.starts_at <= now
    if status == SCHEDULED:
        return and_(not_(ended), not_(paused), not_(started))
    return and_(not_(ended), not_(paused), started)


def get_campaign(session: Session, caller: Caller, campaign_id: int, *, now: datetime) -> Campaign:
    """One of the caller's campaigns; another merchant's answers as if it did not exist."""
    return _one(session, caller, campaign_id).as_of(now)


def pause_campaign(uow: UnitOfWork, caller: Caller, campaign_id: int) -> Campaign:
    """Stop awarding until resumed; pausing a paused campaign changes nothing."""
    campaign = _one(uow.session, caller, campaign_id, for_update=True)
    if campaign.status_at(uow.now) == ENDED:
        raise CampaignEnded(campaign_id, "paused")
    if campaign.paused_at is None:
        campaign.paused_at = uow.now
    return campaign.as_of(uow.now)


def resume_campaign(uow: UnitOfWork, caller: Caller, campaign_id: int) -> Campaign:
    """Award again (from starts_at, if it has not started); resuming a running one changes nothing."""
    campaign = _one(uow.session, caller, campaign_id, for_update=True)
    if campaign.status_at(uow.now) == ENDED:
        raise CampaignEnded(campaign_id, "resumed")
    campaign.paused_at = None
    return campaign.as_of(uow.now)


def end_campaign(uow: UnitOfWork, caller: Caller, campaign_id: int) -> Campaign:
    """End it now, for good; ending an ended campaign changes nothing."""
    campaign = _one(uow.session, caller, campaign_id, for_update=True)
    if campaign.status_at(uow.now) != ENDED:
        campaign.ended_at = uow.now
    return campaign.as_of(uow.now)


def _one(session: Session, caller: Caller, campaign_id: int, *, for_update: bool = False) -> Campaign:
    query: Select = select(Campaign).where(Campaign.id == campaign_id)
    if not caller.is_operator:
        query = query.where(Campaign.merchant_id == caller.merchant_id)
    return one_or_raise(session, query, CampaignNotFound(campaign_id), for_update=for_update)
