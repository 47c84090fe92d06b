"""The member's points history as their pages and their export show it: every
movement with its merchant and reason, and the points that expire next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app.boutique.models import Redemption
from app.boutique.shop import merchant_names as _merchant_names
from app.constants import NEXT_EXPIRIES_SHOWN
from ledger import accounts
from ledger.models import Entry, Lot, Posting


def points(session: Session, member_id: int) -> ledger.MemberPoints:
    return ledger.member_points(session, str(member_id))


@dataclass(frozen=True)
class Movement:
    id: int
    at: datetime
    points: int
    merchant: str
    reason: str


def movements(session: Session, member_id: int, *, before: int | None, limit: int) -> tuple[list[Movement], int | None]:
    """Every change of the member's points, newest first: date, merchant, reason."""
    acct = accounts.find_account(session, accounts.member_account(str(member_id)), ledger.PTS)
    if acct is None:
        return [], None
    query = (
        select(Posting.id, Posting.amount, Entry.created_at, Entry.kind, Entry.ref, Entry.memo)
        .join(Entry, Entry.id == Posting.entry_id)
        .where(Posting.account_id == acct.id)
        .order_by(Posting.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(Posting.id < before)
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    refs = [_parse_ref(r.ref) for r in rows]
    redemption_ids = {v for k, v in refs if k == "redemption"}
    lot_ids = {v for k, v in refs if k == "lot"}
    redemptions = (
        {r.id: r for r in session.execute(select(Redemption).where(Redemption.id.in_(redemption_ids))).scalars()}
        if redemption_ids
        else {}
    )
    lot_issuers = dict(session.execute(select(Lot.id, Lot.issuer).where(Lot.id.in_(lot_ids))).all()) if lot_ids else {}
    merchant_of = {}
    for (kind, value), row in zip(refs, rows, strict=True):
        if kind == "order":
            merchant_of[row.id] = value
        elif kind == "redemption" and value in redemptions:
            merchant_of[row.id] = redemptions[value].merchant_id
        elif kind == "lot" and value in lot_issuers and lot_issuers[value].isdigit():
            merchant_of[row.id] = int(lot_issuers[value])
    names = _merchant_names(session, set(merchant_of.values()))
    out = []
    for (kind, value), row in zip(refs, rows, strict=True):
        reason = row.memo
        if kind == "redemption" and value in redemptions:
            reason = f"Reward: {redemptions[value].title}"
        elif row.kind == "expire":
            reason = "Points expired"
        out.append(Movement(row.id, row.created_at, int(row.amount), names.get(merchant_of.get(row.id), ""), reason))
    return out, (rows[-1].id if more else None)


def _parse_ref(ref: str) -> tuple[str, int | None]:
    kind, _, rest = ref.partition(":")
    head = rest.split(":", 1)[0]
    return kind, int(head) if head.isdigit() else None


@dataclass(frozen=True)
class Expiry:
    at: datetime
    points: int
    merchant: str


def next_expiries(session: Session, member_id: int) -> list[Expiry]:
    acct = accounts.find_account(session, accounts.member_account(str(member_id)), ledger.PTS)
    if acct is None:
        return []
    lots = session.execute(
        select(Lot.expires_at, Lot.points_remaining, Lot.issuer)
        .where(Lot.member_account_id == acct.id, Lot.points_remaining > 0)
        .order_by(Lot.expires_at, Lot.id)
        .limit(NEXT_EXPIRIES_SHOWN)
    ).all()
    names = _merchant_names(session, {int(lot.issuer) for lot in lots if lot.issuer.isdigit()})
    return [
        Expiry(
            lot.expires_at, int(lot.points_remaining), names.get(int(lot.issuer) if lot.issuer.isdigit() else None, "")
        )
        for lot in lots
    ]
