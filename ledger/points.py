"""Points flows that move lots: earn, clawback (refund), spend and expiry.

Every function expects to run inside the caller's transaction and locks the
member's balance row before it reads lots, so decisions about one member are
serialized while different members proceed in parallel.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ledger import accounts
from ledger.accounts import PTS, AccountRef
from ledger.errors import InsufficientPoints
from ledger.journal import Leg, post
from ledger.models import Account, Balance, Debt, Entry, Lot, table

EXPIRY_BATCH_MAX = 500
_DEBTS = table(Debt)
_LOTS = table(Lot)
_OPEN_DEBTS = (
    select(_DEBTS.c.id, _DEBTS.c.creditor, _DEBTS.c.currency, _DEBTS.c.points_remaining)
    .where(_DEBTS.c.member_account_id == bindparam("m"), _DEBTS.c.points_remaining > 0)
    .order_by(_DEBTS.c.id)
)
_INSERT_LOT = insert(_LOTS).returning(_LOTS.c.id)
_BALANCES = table(Balance)
# The member's row, locked, with what the member owes: one round trip on the hot path.
_LOCK_MEMBER = (
    select(
        _BALANCES.c.balance,
        _BALANCES.c.pending,
        select(func.coalesce(func.sum(_DEBTS.c.points_remaining), 0))
        .where(_DEBTS.c.member_account_id == _BALANCES.c.account_id)
        .scalar_subquery()
        .label("owed"),
    )
    .where(_BALANCES.c.account_id == bindparam("a"), _BALANCES.c.shard == 0)
    .with_for_update(of=_BALANCES)
)
POINTS_PER_ENTRY_MAX = 10**12
_ACCOUNTS = table(Account)
_MEMBER_FIGURES = (
    select(
        _ACCOUNTS.c.name,
        func.coalesce(func.sum(_BALANCES.c.balance), 0).label("balance"),
        func.coalesce(func.sum(_BALANCES.c.pending), 0).label("pending"),
    )
    .join(_BALANCES, _BALANCES.c.account_id == _ACCOUNTS.c.id)
    .where(
        _ACCOUNTS.c.asset == PTS,
        _ACCOUNTS.c.name.in_([bindparam("m"), bindparam("d"), bindparam("i")]),
    )
    .group_by(_ACCOUNTS.c.name)
)


@dataclass(frozen=True)
class Issuer:
    """A merchant as the ledger sees it: who pays for the points it issues, and how much."""

    key: str
    currency: str
    price_per_1000_points_cents: int


@dataclass(frozen=True)
class MemberPoints:
    """A member's figures: ``balance`` (available and held points), ``held`` by
    redemptions, ``debt`` owed after refunds, ``incoming`` (earned, not yet available)."""

    balance: int
    held: int
    debt: int
    incoming: int = 0

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass(frozen=True)
class EarnResult:
    entry_id: int | None
    lot_id: int | None
    points: int
    points_to_balance: int
    points_to_debt: int
    value_cents: int
    # The member's points once this earn is in (None when nothing was earned).
    member_after: MemberPoints | None = None


@dataclass(frozen=True)
class ClawbackResult:
    entry_id: int | None
    points: int
    points_from_balance: int
    points_from_expired: int
    points_to_debt: int
    value_returned_cents: int


def value_of(points: int, price_per_1000_points_cents: int) -> int:
    """What ``points`` cost the issuer, in minor units, rounded down."""
    return points * price_per_1000_points_cents // 1000


def share(total: int, part: int, whole: int) -> int:
    """``total * part / whole`` rounded down; the whole gets exactly ``total``."""
    if part == whole:
        return total
    return total * part // whole


def take_from_lot(lot: Lot, points: int) -> int:
    """Remove ``points`` from a lot with their share of its value; returns the value."""
    if not 0 < points <= lot.points_remaining:
        raise ValueError(f"lot {lot.id} holds {lot.points_remaining} points, not {points}")
    value = share(lot.value_remaining_cents, points, lot.points_remaining)
    lot.points_remaining -= points
    lot.value_remaining_cents -= value
    return value


def unexpire_from_lot(lot: Lot, points: int) -> int:
    """Take ``points`` back out of a lot's expired part with their share of its
    breakage value; returns the value."""
    if not 0 < points <= lot.points_expired:
        raise ValueError(f"lot {lot.id} has {lot.points_expired} expired points, not {points}")
    value = share(lot.value_expired_cents, points, lot.points_expired)
    lot.points_expired -= points
    lot.value_expired_cents -= value
    return value


def member_points(session: Session, member_key: str) -> MemberPoints:
    """Posted balance, pending holds and debt of a member (zeros for an unknown member)."""
    names = {
        "m": accounts.member_account(member_key),
        "d": accounts.member_debt_account(member_key),
        "i": accounts.member_incoming_account(member_key),
    }
    # One round trip for the three accounts' shards (a read on every order's answer).
    found = {name: (int(posted), int(held)) for name, posted, held in session.execute(_MEMBER_FIGURES, names)}
    zero = (0, 0)
    balance, held = found.get(names["m"], zero)
    return MemberPoints(
        balance=balance,
        held=held,
        debt=-found.get(names["d"], zero)[0],
        incoming=found.get(names["i"], zero)[0],
    )


def earn(
    session: Session,
    *,
    member_key: str,
    issuer: Issuer,
    points: int,
    idempotency_key: str,
    ref: str,
    now: datetime,
    lifetime_days: int,
    memo: str = "",
    available_at: datetime | None = None,
) -> EarnResult:
    """Issue ``points`` to a member: the issuer pays for them into the float.

    Points first repay the member's debt (in the issuer's currency), whose
    creditors receive the matching share of the value; the rest opens a lot.
    With ``available_at`` after ``now`` the points are *incoming* instead: the
    whole lot waits on ``member:{id}:incoming`` (not spendable, not expiring)
    until ``release_lot`` or ``release_due`` makes it available, and debt is
    repaid then. Expiry counts from ``available_at``.
    """
    if not 0 <= points <= POINTS_PER_ENTRY_MAX:
        raise ValueError(f"points out of range: {points}")
    if points == 0:
        return EarnResult(None, None, 0, 0, 0, 0)
    incoming = available_at is not None and available_at > now
    member = accounts.member(session, member_key)
    row = session.execute(_LOCK_MEMBER, {"a": member.id}).one()
    debts = []
    if row.owed and not incoming:
        debts = _debts_in(session, member, issuer.currency)
    target = accounts.member_incoming(session, member_key) if incoming else member
    plan = _plan_earn(session, target, member_key, issuer, points, debts)
    _repay_debts(session, plan.repayments)
    entry = post(session, kind="earn", legs=plan.legs, ref=ref, memo=memo, now=now, idempotency_key=idempotency_key)
    lot_id = None
    if plan.to_lot > 0:
        lot_id = session.execute(
            _INSERT_LOT,
            {
                "member_account_id": member.id,
                "issuer": issuer.key,
                "currency": issuer.currency,
                "price_per_1000_points_cents": issuer.price_per_1000_points_cents,
                "points": plan.to_lot,
                "points_remaining": plan.to_lot,
                # The table keeps its column names; the mapped attributes carry the unit.
                "value": plan.lot_value_cents,
                "value_remaining": plan.lot_value_cents,
                "points_expired": 0,
                "value_expired": 0,
                "earned_at": now,
                "expires_at": (available_at if incoming and available_at else now) + timedelta(days=lifetime_days),
                "entry_id": entry.id,
                "incoming_until": available_at if incoming else None,
            },
        ).scalar_one()
    after = None if incoming else MemberPoints(row.balance + plan.to_lot, row.pending, row.owed - plan.repaid)
    return EarnResult(entry.id, lot_id, points, plan.to_lot, plan.repaid, plan.value_cents, after)


def _debts_in(session: Session, member: AccountRef, currency: str) -> list[Any]:
    return [d for d in session.execute(_OPEN_DEBTS, {"m": member.id}) if d.currency == currency]


@dataclass(frozen=True)
class _EarnPlan:
    legs: list[Leg]
    value_cents: int
    to_lot: int
    lot_value_cents: int
    repaid: int
    # (debt id, points repaid), oldest debt first.
    repayments: list[tuple[int, int]]


def _plan_earn(
    session: Session, member: AccountRef, member_key: str, issuer: Issuer, points: int, debts: list[Any]
) -> _EarnPlan:
    """The legs of an earn: points to the member's debts (oldest first) and to a
    new lot, the value to the debts' creditors and to the float."""
    value = value_of(points, issuer.price_per_1000_points_cents)
    repaid = min(points, sum(d.points_remaining for d in debts))
    to_lot = points - repaid
    lot_value = share(value, to_lot, points)
    legs = [
        Leg(accounts.account(session, accounts.issued_account(issuer.key), PTS), -points),
        Leg(member, to_lot),
        Leg(accounts.account(session, accounts.funding_account(issuer.key), issuer.currency), -value),
        Leg(accounts.account(session, accounts.POINTS_FLOAT, issuer.currency), lot_value),
    ]
    repay_legs, repayments = _repayments(session, member_key, debts, repaid, value - lot_value, issuer.currency)
    return _EarnPlan(legs + repay_legs, value, to_lot, lot_value, repaid, repayments)


