"""Attribution of orders and leads to clicks, and the commission lifecycle:
pending -> approved (merchant, or the job once the hold ends) | rejected (merchant).
Approval posts the money to the ledger; a refund after approval posts a
negative adjustment."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.affiliates.models import Affiliate, Application, Program
from app.affiliates.urls import website_host
from app.clicks.tokens import Click, InvalidClickToken
from app.commissions.models import AttributionError, Commission
from app.constants import SUSPICIOUS_CLICK_TO_ORDER_S
from app.errors import Conflict, NotFound, Unprocessable
from app.merchants.models import MerchantDomain, MerchantTerms
from app.pagination import Page, paginate
from ledger import accounts, idempotency
from ledger.accounts import dialect_insert
from ledger.journal import Leg, post

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
    session: Session,
    merchant: MerchantTerms,
    *,
    token: str,
    kind: str,
    conversion_ref: str,
    sale_cents: int | None,
    member_email: str | None,
    now: datetime,
) -> tuple[dict | None, str | None]:
    """Create the commission a click token earns for this sale or lead, or store why not.

    Returns (commission brief, None) or (None, error code). Never raises for a
    bad token: the order or lead is recorded either way.
    """
    click = None
    try:
        click = _verified_click(token, now)
        program = _program_for(session, merchant, click)
        affiliate = _approved_affiliate(session, click)
        _check_window(program, click, now)
        _check_self_referral(session, merchant, affiliate, member_email)
        commission = _insert(session, merchant, program, click, kind, conversion_ref, sale_cents, now)
    except Refused as refused:
        click = refused.click or click
        session.add(AttributionError(
            merchant_id=merchant.id, code=refused.code, conversion_ref=conversion_ref,
            program_id=click.program_id if click else None, affiliate_id=click.affiliate_id if click else None,
            click_id=click.click_id if click else None, created_at=now,
        ))
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
    domains = session.execute(
        select(MerchantDomain.domain).where(MerchantDomain.merchant_id == merchant.id)
    ).scalars()
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
        "merchant_id": merchant.id, "program_id": program.id, "affiliate_id": click.affiliate_id,
        "link_id": click.link_id, "kind": kind, "conversion_ref": conversion_ref, "click_id": click.click_id,
        "currency": merchant.currency, "base_amount_cents": sale_cents or 0, "amount_cents": amount,
        "fee_cents": fee_cents(program, amount), "status": "pending",
        "suspicious": (now - click.issued_at).total_seconds() < SUSPICIOUS_CLICK_TO_ORDER_S,
        "reason": None, "adjusts_commission_id": None, "entry_id": None, "clicked_at": click.issued_at,
        "created_at": now, "hold_until": now + timedelta(days=program.hold_days), "decided_at": None,
    }
    # The unique keys (click, merchant + order/lead) decide duplicates, also between concurrent requests.
    inserted = session.execute(
        dialect_insert(session)(table).on_conflict_do_nothing().returning(table.c.id), row
    ).scalar_one_or_none()
    if inserted is None:
        raise Refused("duplicate", click)
    return session.get(Commission, inserted)


# ----------------------------------------------------------------- leads


def record_lead(session: Session, merchant: MerchantTerms, data: dict, *, now: datetime) -> tuple[dict, bool]:
    """Attribute a lead (sign-up, quote request) to its click; idempotent on ``lead_id``."""
    scope = f"leads:{merchant.id}"
    stored = idempotency.claim(session, scope, data["lead_id"], idempotency.fingerprint(data))
    if stored is not None:
        session.rollback()
        return stored, False
    commission, error = attribute(
        session, merchant, token=data["click_token"], kind="lead", conversion_ref=f"lead:{data['lead_id']}",
        sale_cents=None, member_email=None, now=now,
    )
    answer = {"lead_id": data["lead_id"], "commission": commission, "attribution_error": error}
    idempotency.complete(session, scope, data["lead_id"], answer)
    session.commit()
    return answer, True


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


# ----------------------------------------------------------------- lifecycle


def _post(session: Session, commission: Commission, *, key: str, now: datetime) -> None:
    """Merchant receivable -> affiliate payable (commission) and -> platform fees (fee)."""
    if commission.amount_cents == 0 and commission.fee_cents == 0:
        return
    currency = commission.currency
    receivable = accounts.account(session, accounts.receivable_account(str(commission.merchant_id)), currency)
    payable = accounts.account(session, accounts.affiliate_payable_account(str(commission.affiliate_id)), currency)
    fees = accounts.account(session, accounts.REVENUE_FEES, currency)
    posted = post(
        session,
        kind="commission",
        legs=[
            Leg(receivable, -(commission.amount_cents + commission.fee_cents)),
            Leg(payable, commission.amount_cents),
            Leg(fees, commission.fee_cents),
        ],
        ref=f"commission:{commission.id}",
        memo=f"Commission {commission.id} ({commission.kind}) to affiliate {commission.affiliate_id}",
        now=now,
        idempotency_key=key,
    )
    commission.entry_id = posted.id


def _locked(session: Session, merchant_id: int | None, commission_id: int) -> Commission:
    query = select(Commission).where(Commission.id == commission_id).with_for_update()
    if merchant_id is not None:
        query = query.where(Commission.merchant_id == merchant_id)
    commission = session.execute(query).scalar_one_or_none()
    if commission is None or commission.kind == "adjustment":
        raise NotFound(f"No commission {commission_id} of yours.")
    return commission


def _approve(session: Session, commission: Commission, now: datetime) -> None:
    if commission.status != "pending":
        raise Conflict(f"Commission {commission.id} is {commission.status}, not pending.")
    commission.status = "approved"
    commission.decided_at = now
    _post(session, commission, key=f"commission:{commission.id}:approve", now=now)


def _reject(commission: Commission, reason: str, now: datetime) -> None:
    if commission.status != "pending":
        raise Conflict(f"Commission {commission.id} is {commission.status}, not pending.")
    commission.status = "rejected"
    commission.reason = reason
    commission.decided_at = now


def approve(session: Session, merchant: MerchantTerms, commission_id: int, *, now: datetime) -> Commission:
    commission = _locked(session, merchant.id, commission_id)
    _approve(session, commission, now)
    session.commit()
    return commission


def reject(session: Session, merchant: MerchantTerms, commission_id: int, reason: str, *, now: datetime) -> Commission:
    commission = _locked(session, merchant.id, commission_id)
    _reject(commission, reason, now)
    session.commit()
    return commission


def bulk(session: Session, merchant: MerchantTerms, items: list[dict], *, now: datetime) -> list[Commission]:
    """Approve or reject many commissions: all of them or, on any refusal, none."""
    errors: dict[str, list[str]] = {}
    done = []
    seen: set[int] = set()
    for index, item in enumerate(items):
        try:
            if item["id"] in seen:
                raise Conflict(f"Commission {item['id']} appears twice.")
            seen.add(item["id"])
            commission = _locked(session, merchant.id, item["id"])
            if item["action"] == "approve":
                _approve(session, commission, now)
            else:
                _reject(commission, item["reason"], now)
            done.append(commission)
        except (Conflict, NotFound) as error:
            errors[str(index)] = [error.detail]
    if errors:
        session.rollback()
        raise Unprocessable("Nothing was changed: some lines are refused; see errors (by line, from 0).",
                            errors=errors)
    session.commit()
    return done


def approve_due(session: Session, *, now: datetime, limit: int) -> int:
    """Approve pending commissions whose hold has ended (the job); returns how many.
    Idempotent; on PostgreSQL several workers share the work (SKIP LOCKED)."""
    due = session.execute(
        select(Commission)
        .where(Commission.status == "pending", Commission.hold_until <= now)
        .order_by(Commission.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).scalars().all()
    for commission in due:
        _approve(session, commission, now)
    return len(due)


def on_refund(session: Session, merchant: MerchantTerms, order_id: str, net_cents: int, refund_id: str,
              *, now: datetime) -> None:
    """Follow a refund: a pending commission is recomputed on the net amount (rejected
    when nothing is left); an approved one gets a negative adjustment, posted at once."""
    commission = session.execute(
        select(Commission)
        .where(Commission.merchant_id == merchant.id, Commission.conversion_ref == f"order:{order_id}")
        .with_for_update()
    ).scalar_one_or_none()
    if commission is None or commission.status == "rejected":
        return
    program = session.get(Program, commission.program_id)
    target = sale_amount_cents(program, net_cents)
    if commission.status == "pending":
        commission.base_amount_cents = net_cents
        commission.amount_cents = target
        commission.fee_cents = fee_cents(program, target)
        if net_cents == 0:
            _reject(commission, "Order refunded in full.", now)
        return
    effective, effective_fee = session.execute(
        select(func.coalesce(func.sum(Commission.amount_cents), 0), func.coalesce(func.sum(Commission.fee_cents), 0))
        .where(Commission.adjusts_commission_id == commission.id)
    ).one()
    effective += commission.amount_cents
    effective_fee += commission.fee_cents
    delta = target - effective
    if delta >= 0:
        return
    adjustment = Commission(
        merchant_id=commission.merchant_id, program_id=commission.program_id, affiliate_id=commission.affiliate_id,
        link_id=commission.link_id, kind="adjustment", conversion_ref=None, click_id=None,
        currency=commission.currency, base_amount_cents=0, amount_cents=delta,
        fee_cents=fee_cents(program, target) - effective_fee, status="approved", suspicious=False,
        reason=f"Refund {refund_id} of order {order_id}.", adjusts_commission_id=commission.id,
        clicked_at=None, created_at=now, hold_until=now, decided_at=now,
    )
    session.add(adjustment)
    session.flush()
    _post(session, adjustment, key=f"commission:{commission.id}:refund:{refund_id}", now=now)


# ----------------------------------------------------------------- merchant reads


def list_commissions(session: Session, merchant: MerchantTerms, *, status: str | None = None,
                     program_id: int | None = None, suspicious: bool | None = None,
                     limit: int, cursor: str | None) -> Page:
    query = select(Commission).where(Commission.merchant_id == merchant.id)
    if status is not None:
        query = query.where(Commission.status == status)
    if program_id is not None:
        query = query.where(Commission.program_id == program_id)
    if suspicious is not None:
        query = query.where(Commission.suspicious.is_(suspicious))
    return paginate(session, query, Commission.id, limit=limit, cursor=cursor)


def get_commission(session: Session, merchant: MerchantTerms, commission_id: int) -> Commission:
    commission = session.get(Commission, commission_id)
    if commission is None or commission.merchant_id != merchant.id:
        raise NotFound(f"No commission {commission_id} of yours.")
    return commission


def list_errors(session: Session, merchant: MerchantTerms, *, code: str | None = None,
                limit: int, cursor: str | None) -> Page:
    query = select(AttributionError).where(AttributionError.merchant_id == merchant.id)
    if code is not None:
        query = query.where(AttributionError.code == code)
    return paginate(session, query, AttributionError.id, limit=limit, cursor=cursor)
