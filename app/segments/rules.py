"""A segment's rules as one SQL query over members, their facts, tier and interests.

The same query serves a new segment (every member) and the refresh job (only the
members that changed, ``member_ids``), so the two can never disagree.

For a merchant's segment the order rules (``min_orders``, ``min_spend_cents``,
``dormant_days``, ``first_order_within_days``) count the orders *at that merchant*
when ``bought`` is ``here``, and the orders in the whole coalition otherwise; for
the operator's segments, always the coalition's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, String, and_, case, column, exists, func, literal, select, table
from sqlalchemy.orm import Session, aliased

from app.audience.models import MemberInterest
from app.constants import ERASED_EMAIL_DOMAIN
from app.members.models import Member, MerchantMember
from app.programme.tiers import MemberTier
from app.segments.models import ANYWHERE, COALITION_FACTS, ELSEWHERE_NOT_HERE, HERE, MemberFacts
from ledger import UTCDateTime

MEMBER_IDS_PER_QUERY = 1000


def matching(
    session: Session,
    merchant_id: int | None,
    rules: dict,
    now: datetime,
    member_ids: Iterable[int] | None = None,
) -> dict[int, bool]:
    """The members (``member_ids`` only, when given) the rules hold for, each with
    whether they are a customer (see ``SegmentMember.customer``)."""
    if member_ids is None:
        return dict(session.execute(_query(merchant_id, rules, now)).all())
    ids, found = sorted(set(member_ids)), {}
    for start in range(0, len(ids), MEMBER_IDS_PER_QUERY):
        chunk = ids[start : start + MEMBER_IDS_PER_QUERY]
        found.update(session.execute(_query(merchant_id, rules, now).where(Member.id.in_(chunk))).all())
    return found


def _query(merchant_id: int | None, rules: dict, now: datetime):
    coalition = aliased(MemberFacts, name="coalition_facts")
    here = aliased(MemberFacts, name="here_facts")
    query = select(Member.id).outerjoin(
        coalition, and_(coalition.member_id == Member.id, coalition.merchant_id == COALITION_FACTS)
    )
    if merchant_id is not None:
        query = query.outerjoin(here, and_(here.member_id == Member.id, here.merchant_id == merchant_id))
    conditions = [~Member.email.endswith(ERASED_EMAIL_DOMAIN)]
    bought = rules.get("bought")
    if bought == HERE:
        conditions.append(here.member_id.is_not(None))
    elif bought == ELSEWHERE_NOT_HERE:
        conditions += [coalition.member_id.is_not(None), here.member_id.is_(None)]
    elif bought == ANYWHERE:
        conditions.append(coalition.member_id.is_not(None))
    scope = here if bought == HERE else coalition
    conditions += _order_rules(scope, rules, now)
    conditions += _member_rules(rules)
    customer = _customer(merchant_id, coalition)
    return query.add_columns(customer.label("customer")).where(*conditions)


def _order_rules(scope, rules: dict, now: datetime) -> list:
    conditions = []
    if "min_orders" in rules:
        conditions.append(scope.orders >= rules["min_orders"])
    if "min_spend_cents" in rules:
        conditions.append(scope.spend_cents >= rules["min_spend_cents"])
    if "dormant_days" in rules:
        conditions.append(scope.last_order_at <= now - timedelta(days=rules["dormant_days"]))
    if "first_order_within_days" in rules:
        conditions.append(scope.first_order_at > now - timedelta(days=rules["first_order_within_days"]))
    return conditions


def _member_rules(rules: dict) -> list:
    conditions = []
    if "tier" in rules:
        conditions.append(exists().where(MemberTier.member_id == Member.id, MemberTier.tier_name == rules["tier"]))
    if rules.get("interests"):
        conditions.append(
            exists().where(MemberInterest.member_id == Member.id, MemberInterest.slug.in_(rules["interests"]))
        )
    return conditions


def _customer(merchant_id: int | None, coalition):
    if merchant_id is None:
        return coalition.member_id.is_not(None)
    return exists().where(MerchantMember.merchant_id == merchant_id, MerchantMember.member_id == Member.id)


def crossing(session: Session, merchant_id: int | None, rules: dict, since: datetime, now: datetime) -> set[int]:
    """Members whose time rules may have changed between ``since`` and ``now`` without
    any order: a last order that became ``dormant_days`` old, a first order that
    left the ``first_order_within_days`` window. Read by index, not by scan."""
    scope = merchant_id if rules.get("bought") == HERE and merchant_id is not None else COALITION_FACTS
    found: set[int] = set()
    for rule, moment in (
        ("dormant_days", MemberFacts.last_order_at),
        ("first_order_within_days", MemberFacts.first_order_at),
    ):
        if rule in rules:
            days = timedelta(days=rules[rule])
            found.update(
                session.execute(
                    select(MemberFacts.member_id).where(
                        MemberFacts.merchant_id == scope, moment > since - days, moment <= now - days
                    )
                ).scalars()
            )
    return found


# The orders and refunds, read by name: the order path depends on campaigns, which
# select on segments, so segments may not import the order models.
ORDERS = table(
    "orders",
    column("id", BigInteger),
    column("member_id", BigInteger),
    column("merchant_id", BigInteger),
    column("amount_cents", BigInteger),
    column("refunded_cents", BigInteger),
    column("currency", String),
    column("created_at", UTCDateTime),
)
REFUNDS = table("refunds", column("order_pk", BigInteger), column("created_at", UTCDateTime))
_FACT_COLUMNS = ["member_id", "merchant_id", "orders", "spend_cents", "first_order_at", "last_order_at"]


def refresh_facts(session: Session, member_ids: Iterable[int], currency: str) -> None:
    """Recompute the facts of these members from their orders (each member's own
    orders only: the work grows with the members that changed)."""
    orders = ORDERS.c
    net = orders.amount_cents - orders.refunded_cents
    first, last = func.min(orders.created_at), func.max(orders.created_at)
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), MEMBER_IDS_PER_QUERY):
        chunk = ids[start : start + MEMBER_IDS_PER_QUERY]
        session.execute(MemberFacts.__table__.delete().where(MemberFacts.member_id.in_(chunk)))
        live = and_(orders.member_id.in_(chunk), net > 0)
        per_merchant = (
            select(orders.member_id, orders.merchant_id, func.count(), func.sum(net), first, last)
            .where(live)
            .group_by(orders.member_id, orders.merchant_id)
        )
        spend = func.coalesce(func.sum(case((orders.currency == currency, net), else_=0)), 0)
        whole = (
            select(orders.member_id, literal(COALITION_FACTS), func.count(), spend, first, last)
            .where(live)
            .group_by(orders.member_id)
        )
        for source in (per_merchant, whole):
            session.execute(MemberFacts.__table__.insert().from_select(_FACT_COLUMNS, source))