def _repayments(
    session: Session, member_key: str, debts: list[Any], repaid: int, value: int, currency: str
) -> tuple[list[Leg], list[tuple[int, int]]]:
    """``repaid`` points (worth ``value``) to the member's debts, oldest first:
    the debt account's leg, each creditor's share of the value, and (debt id,
    points repaid) per debt."""
    if not repaid:
        return [], []
    legs = [Leg(accounts.member_debt(session, member_key), repaid)]
    repayments = []
    repay_left, debt_value_left = repaid, value
    for debt in debts:
        if repay_left == 0:
            break
        paid = min(repay_left, debt.points_remaining)
        paid_value = share(debt_value_left, paid, repay_left)
        legs.append(Leg(accounts.account(session, accounts.funding_account(debt.creditor), currency), paid_value))
        repayments.append((debt.id, paid))
        repay_left -= paid
        debt_value_left -= paid_value
    return legs, repayments


def _repay_debts(session: Session, repayments: list[tuple[int, int]]) -> None:
    for debt_id, paid in repayments:
        session.execute(
            update(_DEBTS).where(_DEBTS.c.id == debt_id).values(points_remaining=_DEBTS.c.points_remaining - paid)
        )


def clawback(
    session: Session,
    *,
    member_key: str,
    issuer: Issuer,
    points: int,
    earn_entry_id: int | None,
    idempotency_key: str,
    ref: str,
    now: datetime,
    memo: str = "",
) -> ClawbackResult:
    """Take back ``points`` issued by ``earn_entry_id`` (a refund).

    Points still in that entry's lot and not held return to the issuer with
    their value; points of it that expired come back from breakage (the sale
    was refunded, so the issuer never owed them); points already spent become
    member debt. Points of an incoming lot come back from ``member:{id}:incoming``:
    they cannot have been spent, so such a refund never creates debt.
    """
    if not 0 <= points <= POINTS_PER_ENTRY_MAX:
        raise ValueError(f"points out of range: {points}")
    if points == 0:
        return ClawbackResult(None, 0, 0, 0, 0, 0)
    member = accounts.member(session, member_key)
    row = accounts.lock(session, member)
    lot = session.execute(select(Lot).where(Lot.entry_id == earn_entry_id).with_for_update()).scalar_one_or_none()
    if lot is not None and lot.incoming_until is not None:
        if points > lot.points_remaining:
            raise ValueError(f"incoming lot {lot.id} holds {lot.points_remaining} points, not {points}")
        incoming = accounts.member_incoming(session, member_key)
        plan = _plan_clawback(session, incoming, member_key, issuer, points, lot, lot.points_remaining)
    else:
        plan = _plan_clawback(session, member, member_key, issuer, points, lot, row.balance - row.pending)
    entry = post(
        session,
        kind="clawback",
        legs=plan.legs,
        ref=ref,
        memo=memo,
        now=now,
        idempotency_key=idempotency_key,
        reverses_entry_id=earn_entry_id,
    )
    if plan.owed:
        session.add(
            Debt(
                member_account_id=member.id,
                creditor=issuer.key,
                currency=issuer.currency,
                points=plan.owed,
                points_remaining=plan.owed,
                created_at=now,
                entry_id=entry.id,
            )
        )
    session.flush()
    return ClawbackResult(entry.id, points, plan.taken, plan.unexpired, plan.owed, plan.value_returned_cents)


