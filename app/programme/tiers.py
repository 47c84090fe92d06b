"""Coalition tiers on rolling 12-month spend across all merchants.

Spend is the net amount (after refunds) of the member's orders in ``TIER_CURRENCY``
at every merchant over the last 365 days. A member reaches a tier as soon as an
order takes the spend to its threshold (that order already earns at the new
tier); a lower spend only takes a tier away at the member's yearly review
(``tier-review`` job), a year after they reached or were last reviewed in it.
Tier extras are paid by the operator (docs/programme.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, ForeignKey, Integer, String, column, delete, func, insert, select, table
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import cache_versions
from app.audience import services as audience
from app.extensions import db
from app.unit_of_work import UnitOfWork
from ledger import UTCDateTime, upsert_statement

# The spend is read from the orders table by name: the programme stays below the
# order path (app.orders uses it), so it may not import the order model.
_ORDERS = table(
    "orders",
    column("member_id", BigInteger),
    column("amount_cents", BigInteger),
    column("refunded_cents", BigInteger),
    column("currency", String),
    column("created_at", UTCDateTime),
)
TIER_CURRENCY = "EUR"
SPEND_WINDOW = timedelta(days=365)
REVIEW_AFTER = timedelta(days=365)
TIERS_MAX = 10
TIER_REVIEW_BATCH = 500


class Tier(db.Model):
    """One coalition tier; the operator replaces the whole list at once."""

    __tablename__ = "tiers"

    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    min_spend_cents: Mapped[int] = mapped_column(BigInteger)
    earn_multiplier_bp: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberTier(db.Model):
    """The tier a member holds, since when, and when it is next reviewed."""

    __tablename__ = "member_tiers"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    tier_name: Mapped[str] = mapped_column(String(40))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    review_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@dataclass(frozen=True)
class TierTerms:
    name: str
    min_spend_cents: int
    earn_multiplier_bp: int


def tiers(session: Session) -> list[TierTerms]:
    """The tiers, lowest threshold first (kept per process until the tiers change)."""
    return list(cache_versions.cached(session, cache_versions.TIERS, None, _read_tiers))


def _read_tiers(session: Session) -> tuple[TierTerms, ...]:
    rows = session.execute(select(Tier).order_by(Tier.min_spend_cents)).scalars()
    return tuple(TierTerms(t.name, t.min_spend_cents, t.earn_multiplier_bp) for t in rows)


def replace_tiers(uow: UnitOfWork, terms: list[dict]) -> list[TierTerms]:
    """The operator's new list (validated: names once, thresholds rising). Members
    keep the tier they hold while its name is in the list; one whose tier is gone
    holds none until their next order or review."""
    session = uow.session
    session.execute(delete(Tier))
    ordered = sorted(terms, key=lambda t: t["min_spend_cents"])
    if ordered:
        session.execute(
            insert(Tier),
            [{"position": i, **t, "created_at": uow.now} for i, t in enumerate(ordered)],
        )
    gone = MemberTier.tier_name.not_in([t["name"] for t in ordered])
    audience.note_changed(session, session.execute(select(MemberTier.member_id).where(gone)).scalars(), uow.now)
    session.execute(delete(MemberTier).where(gone))
    session.flush()
    return list(_read_tiers(session))  # not the copy kept under the version this transaction began with


def spend_12m(session: Session, member_id: int, now: datetime) -> int:
    return int(
        session.execute(
            select(func.coalesce(func.sum(_ORDERS.c.amount_cents - _ORDERS.c.refunded_cents), 0)).where(
                _ORDERS.c.member_id == member_id,
                _ORDERS.c.currency == TIER_CURRENCY,
                _ORDERS.c.created_at > now - SPEND_WINDOW,
            )
        ).scalar_one()
    )


def qualified(levels: list[TierTerms], spend_cents: int) -> TierTerms | None:
    """The highest tier ``spend_cents`` reaches."""
    reached = [t for t in levels if t.min_spend_cents <= spend_cents]
    return reached[-1] if reached else None


def held(session: Session, member_id: int, levels: list[TierTerms]) -> TierTerms | None:
    name = session.execute(select(MemberTier.tier_name).where(MemberTier.member_id == member_id)).scalar_one_or_none()
    return next((t for t in levels if t.name == name), None)


def _rank(levels: list[TierTerms], tier: TierTerms | None) -> int:
    return -1 if tier is None else levels.index(tier)


def upgrade(
    session: Session, member_id: int, now: datetime, *, added_spend: int, write: bool = True
) -> TierTerms | None:
    """As an order is recorded (``added_spend`` is its amount in the tier currency):
    raise the member to the tier their spend now reaches, if higher; returns the
    tier the order earns at. ``write=False`` (a preview) keeps nothing."""
    levels = tiers(session)
    if not levels:
        return None
    current = held(session, member_id, levels)
    reached = qualified(levels, spend_12m(session, member_id, now) + added_spend)
    if _rank(levels, reached) <= _rank(levels, current):
        return current
    if reached is None or not write:
        return reached
    values = {"member_id": member_id, "tier_name": reached.name, "since": now, "review_at": now + REVIEW_AFTER}
    session.execute(delete(MemberTier).where(MemberTier.member_id == member_id))
    session.execute(upsert_statement(session, MemberTier.__table__, ["member_id"]), values)
    return reached


def review_due(uow: UnitOfWork, *, limit: int = TIER_REVIEW_BATCH) -> int:
    """The yearly review (a job): members whose review date has come get the tier
    their spend reaches now, lower or not, for another year; returns members reviewed."""
    session, now = uow.session, uow.now
    levels = tiers(session)
    due = session.execute(select(MemberTier).where(MemberTier.review_at <= now).limit(limit)).scalars().all()
    changed = []
    for row in due:
        reached = qualified(levels, spend_12m(session, row.member_id, now))
        if reached is None or reached.name != row.tier_name:
            changed.append(row.member_id)
        if reached is None:
            session.delete(row)
            continue
        if reached.name != row.tier_name:
            row.tier_name, row.since = reached.name, now
        row.review_at = now + REVIEW_AFTER
    audience.note_changed(session, changed, now)
    session.flush()
    return len(due)


def view(session: Session, member_id: int, now: datetime) -> dict:
    """What the member answer and pages show: the tier, the spend, what is missing to the next."""
    levels = tiers(session)
    spend = spend_12m(session, member_id, now)
    current = held(session, member_id, levels)
    row = session.get(MemberTier, member_id) if current else None
    above = levels[_rank(levels, current) + 1 :]
    following = next((t for t in above if t.min_spend_cents > spend), above[0] if above else None)
    return {
        "name": current.name if current else None,
        "earn_multiplier_bp": current.earn_multiplier_bp if current else 10_000,
        "since": row.since if row else None,
        "review_at": row.review_at if row else None,
        "spend_12m_cents": spend,
        "next": None
        if following is None
        else {
            "name": following.name,
            "min_spend_cents": following.min_spend_cents,
            "missing_cents": max(0, following.min_spend_cents - spend),
        },
    }
