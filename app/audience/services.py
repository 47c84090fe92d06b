"""Interests and consent: the coalition's list of interests, what each member
declared, and their consent per purpose with the history of every change.

No mail of an offer or a contest leaves without the consent of its purpose
(``consenting``); each such mail carries a signed one-click unsubscribe link
(``unsubscribe_token``) for that purpose.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app import mail
from app.audience.errors import (
    InterestExists,
    InterestNotFound,
    InvalidUnsubscribeLink,
    TooManyInterests,
    UnknownInterests,
)
from app.audience.models import (
    ACCOUNT_DELETED,
    PURPOSE_TEXT,
    PURPOSES,
    Consent,
    ConsentEvent,
    Interest,
    MemberChange,
    MemberInterest,
)
from app.audience.schemas import INTERESTS_MAX
from app.constants import ERASED_EMAIL_DOMAIN
from app.unit_of_work import UnitOfWork

_UNSUBSCRIBE_SALT = "unsubscribe"

# -- the operator's list ---------------------------------------------------------------


def interests(session: Session, *, retired: bool = False) -> list[Interest]:
    """The list in slug order; retired entries only when asked for."""
    query = select(Interest).order_by(Interest.slug)
    if not retired:
        query = query.where(Interest.retired_at.is_(None))
    return list(session.execute(query).scalars())


def add_interest(uow: UnitOfWork, slug: str, label: str) -> Interest:
    """Add an interest to the list (a retired one comes back with the new label)."""
    found = uow.session.get(Interest, slug)
    if found is not None and found.retired_at is None:
        raise InterestExists(slug)
    if len(interests(uow.session)) >= INTERESTS_MAX:
        raise TooManyInterests(INTERESTS_MAX)
    if found is None:
        found = Interest(slug=slug, created_at=uow.now)
        uow.session.add(found)
    found.label, found.retired_at = label, None
    uow.session.flush()
    return found


def retire_interest(uow: UnitOfWork, slug: str) -> Interest:
    """Stop offering an interest; what members declared and segments naming it stay."""
    found = uow.session.get(Interest, slug)
    if found is None:
        raise InterestNotFound(slug)
    if found.retired_at is None:
        found.retired_at = uow.now
    return found


# -- what a member declared --------------------------------------------------------------


def interests_of(session: Session, member_id: int) -> list[str]:
    return list(
        session.execute(
            select(MemberInterest.slug).where(MemberInterest.member_id == member_id).order_by(MemberInterest.slug)
        ).scalars()
    )


def set_interests(session: Session, member_id: int, slugs: Iterable[str], now: datetime) -> list[str]:
    """Replace the member's interests with ``slugs`` (each from the list, retired ones
    kept only if already declared); returns them sorted."""
    wanted, held = set(slugs), set(interests_of(session, member_id))
    offered = {interest.slug for interest in interests(session)}
    unknown = wanted - held - offered
    if unknown:
        raise UnknownInterests(sorted(unknown))
    if wanted == held:
        return sorted(held)
    gone, new = held - wanted, wanted - held
    if gone:
        session.execute(
            delete(MemberInterest).where(MemberInterest.member_id == member_id, MemberInterest.slug.in_(gone))
        )
    if new:
        session.execute(
            insert(MemberInterest), [{"member_id": member_id, "slug": s, "created_at": now} for s in sorted(new)]
        )
    note_changed(session, [member_id], now)
    return sorted(wanted)


def note_changed(session: Session, member_ids: Iterable[int], now: datetime) -> None:
    """Tell the segments job that these members' interests or tier changed."""
    rows = [{"member_id": member_id, "at": now} for member_id in sorted(set(member_ids))]
    if rows:
        session.execute(insert(MemberChange), rows)


# -- consent -----------------------------------------------------------------------------


def consents_of(session: Session, member_id: int) -> dict[str, bool]:
    """Every purpose with the member's current choice (never given: False)."""
    given = dict(session.execute(select(Consent.purpose, Consent.granted).where(Consent.member_id == member_id)).all())
    return {purpose: bool(given.get(purpose, False)) for purpose in PURPOSES}