@dataclass(frozen=True)
class _ClawbackPlan:
    legs: list[Leg]
    taken: int
    unexpired: int
    owed: int
    value_returned_cents: int


def _plan_clawback(
    session: Session,
    member: AccountRef,
    member_key: str,
    issuer: Issuer,
    points: int,
    lot: Lot | None,
    available: int,
) -> _ClawbackPlan:
    """The legs of a clawback, taking the points out of ``lot`` as it goes:
    first what the member still has of it, then what of it expired; the rest
    becomes debt."""
    legs = [Leg(accounts.account(session, accounts.issued_account(issuer.key), PTS), points)]
    taken = unexpired = value_back = breakage_back = 0
    if lot is not None:
        taken = min(points, lot.points_remaining, available)
        value_back = take_from_lot(lot, taken) if taken else 0
        unexpired = min(points - taken, lot.points_expired)
        breakage_back = unexpire_from_lot(lot, unexpired) if unexpired else 0
        legs.append(Leg(member, -taken))
        if unexpired:
            legs += [
                Leg(accounts.account(session, accounts.PLATFORM_EXPIRED, PTS), -unexpired),
                Leg(accounts.account(session, accounts.REVENUE_BREAKAGE, lot.currency), -breakage_back),
                Leg(accounts.account(session, accounts.funding_account(issuer.key), lot.currency), breakage_back),
            ]
        if value_back:
            legs += [
                Leg(accounts.account(session, accounts.POINTS_FLOAT, lot.currency), -value_back),
                Leg(accounts.account(session, accounts.funding_account(issuer.key), lot.currency), value_back),
            ]
    owed = points - taken - unexpired
    if owed:
        legs.append(Leg(accounts.member_debt(session, member_key), -owed))
    return _ClawbackPlan(legs, taken, unexpired, owed, value_back + breakage_back)


