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
from app.constants import INCOMING_SHOWN, NEXT_EXPIRIES_SHOWN


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
    history, older = ledger.member_history(session, str(member_id), before=before, limit=limit)
    redemption_ids = {h.reference.redemption_id for h in history if h.reference.redemption_id is not None}
    redemptions = (
        {r.id: r for r in session.execute(select(Redemption).where(Redemption.id.in_(redemption_ids))).scalars()}
        if redemption_ids
        else {}
    )
    merchant_of = {}
    for h in history:
        redemption = redemptions.get(h.reference.redemption_id)
        if redemption is not None:
            merchant_of[h.posting_id] = redemption.merchant_id
        elif h.reference.merchant_key is not None and h.reference.merchant_key.isdigit():
            merchant_of[h.posting_id] = int(h.reference.merchant_key)
    names = _merchant_names(session, set(merchant_of.values()))
    out = []
    for h in history:
        if h.incoming and h.kind == "release":
            continue  # the other half of the release: the member sees the points arrive
        reason = h.memo
        redemption = redemptions.get(h.reference.redemption_id)
        if redemption is not None:
            reason = f"Reward: {redemption.title}"
        elif h.kind == "expire":
            reason = "Points expired"
        elif h.kind == "release":
            reason = f"Now available: {h.memo}"
        elif h.incoming:
            reason = f"{reason} (incoming)"
        out.append(Movement(h.posting_id, h.at, h.points, names.get(merchant_of.get(h.posting_id), ""), reason))
    return out, older


@dataclass(frozen=True)
class Expiry:
    at: datetime
    points: int
    merchant: str


def _issuer_names(session: Session, issuers: set[str]) -> dict[str, str]:
    """Merchant names by issuer key; the operator's own points say so."""
    names = _merchant_names(session, {int(i) for i in issuers if i.isdigit()})
    return {i: (names.get(int(i), "") if i.isdigit() else "The coalition") for i in issuers}


def next_expiries(session: Session, member_id: int) -> list[Expiry]:
    lots = ledger.member_lots(session, str(member_id), limit=NEXT_EXPIRIES_SHOWN)
    names = _issuer_names(session, {lot.issuer for lot in lots})
    return [Expiry(lot.expires_at, lot.points_remaining, names[lot.issuer]) for lot in lots]


def arrivals(session: Session, member_id: int) -> list[Expiry]:
    """Points on their way (incoming), the soonest available first: when, how many, from whom."""
    lots = ledger.incoming_lots(session, str(member_id), limit=INCOMING_SHOWN)
    names = _issuer_names(session, {lot.issuer for lot in lots})
    return [Expiry(lot.available_at, lot.points, names[lot.issuer]) for lot in lots]