def set_consent(session: Session, member_id: int, purpose: str, granted: bool, *, source: str, now: datetime) -> bool:
    """Record the member's choice for ``purpose``; a change is kept in the history
    with its time and source. Returns whether anything changed."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}")
    found = session.get(Consent, (member_id, purpose), with_for_update=True)
    if found is not None and found.granted == granted:
        return False
    if found is None and not granted:
        return False  # never given: withdrawing changes nothing
    if found is None:
        found = Consent(member_id=member_id, purpose=purpose)
        session.add(found)
    found.granted, found.changed_at = granted, now
    session.add(ConsentEvent(member_id=member_id, purpose=purpose, granted=granted, at=now, source=source))
    session.flush()
    return True


def withdraw_all(session: Session, member_id: int, now: datetime) -> None:
    """Every consent withdrawn (the member deleted their account)."""
    for purpose in PURPOSES:
        set_consent(session, member_id, purpose, False, source=ACCOUNT_DELETED, now=now)


def consenting(session: Session, member_ids: Iterable[int], purpose: str) -> set[int]:
    """The members among ``member_ids`` whose consent for ``purpose`` is given now."""
    ids = sorted(set(member_ids))
    found: set[int] = set()
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        found.update(
            session.execute(
                select(Consent.member_id).where(
                    Consent.member_id.in_(chunk), Consent.purpose == purpose, Consent.granted.is_(True)
                )
            ).scalars()
        )
    return found


def consent_history(session: Session, member_id: int) -> list[ConsentEvent]:
    return list(
        session.execute(
            select(ConsentEvent).where(ConsentEvent.member_id == member_id).order_by(ConsentEvent.id)
        ).scalars()
    )


def exported(session: Session, member_id: int) -> dict:
    """The member's interests and consents, with the history, for their data export."""
    current = {c.purpose: c for c in session.execute(select(Consent).where(Consent.member_id == member_id)).scalars()}
    return {
        "interests": interests_of(session, member_id),
        "consents": {
            purpose: {
                "granted": bool(current[purpose].granted) if purpose in current else False,
                "changed_at": current[purpose].changed_at.isoformat() if purpose in current else None,
            }
            for purpose in PURPOSES
        },
        "consent_history": [
            {"purpose": e.purpose, "granted": e.granted, "at": e.at.isoformat(), "source": e.source}
            for e in consent_history(session, member_id)
        ],
    }


# -- one-click unsubscribe -----------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(
        current_app.config["SECRET_KEY"], salt=_UNSUBSCRIBE_SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )


def unsubscribe_token(member_id: int, purpose: str) -> str:
    """A signed token naming the member and the purpose a mail was sent under."""
    return _serializer().dumps([member_id, purpose])


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    try:
        payload = _serializer().loads(token)
    except (BadData, ValueError, TypeError):
        raise InvalidUnsubscribeLink() from None
    if not isinstance(payload, list) or len(payload) != 2 or type(payload[0]) is not int or payload[1] not in PURPOSES:
        raise InvalidUnsubscribeLink()
    return payload[0], payload[1]


def unsubscribe_url(member_id: int, purpose: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}/unsubscribe/{unsubscribe_token(member_id, purpose)}"


def send_with_consent(
    session: Session,
    *,
    member_id: int,
    email: str,
    purpose: str,
    subject: str,
    body: str,
    now: datetime,
    html: str | None = None,
) -> bool:
    """The one way an offer or a contest mails a member: only with the consent of
    ``purpose`` given now (read under lock, so a withdrawal that committed first
    wins), with the one-click unsubscribe link in the text and in the
    ``List-Unsubscribe`` headers (RFC 2369, RFC 8058). False: nothing was queued."""
    consent = session.get(Consent, (member_id, purpose), with_for_update=True)
    if consent is None or not consent.granted or email.endswith(ERASED_EMAIL_DOMAIN):
        return False
    url = unsubscribe_url(member_id, purpose)
    footer = f"\n\n--\nYou get this because you accepted {PURPOSE_TEXT[purpose]}. Unsubscribe in one click: {url}\n"
    html_footer = (
        f'<hr><p>You get this because you accepted {PURPOSE_TEXT[purpose]}. <a href="{url}">Unsubscribe</a></p>'
    )
    mail.send(
        session,
        to=email,
        subject=subject,
        body=body + footer,
        now=now,
        headers={"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        html=None if html is None else html + html_footer,
    )
    return True