def consume_lots(session: Session, member: AccountRef, points: int) -> dict[str, int]:
    """Take ``points`` from the member's lots, oldest first; returns value taken per currency.

    The caller holds the member's lock and has checked the balance.
    """
    lots = session.execute(
        select(Lot)
        .where(Lot.member_account_id == member.id, Lot.points_remaining > 0, Lot.incoming_until.is_(None))
        .order_by(Lot.earned_at, Lot.id)
        .with_for_update()
    ).scalars()
    left = points
    values: dict[str, int] = defaultdict(int)
    for lot in lots:
        if left == 0:
            break
        taken = min(left, lot.points_remaining)
        values[lot.currency] += take_from_lot(lot, taken)
        left -= taken
    if left:
        raise InsufficientPoints(points - left, points)
    session.flush()
    return dict(values)


def expire_lots(session: Session, *, now: datetime, batch_max: int = EXPIRY_BATCH_MAX) -> int:
    """Expire the points of lots past their date (breakage); returns points expired.

    Pending holds are covered by the oldest lots first, exactly as posting them
    will spend them, so held points are never expired: a hold that posts spends
    them, one that is voided leaves them to a later run. The outcome is the same
    whether this runs before or after the hold resolves. Safe to run again;
    returns 0 only when no member has expired points left that are not held.
    """
    after = 0
    while True:
        # Keyset batches: members whose expired points are all held are passed over,
        # so they never hide the members after them.
        member_ids = (
            session.execute(
                select(Lot.member_account_id)
                .where(
                    Lot.expires_at <= now,
                    Lot.points_remaining > 0,
                    Lot.incoming_until.is_(None),
                    Lot.member_account_id > after,
                )
                .group_by(Lot.member_account_id)
                .order_by(Lot.member_account_id)
                .limit(batch_max)
            )
            .scalars()
            .all()
        )
        if not member_ids:
            return 0
        expired = sum(_expire_member(session, member_id, now) for member_id in member_ids)
        if expired:
            return expired
        after = member_ids[-1]


