"""Members sign in with a single-use link mailed to their address; a session
lives as long as the member's session epoch does not move on."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import mail
from app.constants import (
    SIGN_IN_LINK_TTL_S,
    SIGN_IN_LINKS_PER_CLIENT_MAX,
    SIGN_IN_LINKS_PER_EMAIL_AND_CLIENT_MAX,
    SIGN_IN_LINKS_PER_EMAIL_MAX,
    SIGN_IN_RATE_WINDOW_S,
)
from app.locks import serialize
from app.members.errors import ExpiredLink, InvalidLink, TooManyLinks, UsedLink
from app.members.models import Member, MemberProfile, SignInLink
from app.members.services import find_or_create_member
from app.unit_of_work import UnitOfWork

SIGN_IN_SALT = "member-sign-in"
LINK_ID_BYTES = 16
_LINKS = SignInLink.__table__


def _serializer(secret_key: str, now: datetime) -> URLSafeTimedSerializer:
    """itsdangerous reads the clock itself; this one reads ``now``, so time can be injected."""
    timestamp = int(now.timestamp())

    class _Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return timestamp

    return URLSafeTimedSerializer(
        secret_key, salt=SIGN_IN_SALT, signer=_Signer, signer_kwargs={"digest_method": hashlib.sha256}
    )


def request_link(uow: UnitOfWork, *, email: str, client: str, secret_key: str, link_url: Callable[[str], str]) -> None:
    """Mail a single-use sign-in link to ``email``, member or not (the answer is the
    same either way), and commit; raises ``TooManyLinks`` past the limits: per
    address from this client, per address from every client (much higher, so that
    nobody can lock a member out by asking for their links), per client."""
    session, now = uow.session, uow.now
    # Concurrent requests for one address or from one client count one after the other.
    serialize(session, f"sign-in:email:{email}", f"sign-in:client:{client}")
    since = now - timedelta(seconds=SIGN_IN_RATE_WINDOW_S)
    window_minutes = SIGN_IN_RATE_WINDOW_S // 60
    recent = select(func.count(SignInLink.id)).where(SignInLink.created_at > since)
    mine = recent.where(SignInLink.email == email, SignInLink.client == client)
    if session.execute(mine).scalar_one() >= SIGN_IN_LINKS_PER_EMAIL_AND_CLIENT_MAX:
        raise TooManyLinks("for this address", window_minutes)
    if session.execute(recent.where(SignInLink.email == email)).scalar_one() >= SIGN_IN_LINKS_PER_EMAIL_MAX:
        raise TooManyLinks("for this address", window_minutes)
    if session.execute(recent.where(SignInLink.client == client)).scalar_one() >= SIGN_IN_LINKS_PER_CLIENT_MAX:
        raise TooManyLinks("from here", window_minutes)
    link_id = secrets.token_urlsafe(LINK_ID_BYTES)
    # The link row is what the limits count; the mail is queued in the same transaction.
    session.add(SignInLink(id=link_id, email=email, client=client, created_at=now))
    url = link_url(_serializer(secret_key, now).dumps(link_id))
    minutes = SIGN_IN_LINK_TTL_S // 60
    body = (
        f"Sign in to the rewards boutique with this link (valid {minutes} minutes, once):\n\n{url}\n\n"
        "If you did not ask for it, ignore this mail."
    )
    mail.send(session, to=email, subject="Your sign-in link", body=body, now=now)
    uow.commit(link_id)


def use_link(uow: UnitOfWork, *, token: str, secret_key: str) -> tuple[int, int]:
    """Spend a sign-in link once, and commit; returns (member id, session epoch).
    The member is created on first sign-in: they just proved the address is theirs."""
    session, now = uow.session, uow.now
    try:
        link_id = _serializer(secret_key, now).loads(token, max_age=SIGN_IN_LINK_TTL_S)
    except SignatureExpired as error:
        raise ExpiredLink() from error
    except BadSignature as error:
        raise InvalidLink() from error
    spent = session.execute(
        update(_LINKS)
        .where(
            _LINKS.c.id == link_id,
            _LINKS.c.used_at.is_(None),
            _LINKS.c.created_at > now - timedelta(seconds=SIGN_IN_LINK_TTL_S),
        )
        .values(used_at=now)
    ).rowcount
    if spent != 1:
        # The signature admits a link of exactly the age limit; the row does not. Say
        # which rule refused it: a used link, or one that reached its age.
        used_at = session.execute(select(_LINKS.c.used_at).where(_LINKS.c.id == link_id)).scalar_one_or_none()
        raise UsedLink() if used_at is not None else ExpiredLink()
    email = session.execute(select(_LINKS.c.email).where(_LINKS.c.id == link_id)).scalar_one()
    member_id = find_or_create_member(session, email, now=now)
    profile = session.get(MemberProfile, member_id)
    if profile is None:
        profile = MemberProfile(member_id=member_id, session_epoch=0)
        session.add(profile)
        session.flush()
    return uow.commit((member_id, profile.session_epoch))


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


def end_sessions(uow: UnitOfWork, member_id: int) -> None:
    """Sign out everywhere, and commit: cookies made before are refused from now on."""
    uow.session.execute(
        update(MemberProfile)
        .where(MemberProfile.member_id == member_id)
        .values(session_epoch=MemberProfile.session_epoch + 1)
    )
    uow.commit(member_id)
