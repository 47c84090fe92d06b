"""The paid loyalty card: its terms, the benefits a member holds, and its vouchers.

The order path calls ``state_of``, ``multiplier_bp`` and ``on_order``; the card
never touches an order. Benefits hold while the card is ``active`` and the paid
period has not ended (``now < renews_at``): a renewal Stripe has not confirmed yet
gives nothing until it is.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app import cache_versions
from app.card.errors import NoCardTerms, VoucherAlreadyRedeemed, VoucherExpired, VoucherNotFound
from app.card.models import VOUCHER_CODE_LENGTH_MAX, CardSubscription, CardTerms, CardVoucher
from app.locks import serialize
from app.payments.stripe_gateway import StripeGateway
from app.unit_of_work import UnitOfWork

CARD_CURRENCY = "EUR"
VOUCHER_VALIDITY = timedelta(days=365)
VOUCHER_CODE_BYTES = 18  # 24 URL-safe characters: 144 random bits, never guessed
# Vouchers issued by one order at most; spend beyond them is carried to the next order.
VOUCHERS_PER_ORDER_MAX = 100
VOUCHERS_SHOWN_MAX = 100
VOUCHER_EXPIRY_BATCH_MAX = 500
_TERMS_FIELDS = ("name", "price_cents", "currency", "interval", "earn_multiplier_bp")


# -- terms ---------------------------------------------------------------------------


def current_terms(session: Session) -> CardTerms | None:
    """The newest terms: what a new subscriber gets."""
    return session.execute(select(CardTerms).order_by(CardTerms.id.desc()).limit(1)).scalar_one_or_none()


def get_terms(session: Session) -> CardTerms:
    terms = current_terms(session)
    if terms is None:
        raise NoCardTerms()
    return terms


def put_terms(uow: UnitOfWork, gateway: StripeGateway, data: dict) -> tuple[CardTerms, bool]:
    """Set the card's terms and commit; returns them and whether they changed.

    The same terms again change nothing (no second plan). Other terms are a new
    version with its own Stripe plan: holders keep the version they subscribed to."""
    session = uow.session
    serialize(session, "card:terms")
    found = current_terms(session)
    if found is not None and _same(found, data):
        uow.commit(None)
        return found, False
    terms = CardTerms(
        **{name: data[name] for name in _TERMS_FIELDS},
        voucher_value_cents=data["voucher"]["value_cents"],
        voucher_per_spend_cents=data["voucher"]["per_spend_cents"],
        stripe_plan_id="",
        created_at=uow.now,
    )
    session.add(terms)
    session.flush()
    # The lock is held across the call, so a concurrent twin waits and then finds these terms.
    terms.stripe_plan_id = gateway.create_card_plan(
        terms_id=terms.id,
        name=terms.name,
        amount_cents=terms.price_cents,
        currency=terms.currency,
        interval=terms.interval,
    )
    uow.commit(None)
    return terms, True


def _same(terms: CardTerms, data: dict) -> bool:
    return all(getattr(terms, name) == data[name] for name in _TERMS_FIELDS) and (
        terms.voucher_value_cents,
        terms.voucher_per_spend_cents,
    ) == (data["voucher"]["value_cents"], data["voucher"]["per_spend_cents"])


# -- benefits (called by the order path) -----------------------------------------------


def state_of(session: Session, member_id: int, now: datetime) -> dict:
    """The card in the member answer: ``{"status", "renews_at"}``; ``renews_at`` only while active."""
    card = session.get(CardSubscription, member_id)
    if card is None or card.stripe_subscription_id is None:
        return {"status": "none", "renews_at": None}
    return {"status": card.status, "renews_at": card.renews_at if card.status == "active" else None}


def holds_benefits(card: CardSubscription | None, now: datetime) -> bool:
    return card is not None and card.status == "active" and card.renews_at is not None and now < card.renews_at


def subscription(session: Session, member_id: int) -> CardSubscription | None:
    """The member's subscription, if any; no read at all while nobody has subscribed
    (kept per process until a subscription is made)."""
    if not cache_versions.cached(session, cache_versions.CARD, None, _any_subscription):
        return None
    return session.get(CardSubscription, member_id)


def _any_subscription(session: Session) -> bool:
    return session.execute(select(CardSubscription.member_id).limit(1)).first() is not None


def multiplier_bp(session: Session, member_id: int, now: datetime) -> int:
    """The card's ``earn_multiplier_bp`` (of the terms the member subscribed to) while
    the card gives benefits, else 0."""
    card = subscription(session, member_id)
    if not holds_benefits(card, now):
        return 0
    return session.get(CardTerms, card.terms_id).earn_multiplier_bp


def benefit(session: Session, member_id: int, now: datetime) -> tuple[str, int] | None:
    """The card's name and ``earn_multiplier_bp`` while the member's card gives benefits."""
    card = subscription(session, member_id)
    if not holds_benefits(card, now):
        return None
    terms = session.get(CardTerms, card.terms_id)
    return terms.name, terms.earn_multiplier_bp


def on_order(uow: UnitOfWork, member_id: int, amount_cents: int, currency: str) -> list[dict]:
    """Count an order's EUR amount towards the member's next voucher, inside the order's
    unit of work (nothing is committed here): one voucher per full ``per_spend_cents``
    accumulated, the remainder carried. Returns the vouchers issued (``CardVoucherSchema``
    fields). Orders in another currency, and orders while the card gives no benefits,
    count nothing."""
    if currency != CARD_CURRENCY or amount_cents <= 0:
        return []
    session = uow.session
    # Most orders are by members without the card: they cost one read, no lock.
    if not holds_benefits(subscription(session, member_id), uow.now):
        return []
    serialize(session, card_lock(member_id))
    card = session.get(CardSubscription, member_id, with_for_update=True, populate_existing=True)
    if not holds_benefits(card, uow.now):
        return []
    terms = session.get(CardTerms, card.terms_id)
    spend_cents = card.spend_cents + amount_cents
    count = min(spend_cents // terms.voucher_per_spend_cents, VOUCHERS_PER_ORDER_MAX)
    card.spend_cents = spend_cents - count * terms.voucher_per_spend_cents
    card.updated_at = uow.now
    issued = [_issue_voucher(uow, member_id, terms.voucher_value_cents) for _ in range(count)]
    session.flush()
    return [voucher_view(voucher) for voucher in issued]


def _issue_voucher(uow: UnitOfWork, member_id: int, value_cents: int) -> CardVoucher:
    voucher = CardVoucher(
        code=secrets.token_urlsafe(VOUCHER_CODE_BYTES),
        member_id=member_id,
        value_cents=value_cents,
        currency=CARD_CURRENCY,
        issued_at=uow.now,
        expires_at=uow.now + VOUCHER_VALIDITY,
    )
    uow.session.add(voucher)
    uow.session.flush()
    ledger.post_card_voucher_issue(
        uow.session,
        member_key=str(member_id),
        voucher_key=str(voucher.id),
        currency=CARD_CURRENCY,
        value_cents=value_cents,
        now=uow.now,
    )
    return voucher


def voucher_view(voucher: CardVoucher) -> dict:
    return {
        "code": voucher.code,
        "value_cents": voucher.value_cents,
        "currency": voucher.currency,
        "issued_at": voucher.issued_at,
        "expires_at": voucher.expires_at,
        "redeemed_at": voucher.redeemed_at,
        "order_id": voucher.order_ref,
    }


# -- vouchers ----------------------------------------------------------------------------


def vouchers_of(session: Session, member_id: int, *, limit: int = VOUCHERS_SHOWN_MAX) -> list[CardVoucher]:
    """The member's vouchers, newest first."""
    query = select(CardVoucher).where(CardVoucher.member_id == member_id).order_by(CardVoucher.id.desc())
    return list(session.execute(query.limit(limit)).scalars())


