"""Segments: create and read them, and the job that keeps their members current.

A segment's members are stored (``segment_members``) and its sizes kept on its
row. The ``refresh-segments`` job re-reads only the members that changed since
its last pass (new orders and refunds, interests or tier changes, and members
whose time rules crossed a boundary) and re-applies every segment's rules to
them: its cost grows with what changed, not with the orders.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from app.audience.models import Interest, MemberChange
from app.identity.callers import Caller
from app.members.models import Member
from app.pagination import Page, paginate, trimmed
from app.programme import tiers
from app.rows import one_or_raise
from app.segments import rules as segment_rules
from app.segments.errors import InvalidRules, SegmentNotFound, TooManySegments, UnknownSegment
from app.segments.models import ELSEWHERE_NOT_HERE, HERE, Segment, SegmentJobState, SegmentMember, SegmentSize
from app.unit_of_work import UnitOfWork

SEGMENTS_MAX = 50
HISTORY_SHOWN = 30
# The job's pass re-reads this much before its last one: orders committed late are seen.
LOOKBACK = timedelta(seconds=60)
REFRESH_BATCH = 2000
MEMBER_CHANGES_KEPT = timedelta(days=1)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_STATE_ID = 1


def create_segment(uow: UnitOfWork, caller: Caller, data: dict) -> Segment:
    """A segment of the caller, its members computed now."""
    session, now = uow.session, uow.now
    rules = data["rules"]
    _check_rules(session, caller, rules)
    owned = session.execute(select(func.count()).select_from(Segment).where(_owned_by(caller))).scalar_one()
    if owned >= SEGMENTS_MAX:
        raise TooManySegments(SEGMENTS_MAX)
    _catch_up_facts(session, now)
    found = segment_rules.matching(session, caller.merchant_id, rules, now)
    customers = sum(found.values())
    segment = Segment(
        merchant_id=caller.merchant_id,
        name=data["name"],
        rules_json=json.dumps(rules, sort_keys=True),
        size=len(found),
        size_customers=customers,
        size_others=len(found) - customers,
        computed_at=now,
        created_at=now,
    )
    session.add(segment)
    session.flush()
    _insert_members(session, segment.id, found, now)
    _record_size(session, segment, now, joined=len(found), left=0)
    return segment


def _catch_up_facts(session: Session, now: datetime) -> None:
    """Bring the facts of members who ordered or were refunded since the job's last
    pass up to date, so a new segment counts them; the job still re-reads them for
    the other segments (recomputing facts is idempotent)."""
    state = session.get(SegmentJobState, _STATE_ID)
    since = state.ran_at - LOOKBACK if state is not None and state.ran_at is not None else _EPOCH
    changed: set[int] = set()
    for source in _order_sources(since, now):
        changed.update(session.execute(source.distinct()).scalars())
    segment_rules.refresh_facts(session, changed, tiers.TIER_CURRENCY)


def _check_rules(session: Session, caller: Caller, rules: dict) -> None:
    if caller.is_operator and rules.get("bought") in (HERE, ELSEWHERE_NOT_HERE):
        raise InvalidRules("bought", "The operator's segments span the coalition: use anywhere, or leave it out.")
    if "tier" in rules and rules["tier"] not in {t.name for t in tiers.tiers(session)}:
        raise InvalidRules("tier", f"No tier {rules['tier']!r} in the coalition's tiers.")
    named = set(rules.get("interests") or [])
    known = set(session.execute(select(Interest.slug).where(Interest.slug.in_(named))).scalars())
    if named - known:
        raise InvalidRules("interests", f"Not in the list of interests: {', '.join(sorted(named - known))}.")


def _owned_by(caller: Caller):
    if caller.is_operator:
        return Segment.merchant_id.is_(None)
    return Segment.merchant_id == caller.merchant_id


def _insert_members(session: Session, segment_id: int, found: dict[int, bool], now: datetime) -> None:
    rows = [{"segment_id": segment_id, "member_id": m, "customer": c, "since": now} for m, c in sorted(found.items())]
    for start in range(0, len(rows), REFRESH_BATCH):
        session.execute(insert(SegmentMember), rows[start : start + REFRESH_BATCH])


def _record_size(session: Session, segment: Segment, now: datetime, *, joined: int, left: int) -> None:
    session.add(
        SegmentSize(
            segment_id=segment.id,
            computed_at=now,
            size=segment.size,
            size_customers=segment.size_customers,
            size_others=segment.size_others,
            joined=joined,
            left=left,
        )
    )


def list_segments(session: Session, caller: Caller, *, limit: int, cursor: str | None) -> Page:
    """The caller's segments (the operator: its own), oldest first."""
    return paginate(session, select(Segment).where(_owned_by(caller)), Segment.id, limit=limit, cursor=cursor)


