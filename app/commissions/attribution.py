"""Attribution: which click a sale or lead comes from, and whether it earns a commission.

Every check that fails stores its code for the merchant's review; the order or
lead itself is recorded either way (docs/affiliates.md lists the codes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.affiliates.models import Affiliate, Application, Program
from app.affiliates.urls import website_host
from app.clicks.tokens import Click, InvalidClickToken
from app.commissions import events
from app.commissions.models import AttributionError, Commission
from app.constants import SUSPICIOUS_CLICK_TO_ORDER_S
from app.merchants.models import MerchantDomain, MerchantTerms
from app.unit_of_work import UnitOfWork
from ledger import dialect_insert

# A token issued later than this ahead of our clock is not ours to trust.
CLOCK_SKEW_S = 300


class Refused(Exception):
    """A conversion that earns no commission; ``code`` is stored for the merchant's review."""

    def __init__(self, code: str, click: Click | None = None):
        super().__init__(code)
        self.code = code
        self.click = click


def brief(commission: Commission | None) -> dict | None:
    """The commission part of an order or lead answer."""
    if commission is None:
        return None
    return {
        "id": str(commission.id),
        "status": commission.status,
        "amount_cents": commission.amount_cents,
        "currency": commission.currency,
        "affiliate_id": str(commission.affiliate_id),
        "suspicious": commission.suspicious,
    }


# ----------------------------------------------------------------- attribution


def attribute(
    uow: UnitOfWork,
    merchant: MerchantTerms,
    *,
    token: str,
    kind: str,
    conversion_ref: str,
    sale_cents: int | None,
    member_email: str | None,
) -> tuple[dict | None, str | None]:
    """Create the commission a click token earns for this sale or lead, or store why not,
    in the conversion's unit of work (its caller commits).

    Returns (commission brief, None) or (None, error code). Never raises for a
    bad token: the order or lead is recorded either way.
    """
    session, now = uow.session, uow.now
    click = None
    try:
        click = _verified_click(token, now)
        program = _program_for(session, merchant, click)
        affiliate = _approved_affiliate(session, click)
        _check_window(program, click, now)
        _check_self_referral(session, merchant, affiliate, member_email)
        commission = _insert(session, merchant, program, click, kind, conversion_ref, sale_cents, now)
        events.announce(uow, commission, "commission.created")
    except Refused as refused:
        click = refused.click or click
        session.add(
            AttributionError(
                merchant_id=merchant.id,
                code=refused.code,
                conversion_ref=conversion_ref,
                program_id=click.program_id if click else None,
                affiliate_id=click.affiliate_id if click else None,
                click_id=click.click_id if click else None,
                created_at=now,
            )
        )
        session.flush()
        return None, refused.code
    return brief(commission), None


def _verified_click(token: str, now: datetime) -> Click:
    try:
        click = current_app.extensions["clicks"].tokens.verify(token)
    except InvalidClickToken:
        raise Refused("invalid_token") from None
    if click.issued_at > now + timedelta(seconds=CLOCK_SKEW_S):
        raise Refused("invalid_token", click)
    return click


def _program_for(session: Session, merchant: MerchantTerms, click: Click) -> Program:
    program = session.get(Program, click.program_id)
    if program is None or program.merchant_id != merchant.id:
        raise Refused("foreign_program", click)
    if not program.active:
        raise Refused("program_paused", click)
    return program


def _approved_affiliate(session: Session, click: Click) -> Affiliate:
    affiliate = session.get(Affiliate, click.affiliate_id)
    status = session.execute(
        select(Application.status).where(
            Application.program_id == click.program_id, Application.affiliate_id == click.affiliate_id
        )
    ).scalar_one_or_none()
    if affiliate is None or not affiliate.active or status != "approved":
        raise Refused("affiliate_not_approved", click)
    return affiliate


def _check_window(program: Program, click: Click, now: datetime) -> None:
    if now - click.issued_at > timedelta(days=program.attribution_window_days):
        raise Refused("expired", click)