def redeem_voucher(uow: UnitOfWork, merchant_id: int, code: str, order_id: str) -> CardVoucher:
    """A coalition merchant takes a voucher for an order; the caller commits. Once: the
    same merchant and order again answer the voucher unchanged (a retry), anything else
    is ``VoucherAlreadyRedeemed``. The operator then owes the merchant its value."""
    if len(code) > VOUCHER_CODE_LENGTH_MAX:
        raise VoucherNotFound()
    session = uow.session
    serialize(session, f"card-voucher:{code}")
    query = select(CardVoucher).where(CardVoucher.code == code).with_for_update()
    voucher = session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()
    if voucher is None:
        raise VoucherNotFound()
    if voucher.redeemed_at is not None:
        if (voucher.merchant_id, voucher.order_ref) == (merchant_id, order_id):
            return voucher
        raise VoucherAlreadyRedeemed()
    if uow.now >= voucher.expires_at:
        raise VoucherExpired()
    voucher.redeemed_at = uow.now
    voucher.merchant_id = merchant_id
    voucher.order_ref = order_id
    ledger.post_card_voucher_redemption(
        session,
        merchant_key=str(merchant_id),
        voucher_key=str(voucher.id),
        currency=voucher.currency,
        value_cents=voucher.value_cents,
        now=uow.now,
    )
    session.flush()
    return voucher


def expire_vouchers(uow: UnitOfWork, *, limit: int = VOUCHER_EXPIRY_BATCH_MAX) -> int:
    """One batch of the ``expire-card-vouchers`` job: each voucher past its expiry and
    never redeemed gives its value back to card revenue, once. Returns how many; several
    workers share the work on PostgreSQL (SKIP LOCKED)."""
    session = uow.session
    due = (
        select(CardVoucher)
        .where(
            CardVoucher.expires_at <= uow.now,
            CardVoucher.redeemed_at.is_(None),
            CardVoucher.lapsed_at.is_(None),
        )
        .order_by(CardVoucher.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    vouchers = list(session.execute(due).scalars())
    for voucher in vouchers:
        voucher.lapsed_at = uow.now
        ledger.post_card_voucher_lapse(
            session,
            member_key=str(voucher.member_id),
            voucher_key=str(voucher.id),
            currency=voucher.currency,
            value_cents=voucher.value_cents,
            now=uow.now,
        )
    session.flush()
    return len(vouchers)


def card_lock(member_id: int) -> str:
    return f"card:m{member_id}"
