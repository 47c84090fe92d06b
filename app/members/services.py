"""Members: created on their first order, visible to the merchants they bought from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

import ledger
from app.members.models import Member, MerchantMember
from app.pagination import Page, paginate
from ledger.accounts import upsert_statement


_MEMBERS = Member.__table__
_LINKS = MerchantMember.__table__
# The member and whether this merchant already knows them: one round trip for a returning customer.
_MEMBER_FOR_MERCHANT = (
    select(_MEMBERS.c.id, _LINKS.c.member_id.label("linked"))
    .outerjoin(_LINKS, (_LINKS.c.member_id == _MEMBERS.c.id) & (_LINKS.c.merchant_id == bindparam("merchant")))
    .where(_MEMBERS.c.email == bindparam("email"))
)


def find_or_create_customer(session: Session, merchant_id: int, email: str, *, now: datetime) -> int:
    """The id of the member with this (normalized) email, created if new and made
    visible to this merchant; safe under concurrency."""
    found = session.execute(_MEMBER_FOR_MERCHANT, {"merchant": merchant_id, "email": email}).first()
    if found is not None and found.linked is not None:
        return found.id
    member_id = found.id if found is not None else _create(session, email, now)
    session.execute(
        upsert_statement(session, _LINKS, ["merchant_id", "member_id"]),
        {"merchant_id": merchant_id, "member_id": member_id, "first_order_at": now},
    )
    return member_id


def _create(session: Session, email: str, now: datetime) -> int:
    created = session.execute(
        upsert_statement(session, _MEMBERS, ["email"], returning=_MEMBERS.c.id), {"email": email, "created_at": now}
    ).scalar_one_or_none()
    if created is None:  # created meanwhile by a concurrent first order
        created = session.execute(select(_MEMBERS.c.id).where(_MEMBERS.c.email == email)).scalar_one()
    return created


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


def find_or_create_member(session: Session, email: str, *, now: datetime) -> int:
    """The id of the member with this (normalized) email, created if new; safe under concurrency."""
    found = session.execute(select(_MEMBERS.c.id).where(_MEMBERS.c.email == email)).scalar_one_or_none()
    return found if found is not None else _create(session, email, now)
