"""Members: created on their first order, visible to the merchants they bought from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app.members.models import Member, MerchantMember
from app.pagination import Page, paginate
from ledger.accounts import upsert_statement


def find_or_create(session: Session, email: str, *, now: datetime) -> int:
    """The id of the member with this (normalized) email, created if new; safe under concurrency."""
    members = Member.__table__
    by_email = select(members.c.id).where(members.c.email == email)
    found = session.execute(by_email).scalar_one_or_none()
    if found is None:
        found = session.execute(
            upsert_statement(session, members, ["email"], returning=members.c.id), {"email": email, "created_at": now}
        ).scalar_one_or_none()
    if found is None:  # created meanwhile by a concurrent first order
        found = session.execute(by_email).scalar_one()
    return found


def link_to_merchant(session: Session, merchant_id: int, member_id: int, *, now: datetime) -> None:
    session.execute(
        upsert_statement(session, MerchantMember.__table__, ["merchant_id", "member_id"]),
        {"merchant_id": merchant_id, "member_id": member_id, "first_order_at": now},
    )


def points_of(session: Session, member_id: int) -> dict:
    return points_view(ledger.member_points(session, str(member_id)))


def points_view(points: ledger.MemberPoints) -> dict:
    return {
        "points_balance": points.balance,
        "points_pending": points.pending,
        "points_available": points.available,
        "points_debt": points.debt,
    }


def view(session: Session, member: Member) -> dict:
    return {"id": str(member.id), "email": member.email, "created_at": member.created_at, **points_of(session, member.id)}


def members_of_merchant(
    session: Session, merchant_id: int, *, email: str | None, limit: int, cursor: str | None
) -> Page:
    """Members who ordered from this merchant (never anyone else's), with their points."""
    query = select(Member).join(MerchantMember, MerchantMember.member_id == Member.id).where(
        MerchantMember.merchant_id == merchant_id
    )
    if email is not None:
        query = query.where(Member.email == email)
    page = paginate(session, query, Member.id, limit=limit, cursor=cursor)
    return Page([view(session, m) for m in page.data], page.next_cursor)
