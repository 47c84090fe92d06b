"""Lifecycle figures of a merchant's customers, or of the coalition's: how long
members take to buy first, how many buy again within 30 and 90 days, how many
stopped. Read from the orders as they are (net amount above zero)."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from app.members.models import Member
from app.orders.models import Order

REPEAT_WINDOWS_DAYS = (30, 90)
BASIS_POINTS = 10_000
SECONDS_PER_DAY = 86_400

_ORDERS = Order.__table__


def lifecycle(session: Session, merchant_id: int | None, now: datetime, *, dormant_days: int) -> dict:
    customers = _customers(session, merchant_id)
    waits = [(first - joined).total_seconds() / SECONDS_PER_DAY for _m, joined, first, _second, _last in customers]
    figures = {
        "scope": "coalition" if merchant_id is None else "merchant",
        "customers": len(customers),
        "days_to_first_purchase": {
            "measured": len(waits),
            "median": round(statistics.median(waits), 1) if waits else None,
            "mean": round(statistics.fmean(waits), 1) if waits else None,
        },
        "dormant_days": dormant_days,
        "dormant": sum(1 for *_rest, last in customers if last <= now - timedelta(days=dormant_days)),
        "computed_at": now,
    }
    for days in REPEAT_WINDOWS_DAYS:
        window = timedelta(days=days)
        eligible = [c for c in customers if c[2] <= now - window]
        repeated = sum(1 for c in eligible if c[3] is not None and c[3] - c[2] <= window)
        figures[f"repeat_{days}d"] = {
            "eligible": len(eligible),
            "repeated": repeated,
            "rate_bp": repeated * BASIS_POINTS // len(eligible) if eligible else 0,
        }
    figures["active"] = figures["customers"] - figures["dormant"]
    return figures


def _customers(session: Session, merchant_id: int | None) -> list[tuple]:
    """Per customer: when the coalition first knew them, their first, second and last order."""
    orders = _ORDERS.c
    live = [orders.amount_cents > orders.refunded_cents]
    if merchant_id is not None:
        live.append(orders.merchant_id == merchant_id)
    firsts = (
        select(
            orders.member_id,
            func.min(orders.created_at).label("first"),
            func.max(orders.created_at).label("last"),
        )
        .where(*live)
        .group_by(orders.member_id)
        .subquery()
    )
    later = aliased(_ORDERS)
    second_conditions = [
        later.c.member_id == firsts.c.member_id,
        later.c.created_at > firsts.c.first,
        later.c.amount_cents > later.c.refunded_cents,
    ]
    if merchant_id is not None:
        second_conditions.append(later.c.merchant_id == merchant_id)
    rows = session.execute(
        select(firsts.c.member_id, Member.created_at, firsts.c.first, func.min(later.c.created_at), firsts.c.last)
        .join(Member, Member.id == firsts.c.member_id)
        .outerjoin(later, and_(*second_conditions))
        .group_by(firsts.c.member_id, Member.created_at, firsts.c.first, firsts.c.last)
    ).all()
    return [tuple(row) for row in rows]