def get_segment(session: Session, caller: Caller, segment_id: int) -> Segment:
    """One segment of the caller (the operator reads every segment), with ``history``."""
    query = select(Segment).where(Segment.id == segment_id)
    if not caller.is_operator:
        query = query.where(Segment.merchant_id == caller.merchant_id)
    segment = one_or_raise(session, query, SegmentNotFound(segment_id))
    segment.history = list(
        session.execute(
            select(SegmentSize)
            .where(SegmentSize.segment_id == segment_id)
            .order_by(SegmentSize.id.desc())
            .limit(HISTORY_SHOWN)
        ).scalars()
    )
    return segment


def segment_members(session: Session, caller: Caller, segment_id: int, *, limit: int, cursor: str | None) -> Page:
    """Who is in the segment: for a merchant only its own customers (the others are
    counted, never named); for the operator everyone."""
    get_segment(session, caller, segment_id)
    query = (
        select(SegmentMember.member_id, Member.email, SegmentMember.customer, SegmentMember.since)
        .join(Member, Member.id == SegmentMember.member_id)
        .where(SegmentMember.segment_id == segment_id)
    )
    if not caller.is_operator:
        query = query.where(SegmentMember.customer.is_(True))
    if cursor is not None:
        query = query.where(SegmentMember.member_id > int(cursor))
    rows = session.execute(query.order_by(SegmentMember.member_id).limit(limit + 1)).all()
    return trimmed(list(rows), limit, lambda row: str(row.member_id))


def member_ids_of(session: Session, segment_id: int) -> list[int]:
    """Every member of a segment (offers and contests target them)."""
    return list(
        session.execute(
            select(SegmentMember.member_id)
            .where(SegmentMember.segment_id == segment_id)
            .order_by(SegmentMember.member_id)
        ).scalars()
    )


def segments_of(session: Session, member_id: int, among: set[int]) -> set[int]:
    """Which of the segments ``among`` hold the member now."""
    return set(
        session.execute(
            select(SegmentMember.segment_id).where(
                SegmentMember.member_id == member_id, SegmentMember.segment_id.in_(sorted(among))
            )
        ).scalars()
    )


def owned_segment(session: Session, merchant_id: int | None, segment_id: int, *, field: str = "segment_id") -> int:
    """The id of a segment of this owner (a merchant, or the operator: None), or a 422
    on ``field`` (dotted, e.g. ``conditions.segment_id``): another owner's segment is as
    unknown as a missing one."""
    found = session.execute(
        select(Segment.id).where(Segment.id == segment_id, _owned_by(Caller(merchant_id)))
    ).scalar_one_or_none()
    if found is None:
        raise UnknownSegment(segment_id, field)
    return found


# -- the refresh job ---------------------------------------------------------------------