def _check_self_referral(
    session: Session, merchant: MerchantTerms, affiliate: Affiliate, member_email: str | None
) -> None:
    """An affiliate buying through its own link, or a merchant's own site posing as an
    affiliate, earns nothing: same email as the buyer, or a website on the merchant's domains."""
    if member_email is not None and affiliate.email.strip().lower() == member_email:
        raise Refused("self_referral")
    host = website_host(affiliate.website)
    if host is None:
        return
    domains = session.execute(select(MerchantDomain.domain).where(MerchantDomain.merchant_id == merchant.id)).scalars()
    if any(host == domain or host.endswith("." + domain) for domain in domains):
        raise Refused("self_referral")


def sale_amount_cents(program: Program, net_cents: int) -> int:
    """The commission on a sale of ``net_cents``: floor of the percentage, or the fixed
    amount while something is left of the order; never above the cap."""
    if net_cents <= 0:
        return 0
    if program.commission_type == "percent":
        amount = net_cents * program.commission_bps // 10_000
    else:
        amount = program.commission_cents
    return amount if program.cap_cents is None else min(amount, program.cap_cents)


def fee_cents(program: Program, amount_cents: int) -> int:
    return amount_cents * program.network_fee_bps // 10_000


def _insert(session, merchant, program, click, kind, conversion_ref, sale_cents, now) -> Commission:
    if kind == "lead":
        if program.lead_amount_cents is None:
            raise Refused("no_lead_commission", click)
        amount = program.lead_amount_cents
    else:
        amount = sale_amount_cents(program, sale_cents)
    table = Commission.__table__
    row = {
        "merchant_id": merchant.id,
        "program_id": program.id,
        "affiliate_id": click.affiliate_id,
        "link_id": click.link_id,
        "kind": kind,
        "conversion_ref": conversion_ref,
        "click_id": click.click_id,
        "currency": merchant.currency,
        "base_amount_cents": sale_cents or 0,
        "amount_cents": amount,
        "fee_cents": fee_cents(program, amount),
        "status": "pending",
        "suspicious": (now - click.issued_at).total_seconds() < SUSPICIOUS_CLICK_TO_ORDER_S,
        "reason": None,
        "adjusts_commission_id": None,
        "entry_id": None,
        "clicked_at": click.issued_at,
        "created_at": now,
        "hold_until": now + timedelta(days=program.hold_days),
        "decided_at": None,
    }
    # The unique keys (click, merchant + order/lead) decide duplicates, also between concurrent requests.
    inserted = session.execute(
        dialect_insert(session)(table).on_conflict_do_nothing().returning(table.c.id), row
    ).scalar_one_or_none()
    if inserted is None:
        raise Refused("duplicate", click)
    return session.get(Commission, inserted)


# ----------------------------------------------------------------- leads


def record_lead(uow: UnitOfWork, merchant: MerchantTerms, data: dict) -> dict:
    """Attribute a lead (sign-up, quote request) to its click, and commit; returns the
    answer. ``lead_id`` is the idempotency key: a replay with the same body returns
    the first answer (``uow.replayed``), another body raises ``IdempotencyKeyReused``."""
    stored = uow.once(f"leads:{merchant.id}", data["lead_id"], data)
    if stored is not None:
        return stored
    commission, error = attribute(
        uow,
        merchant,
        token=data["click_token"],
        kind="lead",
        conversion_ref=f"lead:{data['lead_id']}",
        sale_cents=None,
        member_email=None,
    )
    return uow.commit({"lead_id": data["lead_id"], "commission": commission, "attribution_error": error})


def order_attribution(session: Session, merchant_id: int, order_id: str) -> dict:
    """The commission part of an order's answer, as it stands now."""
    ref = f"order:{order_id}"
    commission = session.execute(
        select(Commission).where(Commission.merchant_id == merchant_id, Commission.conversion_ref == ref)
    ).scalar_one_or_none()
    error = None
    if commission is None:
        error = session.execute(
            select(AttributionError.code)
            .where(AttributionError.merchant_id == merchant_id, AttributionError.conversion_ref == ref)
            .order_by(AttributionError.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    return {"commission": brief(commission), "attribution_error": error}
