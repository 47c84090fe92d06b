"""Members on the web: magic-link sign-in, their sessions, what their pages show,
their data export and account deletion. Functions that write commit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

import ledger
from app import mail
from app.boutique import services as boutique
from app.boutique.models import CANCELLED, PLACED, CatalogItem, Redemption
from app.constants import (
    EXPORT_ROWS_MAX,
    NEXT_EXPIRIES_SHOWN,
    SIGN_IN_LINK_TTL_S,
    SIGN_IN_LINKS_PER_CLIENT_MAX,
    SIGN_IN_LINKS_PER_EMAIL_MAX,
    SIGN_IN_RATE_WINDOW_S,
)
from app.errors import DomainError, NotFound, TooManyRequests
from app.locks import serialize
from app.members.models import Member
from app.members.services import ERASED_EMAIL_DOMAIN, find_or_create_member
from app.merchants.models import Merchant
from app.pagination import Page, paginate
from app.web.models import MemberProfile, SignInLink

SIGN_IN_SALT = "member-sign-in"
LINK_ID_BYTES = 16


class LinkRefused(DomainError):
    problem = "link-refused"


# --- sign-in ----------------------------------------------------------------------


def _serializer(secret_key: str, now: datetime) -> URLSafeTimedSerializer:
    """itsdangerous reads the clock itself; this one reads ``now``, so time can be injected."""
    timestamp = int(now.timestamp())

    class _Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return timestamp

    return URLSafeTimedSerializer(
        secret_key, salt=SIGN_IN_SALT, signer=_Signer, signer_kwargs={"digest_method": hashlib.sha256}
    )


def request_link(session: Session, *, email: str, client: str, secret_key: str, link_url, now: datetime) -> None:
    """Mail a single-use sign-in link to ``email``, member or not (the answer is the
    same either way); raises ``TooManyRequests`` past the per-email or per-client limit."""
    # Concurrent requests for one address or from one client count one after the other.
    serialize(session, f"sign-in:email:{email}", f"sign-in:client:{client}")
    since = now - timedelta(seconds=SIGN_IN_RATE_WINDOW_S)
    recent = select(func.count(SignInLink.id)).where(SignInLink.created_at > since)
    if session.execute(recent.where(SignInLink.email == email)).scalar_one() >= SIGN_IN_LINKS_PER_EMAIL_MAX:
        raise TooManyRequests("Too many sign-in links were asked for this address; try again in 15 minutes.")
    if session.execute(recent.where(SignInLink.client == client)).scalar_one() >= SIGN_IN_LINKS_PER_CLIENT_MAX:
        raise TooManyRequests("Too many sign-in links were asked from here; try again in 15 minutes.")
    link_id = secrets.token_urlsafe(LINK_ID_BYTES)
    session.add(SignInLink(id=link_id, email=email, client=client, created_at=now))
    session.commit()
    url = link_url(_serializer(secret_key, now).dumps(link_id))
    minutes = SIGN_IN_LINK_TTL_S // 60
    body = (
        f"Sign in to the rewards boutique with this link (valid {minutes} minutes, once):\n\n{url}\n\n"
        "If you did not ask for it, ignore this mail."
    )
    mail.send(session, to=email, subject="Your sign-in link", body=body, now=now)
    session.commit()


def use_link(session: Session, *, token: str, secret_key: str, now: datetime) -> tuple[int, int]:
    """Spend a sign-in link once; returns (member id, session epoch). The member
    is created on first sign-in: they just proved the address is theirs."""
    try:
        link_id = _serializer(secret_key, now).loads(token, max_age=SIGN_IN_LINK_TTL_S)
    except SignatureExpired as error:
        raise LinkRefused("This link has expired. Ask for a new one.") from error
    except BadSignature as error:
        raise LinkRefused("This link is not valid. Ask for a new one.") from error
    links = SignInLink.__table__
    spent = session.execute(
        update(links)
        .where(
            links.c.id == link_id,
            links.c.used_at.is_(None),
            links.c.created_at > now - timedelta(seconds=SIGN_IN_LINK_TTL_S),
        )
        .values(used_at=now)
    ).rowcount
    if spent != 1:
        session.rollback()
        raise LinkRefused("This link was used already. Ask for a new one.")
    email = session.execute(select(links.c.email).where(links.c.id == link_id)).scalar_one()
    member_id = find_or_create_member(session, email, now=now)
    profile = session.get(MemberProfile, member_id)
    if profile is None:
        profile = MemberProfile(member_id=member_id, offers_consent=False, session_epoch=0)
        session.add(profile)
        session.flush()
    session.commit()
    return member_id, profile.session_epoch


def session_member(session: Session, member_id: int, epoch: int) -> Member | None:
    """The signed-in member, or None when the account is gone or its sessions were ended."""
    found = session.execute(
        select(Member, MemberProfile)
        .join(MemberProfile, MemberProfile.member_id == Member.id)
        .where(Member.id == member_id)
    ).first()
    if found is None:
        return None
    member, profile = found
    if profile.deleted_at is not None or profile.session_epoch != epoch:
        return None
    member.profile = profile
    return member


def end_sessions(session: Session, member_id: int) -> None:
    """Sign out everywhere: cookies made before are refused from now on."""
    session.execute(
        update(MemberProfile)
        .where(MemberProfile.member_id == member_id)
        .values(session_epoch=MemberProfile.session_epoch + 1)
    )
    session.commit()


# --- catalog ----------------------------------------------------------------------


def _available(now: datetime):
    return (
        CatalogItem.active.is_(True),
        or_(CatalogItem.active_from.is_(None), CatalogItem.active_from <= now),
        or_(CatalogItem.active_until.is_(None), CatalogItem.active_until > now),
    )


@dataclass(frozen=True)
class Shelf:
    item: CatalogItem
    merchant: str


def catalog(
    session: Session,
    *,
    q: str,
    category: str | None,
    points_max: int | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> Page:
    """Rewards members can redeem now, filtered; each with its supplier's name."""
    query = select(CatalogItem).where(*_available(now))
    if q:
        query = query.where(
            or_(
                CatalogItem.title.ilike(f"%{_escape(q)}%", escape="\\"),
                CatalogItem.description.ilike(f"%{_escape(q)}%", escape="\\"),
            )
        )
    if category:
        query = query.where(CatalogItem.category == category)
    if points_max is not None:
        query = query.where(CatalogItem.points_price <= points_max)
    page = paginate(session, query, CatalogItem.id, limit=limit, cursor=cursor)
    names = _merchant_names(session, {i.merchant_id for i in page.data})
    return Page([Shelf(i, names.get(i.merchant_id, "")) for i in page.data], page.next_cursor)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def categories(session: Session, *, now: datetime) -> list[str]:
    return list(
        session.execute(
            select(CatalogItem.category).where(*_available(now)).distinct().order_by(CatalogItem.category)
        ).scalars()
    )