def refresh(uow: UnitOfWork, *, batch: int = REFRESH_BATCH) -> int:
    """One batch of the ``refresh-segments`` job: up to ``batch`` changed members
    re-read and re-applied to every segment; returns how many (0: nothing due)."""
    session = uow.session
    state = _state(session)
    if state.pass_until is None:
        if state.ran_at is not None and uow.now - state.ran_at < LOOKBACK:
            return 0
        state.pass_until, state.member_cursor = uow.now, 0
    since = state.ran_at - LOOKBACK if state.ran_at is not None else _EPOCH
    until = state.pass_until
    segments = list(session.execute(select(Segment).order_by(Segment.id).with_for_update()).scalars())
    members = _changed(session, segments, since, until, state.member_cursor, batch)
    segment_rules.refresh_facts(session, members, tiers.TIER_CURRENCY)
    for segment in segments:
        _apply(session, segment, members, until)
    if len(members) < batch:
        state.ran_at, state.pass_until, state.member_cursor = until, None, 0
        session.execute(MemberChange.__table__.delete().where(MemberChange.at < until - MEMBER_CHANGES_KEPT))
    else:
        state.member_cursor = members[-1]
    uow.commit(None)
    return len(members)


def _state(session: Session) -> SegmentJobState:
    state = session.get(SegmentJobState, _STATE_ID, with_for_update=True)
    if state is None:
        state = SegmentJobState(id=_STATE_ID, ran_at=None, pass_until=None, member_cursor=0)
        session.add(state)
        session.flush()
    return state


def _changed(
    session: Session, segments: list[Segment], since: datetime, until: datetime, cursor: int, batch: int
) -> list[int]:
    """The first ``batch`` members above ``cursor`` that changed in (since, until]."""
    sources = [
        *_order_sources(since, until),
        select(MemberChange.member_id).where(MemberChange.at > since, MemberChange.at <= until),
    ]
    found: set[int] = set()
    for source in sources:
        member = source.selected_columns[0]
        query = source.where(member > cursor).distinct().order_by(member).limit(batch)
        found.update(session.execute(query).scalars())
    for segment in segments:
        found.update(
            m for m in segment_rules.crossing(session, segment.merchant_id, segment.rules, since, until) if m > cursor
        )
    return sorted(found)[:batch]


def _order_sources(since: datetime, until: datetime) -> list:
    """Members with an order or a refund recorded in (since, until]."""
    orders, refunds = segment_rules.ORDERS.c, segment_rules.REFUNDS.c
    return [
        select(orders.member_id).where(orders.created_at > since, orders.created_at <= until),
        select(orders.member_id)
        .join(segment_rules.REFUNDS, refunds.order_pk == orders.id)
        .where(refunds.created_at > since, refunds.created_at <= until),
    ]


def _apply(session: Session, segment: Segment, members: list[int], now: datetime) -> None:
    """Re-apply the segment's rules to ``members`` and adjust its rows and sizes."""
    segment.computed_at = now
    if not members:
        return
    after = segment_rules.matching(session, segment.merchant_id, segment.rules, now, members)
    before = dict(
        session.execute(
            select(SegmentMember.member_id, SegmentMember.customer).where(
                SegmentMember.segment_id == segment.id, SegmentMember.member_id.in_(members)
            )
        ).all()
    )
    joined = {m: c for m, c in after.items() if m not in before}
    left = {m: c for m, c in before.items() if m not in after}
    flipped = {m: c for m, c in after.items() if m in before and before[m] != c}
    if not (joined or left or flipped):
        return
    _insert_members(session, segment.id, joined, now)
    if left:
        session.execute(
            SegmentMember.__table__.delete().where(
                SegmentMember.segment_id == segment.id, SegmentMember.member_id.in_(list(left))
            )
        )
    for customer in (True, False):
        changed = [m for m, c in flipped.items() if c is customer]
        if changed:
            session.execute(
                update(SegmentMember)
                .where(and_(SegmentMember.segment_id == segment.id, SegmentMember.member_id.in_(changed)))
                .values(customer=customer)
            )
    gained = sum(joined.values()) - sum(left.values()) + sum(1 if c else -1 for c in flipped.values())
    segment.size += len(joined) - len(left)
    segment.size_customers += gained
    segment.size_others = segment.size - segment.size_customers
    _record_size(session, segment, now, joined=len(joined), left=len(left))