def _expire_member(session: Session, member_id: int, now: datetime) -> int:
    member = accounts.account_by_id(session, member_id)
    row = accounts.lock(session, member)
    lots = (
        session.execute(
            select(Lot)
            .where(Lot.member_account_id == member_id, Lot.points_remaining > 0, Lot.incoming_until.is_(None))
            .order_by(Lot.earned_at, Lot.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    held_left = row.pending
    expired = 0
    for lot in lots:
        covered = min(held_left, lot.points_remaining)
        held_left -= covered
        taken = lot.points_remaining - covered
        if lot.expires_at > now or taken == 0:
            continue
        key = f"expire:lot:{lot.id}:{lot.points_remaining}"
        value = take_from_lot(lot, taken)
        lot.points_expired += taken
        lot.value_expired_cents += value
        post(
            session,
            kind="expire",
            legs=[
                Leg(member, -taken),
                Leg(accounts.account(session, accounts.PLATFORM_EXPIRED, PTS), taken),
                Leg(accounts.account(session, accounts.POINTS_FLOAT, lot.currency), -value),
                Leg(accounts.account(session, accounts.REVENUE_BREAKAGE, lot.currency), value),
            ],
            ref=f"lot:{lot.id}",
            memo="points expired",
            now=now,
            idempotency_key=key,
        )
        expired += taken
    session.flush()
    return expired


RELEASE_BATCH_MAX = 500


def release_lot(session: Session, *, earn_entry_id: int | None, now: datetime) -> int:
    """Make the incoming points of the lot opened by ``earn_entry_id`` available
    now (a merchant confirmed the order); returns the points released (0 when
    the lot is not incoming: released already, or never was). Safe to repeat."""
    lot_id = session.execute(
        select(Lot.id).where(Lot.entry_id == earn_entry_id, Lot.incoming_until.is_not(None))
    ).scalar_one_or_none()
    return 0 if lot_id is None else _release(session, lot_id, now)


def release_due(session: Session, *, now: datetime, batch_max: int = RELEASE_BATCH_MAX) -> int:
    """Release up to ``batch_max`` incoming lots whose date has come; returns the
    lots released (0 when none is due). The job runs it until it returns 0."""
    due = (
        session.execute(
            select(Lot.id)
            .where(Lot.incoming_until.is_not(None), Lot.incoming_until <= now)
            .order_by(Lot.incoming_until, Lot.id)
            .limit(batch_max)
        )
        .scalars()
        .all()
    )
    for lot_id in due:
        _release(session, lot_id, now)
    return len(due)


def _release(session: Session, lot_id: int, now: datetime) -> int:
    """One lot from incoming to available: its points first repay the member's
    debt in its currency (the creditors get that share of the lot's value out of
    the float), the rest reaches the member's balance."""
    member_account_id = session.execute(select(Lot.member_account_id).where(Lot.id == lot_id)).scalar_one()
    member = accounts.account_by_id(session, member_account_id)
    member_key = member.name.removeprefix(accounts.member_account(""))
    row = session.execute(_LOCK_MEMBER, {"a": member.id}).one()
    lot = session.execute(
        select(Lot).where(Lot.id == lot_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if lot.incoming_until is None:
        return 0  # released meanwhile
    points = lot.points_remaining
    lot.incoming_until = None
    if points == 0:  # refunded in full while incoming
        session.flush()
        return 0
    debts = _debts_in(session, member, lot.currency) if row.owed else []
    repaid = min(points, sum(d.points_remaining for d in debts))
    repaid_value = take_from_lot(lot, repaid) if repaid else 0
    repay_legs, repayments = _repayments(session, member_key, debts, repaid, repaid_value, lot.currency)
    legs = [Leg(accounts.member_incoming(session, member_key), -points), Leg(member, points - repaid)]
    if repaid_value:
        legs.append(Leg(accounts.account(session, accounts.POINTS_FLOAT, lot.currency), -repaid_value))
    earned = session.execute(select(Entry.ref, Entry.memo).where(Entry.id == lot.entry_id)).one()
    post(
        session,
        kind="release",
        legs=legs + repay_legs,
        ref=earned.ref,
        memo=earned.memo,
        now=now,
        idempotency_key=f"release:lot:{lot.id}",
    )
    _repay_debts(session, repayments)
    session.flush()
    return points
