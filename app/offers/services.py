"""Offers: create one for a segment, choose its recipients with a reproducible
holdout, mail the targeted members who consented (a job, rate-limited), count
opens and clicks, and report what it brought.

Who gets what:
- *eligible*: the segment's members when the offer starts (recipients are chosen
  by the ``send-offers`` job at or after ``starts_at``);
- *held out*: a random, reproducible ``holdout_bp`` of them (a keyed hash of the
  member id with the offer's secret salt): they get no mail and no reward;
- *targeted*: the others; each is mailed only with the consent of the offer's purpose
  (a merchant's own customers: ``merchants``; anyone else, and every member for
  the operator's offers: ``coalition``); *sent* are those mailed.
- the reward goes to those sent only: a bonus on their next order at the offering
  merchant (any merchant for the operator's) within the window, once each.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import String, cast, func, insert, literal, select, update
from sqlalchemy.orm import Session

from app.audience import services as audience
from app.audience.models import COALITION, MERCHANTS
from app.boutique import services as boutique
from app.boutique.errors import OutOfStock
from app.boutique.models import VOUCHER, CatalogItem, Redemption
from app.campaigns import services as campaigns
from app.identity.callers import Caller
from app.members.models import Member, MerchantMember
from app.merchants.models import Merchant
from app.offers import tracking
from app.offers.errors import OfferNotFound, OfferWindowInvalid, RewardNotAvailable
from app.offers.models import BONUS, Offer, OfferRecipient
from app.pagination import Page, paginate
from app.rows import one_or_raise
from app.segments import services as segments
from app.unit_of_work import UnitOfWork

OFFER_DURATION_MAX = timedelta(days=366)
BASIS_POINTS = 10_000
RECIPIENT_ROWS_PER_INSERT = 1000
OFFER_MAIL_BATCH = 200
RATE_WINDOW = timedelta(minutes=1)


def create_offer(uow: UnitOfWork, caller: Caller, data: dict) -> Offer:
    session, now = uow.session, uow.now
    segment_id = segments.owned_segment(session, caller.merchant_id, int(data["segment_id"]), field="segment_id")
    starts_at, ends_at = data["starts_at"].astimezone(UTC), data["ends_at"].astimezone(UTC)
    if ends_at <= now:
        raise OfferWindowInvalid("An offer must end in the future.")
    if not starts_at < ends_at or ends_at - starts_at > OFFER_DURATION_MAX:
        raise OfferWindowInvalid(f"ends_at must follow starts_at, at most {OFFER_DURATION_MAX.days} days later.")
    reward = data["reward"]
    if reward["type"] != BONUS:
        _check_voucher(session, caller, int(reward["item_id"]))
    offer = Offer(
        merchant_id=caller.merchant_id,
        segment_id=segment_id,
        subject=data["subject"],
        body=data["body"],
        reward_type=reward["type"],
        reward_points=reward.get("points"),
        reward_item_id=int(reward["item_id"]) if "item_id" in reward else None,
        starts_at=starts_at,
        ends_at=ends_at,
        holdout_bp=data["holdout_bp"],
        salt=secrets.token_hex(16),
        created_at=now,
    )
    session.add(offer)
    session.flush()
    if offer.reward_type == BONUS:
        campaigns.start_offer_bonus(uow, offer, f"Offer: {offer.subject}"[:120])
    return offer


def _check_voucher(session: Session, caller: Caller, item_id: int) -> None:
    item = session.get(CatalogItem, item_id)
    if item is None or (not caller.is_operator and item.merchant_id != caller.merchant_id):
        raise RewardNotAvailable("Not a catalog item of yours.")
    if item.kind != VOUCHER:
        raise RewardNotAvailable("The reward must be a voucher item.")


def held_out(offer: Offer, member_id: int) -> bool:
    """The reproducible split: a keyed hash of the member's id, below ``holdout_bp`` of 10,000."""
    digest = hashlib.sha256(f"{offer.salt}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BASIS_POINTS < offer.holdout_bp


def list_offers(session: Session, caller: Caller, *, limit: int, cursor: str | None) -> Page:
    query = select(Offer).where(_owned_by(caller))
    return paginate(session, query, Offer.id, limit=limit, cursor=cursor)


def get_offer(session: Session, caller: Caller, offer_id: int) -> Offer:
    query = select(Offer).where(Offer.id == offer_id)
    if not caller.is_operator:
        query = query.where(Offer.merchant_id == caller.merchant_id)
    return one_or_raise(session, query, OfferNotFound(offer_id))


def _owned_by(caller: Caller):
    return Offer.merchant_id.is_(None) if caller.is_operator else Offer.merchant_id == caller.merchant_id


# -- the send-offers job -----------------------------------------------------------------


def send_due(uow: UnitOfWork, *, batch: int = OFFER_MAIL_BATCH) -> int:
    """One batch of the ``send-offers`` job: choose the recipients of an offer that has
    started, or mail the next targeted members of one being sent, within the mail
    rate; returns how many members it handled (0: nothing due now)."""
    session, now = uow.session, uow.now
    due = session.execute(
        select(Offer)
        .where(Offer.prepared_at.is_(None), Offer.starts_at <= now, Offer.ends_at > now)
        .order_by(Offer.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if due is not None:
        return uow.commit(_choose_recipients(session, due, now))
    sending = session.execute(
        select(Offer)
        .where(Offer.prepared_at.is_not(None), Offer.sent_at.is_(None), Offer.ends_at > now)
        .order_by(Offer.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if sending is None:
        return 0
    allowed = min(batch, _mail_allowance(session, now))
    if allowed <= 0:
        return 0
    return uow.commit(_mail_next(uow, sending, allowed))


def _choose_recipients(session: Session, offer: Offer, now: datetime) -> int:
    members = segments.member_ids_of(session, offer.segment_id)
    rows = [
        {
            "offer_id": offer.id,
            "member_id": member_id,
            "ref": secrets.token_hex(16),
            "held_out": held_out(offer, member_id),
            "sent_at": None,
            "skipped": False,
            "opened_at": None,
            "clicked_at": None,
        }
        for member_id in members
    ]
    for start in range(0, len(rows), RECIPIENT_ROWS_PER_INSERT):
        session.execute(insert(OfferRecipient), rows[start : start + RECIPIENT_ROWS_PER_INSERT])
    offer.prepared_at = now
    if offer.reward_type == BONUS:
        campaigns.size_offer_bonus(session, offer.id, sum(1 for row in rows if not row["held_out"]))
    return max(len(rows), 1)


def _mail_allowance(session: Session, now: datetime) -> int:
    """Offer mails still allowed in the sliding minute (``OFFER_MAILS_PER_MINUTE``)."""
    recent = session.execute(
        select(func.count()).select_from(OfferRecipient).where(OfferRecipient.sent_at > now - RATE_WINDOW)
    ).scalar_one()
    return int(current_app.config["OFFER_MAILS_PER_MINUTE"]) - int(recent)


def _mail_next(uow: UnitOfWork, offer: Offer, allowed: int) -> int:
    session, now = uow.session, uow.now
    pending = session.execute(
        select(OfferRecipient, Member.email)
        .join(Member, Member.id == OfferRecipient.member_id)
        .where(
            OfferRecipient.offer_id == offer.id,
            OfferRecipient.held_out.is_(False),
            OfferRecipient.sent_at.is_(None),
            OfferRecipient.skipped.is_(False),
        )
        .order_by(OfferRecipient.member_id)
        .limit(allowed)
    ).all()
    if not pending:
        offer.sent_at = now
        return 1
    customers = _customers(session, offer, [recipient.member_id for recipient, _ in pending])
    for recipient, email in pending:
        purpose = MERCHANTS if recipient.member_id in customers else COALITION
        if offer.reward_type == BONUS:
            mailed = _mail(session, offer, recipient, email, purpose, now)
        else:
            mailed = _mail_with_voucher(uow, offer, recipient, email, purpose)
        if mailed:
            recipient.sent_at = now
        else:
            recipient.skipped = True
    return len(pending)


def _mail(session: Session, offer: Offer, recipient: OfferRecipient, email: str, purpose: str, now) -> bool:
    return audience.send_with_consent(
        session,
        member_id=recipient.member_id,
        email=email,
        purpose=purpose,
        subject=offer.subject,
        body=_text(offer, recipient),
        html=_html(offer, recipient),
        now=now,
    )


def _mail_with_voucher(uow: UnitOfWork, offer: Offer, recipient: OfferRecipient, email: str, purpose: str) -> bool:
    """The voucher goes with the mail or not at all: one unit of the item and its code
    for the recipient (a prize redemption: no points), kept only if the mail is queued
    under consent; out of stock, the recipient is not mailed."""
    session = uow.session
    try:
        with session.begin_nested():  # left by an exception: the unit and the code go back
            boutique.reserve_prize_stock(session, offer.reward_item_id, 1)
            key = voucher_key(offer.id, recipient.member_id)
            boutique.give_prize(uow, member_id=recipient.member_id, item_id=offer.reward_item_id, key=key)
            if not _mail(session, offer, recipient, email, purpose, uow.now):
                raise _NotMailed()
    except (OutOfStock, _NotMailed):
        return False
    return True


class _NotMailed(Exception):
    """The member's consent did not allow the mail: no voucher either."""


def voucher_key(offer_id: int, member_id: int) -> str:
    """The idempotency key of the voucher an offer gave a member."""
    return f"offer:{offer_id}:{member_id}"


def vouchers_given(session: Session, offer_id: int) -> int:
    """Vouchers the offer gave: its recipients' redemptions under ``voucher_key`` (by the
    redemptions' (member, key) index)."""
    key = literal(f"offer:{offer_id}:") + cast(OfferRecipient.member_id, String)
    return session.execute(
        select(func.count())
        .select_from(OfferRecipient)
        .join(Redemption, (Redemption.member_id == OfferRecipient.member_id) & (Redemption.idempotency_key == key))
        .where(OfferRecipient.offer_id == offer_id)
    ).scalar_one()


def _customers(session: Session, offer: Offer, member_ids: list[int]) -> set[int]:
    if offer.merchant_id is None:
        return set()
    return set(
        session.execute(
            select(MerchantMember.member_id).where(
                MerchantMember.merchant_id == offer.merchant_id, MerchantMember.member_id.in_(member_ids)
            )
        ).scalars()
    )


def _reward_text(offer: Offer) -> str:
    if offer.reward_type == BONUS:
        return f"{offer.reward_points:,} bonus points on your next order until {offer.ends_at:%d %B %Y}."
    return "A voucher for you: its code is in your orders in the rewards boutique."


def _text(offer: Offer, recipient: OfferRecipient) -> str:
    link = tracking.click_url(offer.id, recipient.ref)
    return f"{offer.body}\n\n{_reward_text(offer)}\n\nSee the offer: {link}"


def _html(offer: Offer, recipient: OfferRecipient) -> str:
    from markupsafe import escape

    link = tracking.click_url(offer.id, recipient.ref)
    pixel = tracking.open_url(offer.id, recipient.ref)
    paragraphs = "".join(f"<p>{escape(part)}</p>" for part in offer.body.split("\n\n"))
    return (
        f'{paragraphs}<p>{escape(_reward_text(offer))}</p><p><a href="{link}">See the offer</a></p>'
        f'<img src="{pixel}" width="1" height="1" alt="">'
    )


# -- opens and clicks ----------------------------------------------------------------------


def record_open(session: Session, offer_id: int, ref: str, now: datetime) -> None:
    """The first open of a recipient's mail (later ones change nothing). A single
    write, first in its transaction."""
    session.execute(
        update(OfferRecipient)
        .where(OfferRecipient.offer_id == offer_id, OfferRecipient.ref == ref, OfferRecipient.opened_at.is_(None))
        .values(opened_at=now)
    )


def record_click(session: Session, offer_id: int, ref: str, now: datetime) -> str | None:
    """The first click (which is an open too); returns where the link leads, None if unknown."""
    session.execute(
        update(OfferRecipient)
        .where(OfferRecipient.offer_id == offer_id, OfferRecipient.ref == ref, OfferRecipient.clicked_at.is_(None))
        .values(clicked_at=now)
    )
    record_open(session, offer_id, ref, now)
    found = session.execute(
        select(Offer.merchant_id)
        .join(OfferRecipient, OfferRecipient.offer_id == Offer.id)
        .where(Offer.id == offer_id, OfferRecipient.ref == ref)
    ).first()
    if found is None:
        return None
    return landing(session, found.merchant_id)


def landing(session: Session, merchant_id: int | None) -> str:
    """Where an offer's link leads: the merchant's shop, or the boutique for the operator's."""
    if merchant_id is not None:
        merchant = session.get(Merchant, merchant_id)
        domains = sorted(d.domain for d in merchant.domains) if merchant is not None else []
        if domains:
            return f"https://{domains[0]}/"
    return f"{current_app.config['PUBLIC_URL']}/"
