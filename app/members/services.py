"""Members: created on their first order, visible to a merchant once an order of its own earned them points."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app import mail
from app.card import services as card
from app.constants import ERASED_EMAIL_DOMAIN, EXPIRY_NOTICE_BATCH_MAX, POINTS_EXPIRY_NOTICE_DAYS
from app.members.models import ExpiryNotice, Member, MerchantMember
from app.pagination import Page, paginate
from app.programme import tiers
from app.unit_of_work import UnitOfWork
from ledger import upsert_statement

_MEMBERS = Member.__table__
_LINKS = MerchantMember.__table__


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
        "points_held": points.held,
        "points_available": points.available,
        "points_debt": points.debt,
        "points_incoming": points.incoming,
    }


def view(session: Session, member: Member) -> dict:
    return {
        "id": str(member.id),
        "email": member.email,
        "created_at": member.created_at,
        **points_of(session, member.id),
        "tier": tiers.view(session, member.id, ledger.utcnow()),
        "card": card.state_of(session, member.id, ledger.utcnow()),
    }


def members_of_merchant(
    session: Session, merchant_id: int, *, email: str | None, limit: int, cursor: str | None
) -> Page:
    """Members who ordered from this merchant (never anyone else's), with their points."""
    query = (
        select(Member)
        .join(MerchantMember, MerchantMember.member_id == Member.id)
        .where(MerchantMember.merchant_id == merchant_id)
    )
    if email is not None:
        query = query.where(Member.email == email)
    page = paginate(session, query, Member.id, limit=limit, cursor=cursor)
    return Page([view(session, m) for m in page.data], page.next_cursor)


def link_customer(session: Session, merchant_id: int, member_id: int, *, now: datetime) -> None:
    """Make the member visible to this merchant (an order of theirs earned points); once."""
    session.execute(
        upsert_statement(session, _LINKS, ["merchant_id", "member_id"]),
        {"merchant_id": merchant_id, "member_id": member_id, "first_order_at": now},
    )


def is_customer(session: Session, merchant_id: int, member_id: int) -> bool:
    return (
        session.execute(
            select(_LINKS.c.member_id).where(_LINKS.c.merchant_id == merchant_id, _LINKS.c.member_id == member_id)
        ).first()
        is not None
    )


def find_member(session: Session, email: str) -> int | None:
    return session.execute(select(_MEMBERS.c.id).where(_MEMBERS.c.email == email)).scalar_one_or_none()


def find_or_create_member(session: Session, email: str, *, now: datetime) -> int:
    """The id of the member with this (normalized) email, created if new; safe under concurrency."""
    found = find_member(session, email)
    return found if found is not None else _create(session, email, now)


_NOTICES = ExpiryNotice.__table__


def notify_expiring_points(
    uow: UnitOfWork, *, notice_days: int = POINTS_EXPIRY_NOTICE_DAYS, batch_max: int = EXPIRY_NOTICE_BATCH_MAX
) -> int:
    """Announce, once per lot, points that expire within ``notice_days``: the
    issuing merchant gets a ``points.expiring`` webhook, the member one mail per
    run. Commits; returns how many lots were announced (0 when nothing is left)."""
    session, now = uow.session, uow.now
    horizon = now + timedelta(days=notice_days)
    due = ledger.lots_expiring(session, after=now, until=horizon, limit=batch_max, skip_lot_ids_in=ExpiryNotice.lot_id)
    claim = upsert_statement(session, _NOTICES, ["lot_id"], returning=_NOTICES.c.lot_id)
    per_member: dict[int, list] = defaultdict(list)
    announced = 0
    for lot in due:
        # A concurrent run may have claimed this lot: only the claimer announces it.
        if session.execute(claim, {"lot_id": lot.lot_id, "notified_at": now}).first() is None:
            continue
        announced += 1
        member_id = int(lot.member_key)
        data = {"member_id": str(member_id), "points": lot.points_remaining, "expires_at": lot.expires_at.isoformat()}
        if lot.issuer != ledger.OPERATOR:  # the operator's own points (campaigns, tiers) have no webhook
            uow.emit("merchant", int(lot.issuer), "points.expiring", data)
        per_member[member_id].append(lot)
    emails = dict(session.execute(select(Member.id, Member.email).where(Member.id.in_(list(per_member)))).all())
    uow.commit(announced)
    # Mail after the commit: SMTP sends at once, and a failed commit must not have told anyone.
    for member_id, lots in per_member.items():
        email = emails.get(member_id)
        if email and not email.endswith(ERASED_EMAIL_DOMAIN):
            lines = "\n".join(f"- {lot.points_remaining} points on {lot.expires_at:%d %B %Y}" for lot in lots)
            body = f"Some of your points expire soon:\n{lines}\n\nSpend them in the rewards boutique before then."
            mail.send(session, to=email, subject="Your points expire soon", body=body, now=now)
    return uow.commit(announced)
