"""Two-phase holds: reserve points now, post or void them exactly once later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import accounts
from ledger.accounts import PTS, AccountRef
from ledger.errors import HoldAlreadyResolved, HoldExpired, HoldNotFound, IdempotencyConflict, InsufficientPoints
from ledger.journal import Leg, post
from ledger.models import Hold
from ledger.points import POINTS_PER_ENTRY_MAX, consume_lots

PENDING = "pending"
POSTED = "posted"
VOIDED = "voided"
HOLD_TIMEOUT_S_MAX = 90 * 24 * 3600
HOLD_EXPIRY_BATCH_MAX = 500


@dataclass(frozen=True)
class Payable:
    """Money owed to a third party out of the value of the points a hold spends
    (a boutique supplier's wholesale value); ``value_account`` keeps the rest."""

    account: str
    currency: str
    amount: int


def place_hold(
    session: Session,
    *,
    member_key: str,
    points: int,
    idempotency_key: str,
    ref: str,
    now: datetime,
    timeout_s: int,
) -> Hold:
    """Reserve ``points`` of the member's available balance until ``timeout_s`` from now.

    Raises ``InsufficientPoints`` when the available balance is short, and
    ``IdempotencyConflict`` when the key was used for another hold.
    """
    if not 0 < points <= POINTS_PER_ENTRY_MAX:
        raise ValueError(f"points out of range: {points}")
    if not 0 < timeout_s <= HOLD_TIMEOUT_S_MAX:
        raise ValueError(f"timeout out of range: {timeout_s}")
    member = accounts.member(session, member_key)
    row = accounts.lock(session, member)
    existing = session.execute(select(Hold).where(Hold.idempotency_key == idempotency_key)).scalar_one_or_none()
    if existing is not None:
        if existing.account_id != member.id or existing.points != points:
            raise IdempotencyConflict(idempotency_key)
        return existing
    available = row.balance - row.pending
    if points > available:
        raise InsufficientPoints(available, points)
    accounts.add_pending(session, member, points)
    hold = Hold(
        account_id=member.id,
        points=points,
        points_posted=0,
        status=PENDING,
        idempotency_key=idempotency_key,
        ref=ref,
        created_at=now,
        expires_at=now + timedelta(seconds=timeout_s),
    )
    session.add(hold)
    session.flush()
    return hold


def _locked_pending_hold(session: Session, hold_id: int) -> tuple[Hold, AccountRef]:
    account_id = session.execute(select(Hold.account_id).where(Hold.id == hold_id)).scalar_one_or_none()
    if account_id is None:
        raise HoldNotFound(f"hold {hold_id} does not exist")
    member = accounts.account_by_id(session, account_id)
    # The member's row first, like every other flow, then the hold itself.
    accounts.lock(session, member)
    hold = session.execute(
        select(Hold).where(Hold.id == hold_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if hold.status != PENDING:
        raise HoldAlreadyResolved(hold.id, hold.status)
    return hold, member


def post_hold(
    session: Session,
    hold_id: int,
    *,
    now: datetime,
    points: int | None = None,
    destination: str = accounts.BOUTIQUE_REDEEMED,
    value_account: str = accounts.REDEMPTION_VALUE,
    payable: Payable | None = None,
) -> Hold:
    """Spend ``points`` (default: all) of a pending hold; the rest is released.

    The points leave the member's lots oldest first; their value leaves the
    float for ``value_account``. With ``payable``, its amount goes from
    ``value_account`` to ``payable.account`` in the same entry, so
    ``value_account`` keeps the difference (negative when the payable is worth
    more than the points). A hold resolves at most once.
    """
    if payable is not None and payable.amount < 0:
        raise ValueError(f"payable amount must not be negative: {payable.amount}")
    hold, member = _locked_pending_hold(session, hold_id)
    if now >= hold.expires_at:
        raise HoldExpired(f"hold {hold_id} expired at {hold.expires_at.isoformat()}")
    spend = hold.points if points is None else points
    if not 0 < spend <= hold.points:
        raise ValueError(f"a hold of {hold.points} cannot post {spend}")
    accounts.add_pending(session, member, -hold.points)
    values = consume_lots(session, member, spend)
    legs = [Leg(member, -spend), Leg(accounts.account(session, destination, PTS), spend)]
    for currency, value in sorted(values.items()):
        legs.append(Leg(accounts.account(session, accounts.POINTS_FLOAT, currency), -value))
        legs.append(Leg(accounts.account(session, value_account, currency), value))
    if payable is not None:
        legs.append(Leg(accounts.account(session, value_account, payable.currency), -payable.amount))
        legs.append(Leg(accounts.account(session, payable.account, payable.currency), payable.amount))
    entry = post(
        session,
        kind="redeem",
        legs=legs,
        ref=hold.ref,
        memo="points spent",
        now=now,
        idempotency_key=f"hold:{hold.id}:post",
    )
    hold.status = POSTED
    hold.points_posted = spend
    hold.resolved_at = now
    hold.entry_id = entry.id
    session.flush()
    return hold


def void_hold(session: Session, hold_id: int, *, now: datetime) -> Hold:
    """Release a pending hold's points. A hold resolves at most once."""
    hold, member = _locked_pending_hold(session, hold_id)
    accounts.add_pending(session, member, -hold.points)
    hold.status = VOIDED
    hold.resolved_at = now
    session.flush()
    return hold


def expire_holds(session: Session, *, now: datetime, batch_max: int = HOLD_EXPIRY_BATCH_MAX) -> int:
    """Void pending holds past their timeout; returns how many. Safe to run again."""
    hold_ids = (
        session.execute(
            select(Hold.id)
            .where(Hold.status == PENDING, Hold.expires_at <= now)
            .order_by(Hold.expires_at, Hold.id)
            .limit(batch_max)
        )
        .scalars()
        .all()
    )
    voided = 0
    for hold_id in hold_ids:
        try:
            void_hold(session, hold_id, now=now)
        except HoldAlreadyResolved:
            continue
        voided += 1
    return voided