def item(session: Session, item_id: int, *, now: datetime) -> Shelf:
    found = session.execute(select(CatalogItem).where(CatalogItem.id == item_id, *_available(now))).scalar_one_or_none()
    if found is None:
        raise NotFound("This reward is not in the boutique (any more).")
    return Shelf(found, _merchant_names(session, {found.merchant_id}).get(found.merchant_id, ""))


def _merchant_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Merchant.id, Merchant.name).where(Merchant.id.in_(ids))).all())


# --- the member's own data --------------------------------------------------------


def points(session: Session, member_id: int) -> ledger.MemberPoints:
    return ledger.member_points(session, str(member_id))


def orders(session: Session, member_id: int, *, limit: int) -> list[Redemption]:
    rows = (
        session.execute(
            select(Redemption).where(Redemption.member_id == member_id).order_by(Redemption.id.desc()).limit(limit)
        )
        .scalars()
        .all()
    )
    return boutique.with_codes(session, list(rows))


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
        reason = h.memo
        redemption = redemptions.get(h.reference.redemption_id)
        if redemption is not None:
            reason = f"Reward: {redemption.title}"
        elif h.kind == "expire":
            reason = "Points expired"
        out.append(Movement(h.posting_id, h.at, h.points, names.get(merchant_of.get(h.posting_id), ""), reason))
    return out, older


