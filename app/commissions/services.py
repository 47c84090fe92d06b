"""The commission lifecycle: pending -> approved (merchant, or the job once the
hold ends) | rejected (merchant). Approval posts the money to the ledger; a
refund after approval posts a negative adjustment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from app.affiliates.models import Program
from app.commissions import events
from app.commissions.attribution import fee_cents, sale_amount_cents
from app.commissions.models import AttributionError, Commission
from app.errors import Conflict, Invalid, NotFound
from app.merchants.models import MerchantTerms
from app.pagination import Page, paginate

# ----------------------------------------------------------------- lifecycle


def _post(session: Session, commission: Commission, *, key: str, now: datetime) -> None:
    """Merchant receivable -> affiliate payable (commission) and -> platform fees (fee)."""
    posted = ledger.post_commission(
        session,
        commission_id=commission.id,
        merchant_key=str(commission.merchant_id),
        affiliate_key=str(commission.affiliate_id),
        currency=commission.currency,
        amount_cents=commission.amount_cents,
        fee_cents=commission.fee_cents,
        idempotency_key=key,
        memo=f"Commission {commission.id} ({commission.kind}) to affiliate {commission.affiliate_id}",
        now=now,
    )
    if posted is not None:
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
    events.announce(session, commission, "commission.approved", now=now)


def _reject(session: Session, commission: Commission, reason: str, now: datetime) -> None:
    if commission.status != "pending":
        raise Conflict(f"Commission {commission.id} is {commission.status}, not pending.")
    commission.status = "rejected"
    commission.reason = reason
    commission.decided_at = now
    events.announce(session, commission, "commission.rejected", now=now)


def approve(session: Session, merchant: MerchantTerms, commission_id: int, *, now: datetime) -> Commission:
    """Approve a pending commission; approving it again (a retry) answers the same."""
    commission = _locked(session, merchant.id, commission_id)
    if commission.status == "approved":
        session.rollback()
        return commission
    _approve(session, commission, now)
    session.commit()
    return commission


def reject(session: Session, merchant: MerchantTerms, commission_id: int, reason: str, *, now: datetime) -> Commission:
    """Reject a pending commission; rejecting it again with the same reason (a retry) answers the same."""
    commission = _locked(session, merchant.id, commission_id)
    if commission.status == "rejected" and commission.reason == reason:
        session.rollback()
        return commission
    _reject(session, commission, reason, now)
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
                _reject(session, commission, item["reason"], now)
            done.append(commission)
        except (Conflict, NotFound) as error:
            errors[str(index)] = [error.detail]
    if errors:
        session.rollback()
        raise Invalid("Nothing was changed: some lines are refused; see errors (by line, from 0).", errors=errors)
    session.commit()
    return done


def approve_due(session: Session, *, now: datetime, limit: int) -> int:
    """Approve pending commissions whose hold has ended (the job); returns how many.
    Idempotent; on PostgreSQL several workers share the work (SKIP LOCKED)."""
    due = (
        session.execute(
            select(Commission)
            .where(Commission.status == "pending", Commission.hold_until <= now)
            .order_by(Commission.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    for commission in due:
        _approve(session, commission, now)
    return len(due)


def on_refund(
    session: Session, merchant: MerchantTerms, order_id: str, net_cents: int, refund_id: str, *, now: datetime
) -> None:
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
            _reject(session, commission, "Order refunded in full.", now)
        return
    effective, effective_fee = session.execute(
        select(
            func.coalesce(func.sum(Commission.amount_cents), 0), func.coalesce(func.sum(Commission.fee_cents), 0)
        ).where(Commission.adjusts_commission_id == commission.id)
    ).one()
    effective += commission.amount_cents
    effective_fee += commission.fee_cents
    delta = target - effective
    if delta >= 0:
        return
    adjustment = Commission(
        merchant_id=commission.merchant_id,
        program_id=commission.program_id,
        affiliate_id=commission.affiliate_id,
        link_id=commission.link_id,
        kind="adjustment",
        conversion_ref=None,
        click_id=None,
        currency=commission.currency,
        base_amount_cents=0,
        amount_cents=delta,
        fee_cents=fee_cents(program, target) - effective_fee,
        status="approved",
        suspicious=False,
        reason=f"Refund {refund_id} of order {order_id}.",
        adjusts_commission_id=commission.id,
        clicked_at=None,
        created_at=now,
        hold_until=now,
        decided_at=now,
    )
    session.add(adjustment)
    session.flush()
    _post(session, adjustment, key=f"commission:{commission.id}:refund:{refund_id}", now=now)
    events.announce(session, adjustment, "commission.approved", now=now)


# ----------------------------------------------------------------- merchant reads


def list_commissions(
    session: Session,
    merchant: MerchantTerms,
    *,
    status: str | None = None,
    program_id: int | None = None,
    suspicious: bool | None = None,
    limit: int,
    cursor: str | None,
) -> Page:
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


def list_errors(
    session: Session, merchant: MerchantTerms, *, code: str | None = None, limit: int, cursor: str | None
) -> Page:
    query = select(AttributionError).where(AttributionError.merchant_id == merchant.id)
    if code is not None:
        query = query.where(AttributionError.code == code)
    return paginate(session, query, AttributionError.id, limit=limit, cursor=cursor)
