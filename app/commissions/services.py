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
from app.commissions.errors import BulkRefused, CommissionNotFound, CommissionNotPending, DuplicateLine
from app.commissions.models import AttributionError, Commission
from app.commissions.schemas import CommissionSchema
from app.merchants.models import MerchantTerms
from app.pagination import Page, paginate
from app.unit_of_work import UnitOfWork

_SCHEMA = CommissionSchema()

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
        raise CommissionNotFound(commission_id)
    return commission


def _approve(uow: UnitOfWork, commission: Commission) -> None:
    if commission.status != "pending":
        raise CommissionNotPending(commission.id, commission.status)
    commission.status = "approved"
    commission.decided_at = uow.now
    _post(uow.session, commission, key=f"commission:{commission.id}:approve", now=uow.now)
    events.announce(uow, commission, "commission.approved")


def _reject(uow: UnitOfWork, commission: Commission, reason: str) -> None:
    if commission.status != "pending":
        raise CommissionNotPending(commission.id, commission.status)
    commission.status = "rejected"
    commission.reason = reason
    commission.decided_at = uow.now
    events.announce(uow, commission, "commission.rejected")


def _decisions_scope(merchant: MerchantTerms) -> str:
    # One scope for approve, reject and bulk: a key used for one decision is refused for another.
    return f"commission-decisions:{merchant.id}"


def approve(uow: UnitOfWork, merchant: MerchantTerms, commission_id: int, *, key: str | None = None) -> dict:
    """Approve a pending commission, and commit; returns the answer. Approving it
    again (a retry) answers the same, with or without ``key`` (an Idempotency-Key)."""
    stored = uow.once(_decisions_scope(merchant), key, {"approve": commission_id})
    if stored is not None:
        return stored
    commission = _locked(uow.session, merchant.id, commission_id)
    if commission.status != "approved":
        _approve(uow, commission)
    return uow.commit(_SCHEMA.dump(commission))


def reject(
    uow: UnitOfWork, merchant: MerchantTerms, commission_id: int, reason: str, *, key: str | None = None
) -> dict:
    """Reject a pending commission, and commit; rejecting it again with the same
    reason (a retry) answers the same."""
    stored = uow.once(_decisions_scope(merchant), key, {"reject": commission_id, "reason": reason})
    if stored is not None:
        return stored
    commission = _locked(uow.session, merchant.id, commission_id)
    if not (commission.status == "rejected" and commission.reason == reason):
        _reject(uow, commission, reason)
    return uow.commit(_SCHEMA.dump(commission))


def bulk(uow: UnitOfWork, merchant: MerchantTerms, items: list[dict], *, key: str | None = None) -> dict:
    """Approve or reject many commissions, and commit: all of them or, on any refusal, none."""
    stored = uow.once(_decisions_scope(merchant), key, {"bulk": items})
    if stored is not None:
        return stored
    errors: dict[str, list[str]] = {}
    done = []
    seen: set[int] = set()
    for index, item in enumerate(items):
        try:
            if item["id"] in seen:
                raise DuplicateLine(item["id"])
            seen.add(item["id"])
            commission = _locked(uow.session, merchant.id, item["id"])
            if item["action"] == "approve":
                _approve(uow, commission)
            else:
                _reject(uow, commission, item["reason"])
            done.append(commission)
        except (CommissionNotFound, CommissionNotPending, DuplicateLine) as error:
            errors[str(index)] = [error.detail]
    if errors:
        raise BulkRefused(errors)  # the unit rolls back the lines already done
    return uow.commit({"data": _SCHEMA.dump(done, many=True)})


def approve_due(uow: UnitOfWork, *, limit: int) -> int:
    """Approve pending commissions whose hold has ended (the job), one batch of at
    most ``limit``, and commit; returns how many. Idempotent; on PostgreSQL several
    workers share the work (SKIP LOCKED)."""
    due = (
        uow.session.execute(
            select(Commission)
            .where(Commission.status == "pending", Commission.hold_until <= uow.now)
            .order_by(Commission.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    for commission in due:
        _approve(uow, commission)
    return uow.commit(len(due))


def on_refund(uow: UnitOfWork, merchant: MerchantTerms, order_id: str, net_cents: int, refund_id: str) -> None:
    """Follow a refund, in the refund's unit (it commits): a pending commission is
    recomputed on the net amount (rejected when nothing is left); an approved one
    gets a negative adjustment, posted at once."""
    session = uow.session
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
            _reject(uow, commission, "Order refunded in full.")
        return
    effective, effective_fee = session.execute(
        select(
            func.coalesce(func.sum(Commission.amount_cents), 0), func.coalesce(func.sum(Commission.fee_cents), 0)
        ).where(Commission.adjusts_commission_id == commission.id)
    ).one()
    delta = target - (effective + commission.amount_cents)
    if delta >= 0:
        return
    fee_delta = fee_cents(program, target) - (effective_fee + commission.fee_cents)
    _adjust(uow, commission, delta, fee_delta, reason=f"Refund {refund_id} of order {order_id}.", refund_id=refund_id)


def _adjust(uow: UnitOfWork, commission: Commission, delta: int, fee_delta: int, *, reason: str, refund_id: str):
    """A negative adjustment of an approved commission, approved and posted at once."""
    now = uow.now
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
        fee_cents=fee_delta,
        status="approved",
        suspicious=False,
        reason=reason,
        adjusts_commission_id=commission.id,
        clicked_at=None,
        created_at=now,
        hold_until=now,
        decided_at=now,
    )
    uow.session.add(adjustment)
    uow.session.flush()
    _post(uow.session, adjustment, key=f"commission:{commission.id}:refund:{refund_id}", now=now)
    events.announce(uow, adjustment, "commission.approved")


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
        raise CommissionNotFound(commission_id)
    return commission


def list_errors(
    session: Session, merchant: MerchantTerms, *, code: str | None = None, limit: int, cursor: str | None
) -> Page:
    query = select(AttributionError).where(AttributionError.merchant_id == merchant.id)
    if code is not None:
        query = query.where(AttributionError.code == code)
    return paginate(session, query, AttributionError.id, limit=limit, cursor=cursor)