@dataclass(frozen=True)
class Expiry:
    at: datetime
    points: int
    merchant: str


def next_expiries(session: Session, member_id: int) -> list[Expiry]:
    lots = ledger.member_lots(session, str(member_id), limit=NEXT_EXPIRIES_SHOWN)
    names = _merchant_names(session, {int(lot.issuer) for lot in lots if lot.issuer.isdigit()})
    return [
        Expiry(lot.expires_at, lot.points_remaining, names.get(int(lot.issuer) if lot.issuer.isdigit() else None, ""))
        for lot in lots
    ]


def set_offers_consent(session: Session, member_id: int, consent: bool, *, now: datetime) -> None:
    profile = session.get(MemberProfile, member_id)
    if profile.offers_consent != consent:
        profile.offers_consent = consent
        profile.offers_consent_at = now
    session.commit()


def export(session: Session, member: Member) -> dict:
    """Everything the platform keeps about the member, as JSON-able data."""
    moves, _ = movements(session, member.id, before=None, limit=EXPORT_ROWS_MAX)
    pts = points(session, member.id)
    return {
        "member": {
            "id": str(member.id),
            "email": member.email,
            "created_at": member.created_at.isoformat(),
            "offers_consent": member.profile.offers_consent,
            "offers_consent_at": member.profile.offers_consent_at.isoformat()
            if member.profile.offers_consent_at
            else None,
        },
        "points": {"balance": pts.balance, "pending": pts.pending, "available": pts.available, "debt": pts.debt},
        "movements": [
            {"at": m.at.isoformat(), "points": m.points, "merchant": m.merchant, "reason": m.reason} for m in moves
        ],
        "next_expiries": [
            {"at": e.at.isoformat(), "points": e.points, "merchant": e.merchant}
            for e in next_expiries(session, member.id)
        ],
        "redemptions": [
            {
                "id": str(r.id),
                "title": r.title,
                "status": r.status,
                "points": r.points,
                "voucher_code": r.voucher_code,
                "shipping_address": r.shipping_address,
                "tracking_reference": r.tracking_reference,
                "cancel_reason": r.cancel_reason,
                "created_at": r.created_at.isoformat(),
            }
            for r in orders(session, member.id, limit=EXPORT_ROWS_MAX)
        ],
    }


def delete_account(session: Session, member_id: int, *, now: datetime) -> None:
    """Erase the member's personal data and end their sessions. The ledger keeps
    its amounts under the member's id; placed redemptions are cancelled."""
    member = session.execute(select(Member).where(Member.id == member_id).with_for_update()).scalar_one()
    placed = (
        session.execute(select(Redemption).where(Redemption.member_id == member_id, Redemption.status == PLACED))
        .scalars()
        .all()
    )
    for redemption in placed:
        boutique.release(session, redemption, CANCELLED, "The member deleted their account.", now=now)
    session.execute(update(Redemption).where(Redemption.member_id == member_id).values(shipping_address=""))
    old_email = member.email
    member.email = f"erased-{member.id}{ERASED_EMAIL_DOMAIN}"
    session.execute(SignInLink.__table__.delete().where(SignInLink.email == old_email))
    mail.forget(session, old_email)
    profile = session.get(MemberProfile, member_id)
    profile.offers_consent = False
    profile.offers_consent_at = now
    profile.deleted_at = now
    profile.session_epoch += 1
    session.commit()
