"""The member's own account: their interests and consents, their data export and
the deletion of their account."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import mail
from app.audience import services as audience
from app.audience.models import ACCOUNT_PAGE
from app.boutique import services as boutique
from app.boutique.models import CANCELLED, PLACED, Redemption
from app.constants import EXPORT_ROWS_MAX
from app.members.errors import MemberNotFound
from app.members.history import movements, next_expiries, points
from app.members.models import Member, MemberProfile, SignInLink
from app.members.services import ERASED_EMAIL_DOMAIN
from app.unit_of_work import UnitOfWork


def set_preferences(uow: UnitOfWork, member_id: int, consents: dict[str, bool], interests: list[str]) -> None:
    """Record the member's consent per purpose (each change with its time, from the
    account page) and their interests, and commit."""
    _profile(uow.session, member_id)
    for purpose, granted in consents.items():
        audience.set_consent(uow.session, member_id, purpose, granted, source=ACCOUNT_PAGE, now=uow.now)
    audience.set_interests(uow.session, member_id, interests, uow.now)
    uow.commit(None)


def export(session: Session, member: Member) -> dict:
    """Everything the platform keeps about the member, as JSON-able data."""
    moves, _ = movements(session, member.id, before=None, limit=EXPORT_ROWS_MAX)
    pts = points(session, member.id)
    return {
        "member": {
            "id": str(member.id),
            "email": member.email,
            "created_at": member.created_at.isoformat(),
        },
        **audience.exported(session, member.id),
        "points": {
            "balance": pts.balance,
            "held": pts.held,
            "available": pts.available,
            "debt": pts.debt,
            "incoming": pts.incoming,
        },
        "movements": [
            {"at": m.at.isoformat(), "points": m.points, "merchant": m.merchant, "reason": m.reason} for m in moves
        ],
        "next_expiries": [
            {"at": e.at.isoformat(), "points": e.points, "merchant": e.merchant}
            for e in next_expiries(session, member.id)
        ],
        "redemptions": [_exported(r) for r in boutique.of_member(session, member.id, limit=EXPORT_ROWS_MAX)],
    }


def _exported(redemption: Redemption) -> dict:
    return {
        "id": str(redemption.id),
        "title": redemption.title,
        "status": redemption.status,
        "points": redemption.points,
        "voucher_code": redemption.voucher_code,
        "shipping_address": redemption.shipping_address,
        "tracking_reference": redemption.tracking_reference,
        "cancel_reason": redemption.cancel_reason,
        "created_at": redemption.created_at.isoformat(),
    }


def delete_account(uow: UnitOfWork, member_id: int) -> None:
    """Erase the member's personal data and end their sessions, and commit. The
    ledger keeps its amounts under the member's id; placed redemptions are cancelled."""
    session, now = uow.session, uow.now
    member = session.execute(select(Member).where(Member.id == member_id).with_for_update()).scalar_one_or_none()
    if member is None:
        raise MemberNotFound(member_id)
    placed = Redemption.member_id == member_id, Redemption.status == PLACED
    for redemption in session.execute(select(Redemption).where(*placed)).scalars().all():
        boutique.release(uow, redemption, CANCELLED, "The member deleted their account.")
    session.execute(update(Redemption).where(Redemption.member_id == member_id).values(shipping_address=""))
    old_email = member.email
    member.email = f"erased-{member.id}{ERASED_EMAIL_DOMAIN}"
    session.execute(SignInLink.__table__.delete().where(SignInLink.email == old_email))
    mail.forget(session, old_email)
    audience.withdraw_all(session, member_id, now)
    audience.set_interests(session, member_id, [], now)
    profile = _profile(session, member_id)
    profile.deleted_at = now
    profile.session_epoch += 1
    uow.commit(member_id)


def _profile(session: Session, member_id: int) -> MemberProfile:
    profile = session.get(MemberProfile, member_id)
    if profile is None:
        raise MemberNotFound(member_id)
    return profile
