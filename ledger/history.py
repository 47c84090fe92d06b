"""What a member sees of the ledger: their history and their open lots.

An entry's ``ref`` is written by the flows from the builders below
(``order_ref``, ``redemption_ref``, ``lot:{id}`` for expiry); it is read back
here, once, into a ``Reference``, so no caller parses ledger strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from ledger import accounts
from ledger.accounts import PTS
from ledger.models import Account, Entry, Lot, Posting

# Enough for a member's full export; pages on screen are far smaller.
HISTORY_ROWS_MAX = 10_000
LOTS_ROWS_MAX = 10_000
ORDER = "order"
REDEMPTION = "redemption"
LOT = "lot"


@dataclass(frozen=True)
class Reference:
    """What an entry is about. ``kind`` is the ref's first word; the fields that
    apply to it are set: an order's merchant and order id, a redemption's id, a
    lot's id and issuing merchant."""

    kind: str
    merchant_key: str | None = None
    order_id: str | None = None
    redemption_id: int | None = None
    lot_id: int | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a member's points. ``posting_id`` orders the history and is
    the cursor of the next page."""

    posting_id: int
    entry_id: int
    kind: str
    at: datetime
    points: int
    memo: str
    reference: Reference
    # True for a change of the member's incoming points (earned, not yet available).
    incoming: bool = False


@dataclass(frozen=True)
class IncomingLot:
    """Points of one earn on their way to the member, and when they become available."""

    lot_id: int
    issuer: str
    points: int
    available_at: datetime
    entry_id: int


@dataclass(frozen=True)
class OpenLot:
    """Points of one earn the member still holds, and when they expire."""

    lot_id: int
    member_key: str
    issuer: str
    points_remaining: int
    expires_at: datetime


def order_ref(merchant_key: str, order_id: str) -> str:
    """The ref of entries about a merchant's order (its earn and its refunds)."""
    return f"{ORDER}:{merchant_key}:{order_id}"


def redemption_ref(redemption_id: int) -> str:
    """The ref of a boutique hold and of the entry that spends it."""
    return f"{REDEMPTION}:{redemption_id}"


def _reference(ref: str) -> Reference:
    kind, _, rest = ref.partition(":")
    if kind == ORDER:
        merchant_key, _, order_id = rest.partition(":")
        return Reference(kind, merchant_key=merchant_key or None, order_id=order_id or None)
    if kind == REDEMPTION and rest.isdigit():
        return Reference(kind, redemption_id=int(rest))
    if kind == LOT and rest.isdigit():
        return Reference(kind, lot_id=int(rest))
    return Reference(kind)


def _check_limit(limit: int, limit_max: int) -> None:
    if not 0 < limit <= limit_max:
        raise ValueError(f"limit must be 1 to {limit_max}: {limit}")


def member_history(
    session: Session, member_key: str, *, before: int | None, limit: int
) -> tuple[list[HistoryEntry], int | None]:
    """The member's point changes, newest first, at most ``limit`` of them after
    the cursor ``before``; returns them and the cursor of the next page (None
    on the last)."""
    _check_limit(limit, HISTORY_ROWS_MAX)
    acct = accounts.find_account(session, accounts.member_account(member_key), PTS)
    if acct is None:
        return [], None
    incoming = accounts.find_account(session, accounts.member_incoming_account(member_key), PTS)
    account_ids = [acct.id] if incoming is None else [acct.id, incoming.id]
    query = (
        select(
            Posting.id,
            Posting.account_id,
            Posting.amount,
            Entry.id.label("entry_id"),
            Entry.created_at,
            Entry.kind,
            Entry.ref,
            Entry.memo,
        )
        .join(Entry, Entry.id == Posting.entry_id)
        .where(Posting.account_id.in_(account_ids))
        .order_by(Posting.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(Posting.id < before)
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    references = [_reference(row.ref) for row in rows]
    lot_ids = {r.lot_id for r in references if r.lot_id is not None}
    issuers: dict[int, str] = {}
    if lot_ids:
        issuers = {
            lot_id: issuer for lot_id, issuer in session.execute(select(Lot.id, Lot.issuer).where(Lot.id.in_(lot_ids)))
        }
    history = [
        HistoryEntry(
            posting_id=row.id,
            entry_id=row.entry_id,
            kind=row.kind,
            at=row.created_at,
            points=int(row.amount),
            memo=row.memo,
            reference=_with_issuer(reference, issuers),
            incoming=row.account_id != acct.id,
        )
        for row, reference in zip(rows, references, strict=True)
    ]
    return history, (rows[-1].id if more else None)


def _with_issuer(reference: Reference, issuers: dict[int, str]) -> Reference:
    if reference.lot_id is None or reference.lot_id not in issuers:
        return reference
    return Reference(reference.kind, merchant_key=issuers[reference.lot_id], lot_id=reference.lot_id)


def _open_lot(row: Any) -> OpenLot:
    return OpenLot(
        lot_id=row.id,
        member_key=row.name.removeprefix(accounts.member_account("")),
        issuer=row.issuer,
        points_remaining=int(row.points_remaining),
        expires_at=row.expires_at,
    )


_OPEN_LOTS = (
    select(Lot.id, Account.name, Lot.issuer, Lot.points_remaining, Lot.expires_at)
    .join(Account, Account.id == Lot.member_account_id)
    .where(Lot.points_remaining > 0, Lot.incoming_until.is_(None))
    .order_by(Lot.expires_at, Lot.id)
)


def member_lots(session: Session, member_key: str, *, limit: int) -> list[OpenLot]:
    """The member's lots that still hold points, the soonest to expire first."""
    _check_limit(limit, LOTS_ROWS_MAX)
    acct = accounts.find_account(session, accounts.member_account(member_key), PTS)
    if acct is None:
        return []
    rows = session.execute(_OPEN_LOTS.where(Lot.member_account_id == acct.id).limit(limit))
    return [_open_lot(row) for row in rows]


def lots_expiring(
    session: Session,
    *,
    after: datetime,
    until: datetime,
    limit: int,
    skip_lot_ids_in: ColumnElement[int] | None = None,
) -> list[OpenLot]:
    """Lots of every member that still hold points and expire in (after, until],
    the soonest first. ``skip_lot_ids_in`` names a column of lot ids the caller
    has already handled (its notices): those lots are left out inside the query,
    so they never fill a batch."""
    _check_limit(limit, LOTS_ROWS_MAX)
    query = _OPEN_LOTS.where(Lot.expires_at > after, Lot.expires_at <= until)
    if skip_lot_ids_in is not None:
        query = query.where(~exists().where(skip_lot_ids_in == Lot.id))
    return [_open_lot(row) for row in session.execute(query.limit(limit))]


def incoming_lots(session: Session, member_key: str, *, limit: int) -> list[IncomingLot]:
    """The member's points on their way, the soonest available first."""
    _check_limit(limit, LOTS_ROWS_MAX)
    acct = accounts.find_account(session, accounts.member_account(member_key), PTS)
    if acct is None:
        return []
    rows = session.execute(
        select(Lot.id, Lot.issuer, Lot.points_remaining, Lot.incoming_until, Lot.entry_id)
        .where(Lot.member_account_id == acct.id, Lot.incoming_until.is_not(None), Lot.points_remaining > 0)
        .order_by(Lot.incoming_until, Lot.id)
        .limit(limit)
    )
    return [IncomingLot(r.id, r.issuer, int(r.points_remaining), r.incoming_until, r.entry_id) for r in rows]
