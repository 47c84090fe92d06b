"""Affiliate payouts: approved commissions (negative adjustments included) paid from ``platform:cash``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app.affiliates.services import get_affiliate
from app.commissions import events
from app.commissions.models import Commission
from app.locks import serialize
from app.pagination import Page, paginate
from app.settlement.errors import NothingToPay
from app.settlement.log import with_log
from app.settlement.models import Payout
from app.settlement.schemas import PayoutSchema
from app.transparency import services as transparency
from app.unit_of_work import UnitOfWork

_PAYOUT_SCHEMA = PayoutSchema()


def create_payout(uow: UnitOfWork, affiliate_id: int, data: dict) -> dict:
    """Pay an affiliate every approved, unpaid commission in one currency (negative
    adjustments included), and commit; returns the answer.

    ``payout_id`` is the idempotency key, per affiliate: replaying it with the same
    (loaded) body returns the first answer (``uow.replayed``); with another body it
    raises ``IdempotencyKeyReused``.
    """
    stored = uow.once(f"payouts:a{affiliate_id}", data["payout_id"], data)
    if stored is not None:
        return stored
    session, now = uow.session, uow.now
    affiliate = get_affiliate(session, affiliate_id)
    # One payout at a time per affiliate: commissions are read, then marked paid.
    serialize(session, f"payouts:a{affiliate.id}")
    due = _due_commissions(session, affiliate.id, data["currency"])
    total_cents = sum(c.amount_cents for c in due)
    if total_cents <= 0:
        raise NothingToPay(data["currency"], total_cents)
    entry = ledger.post_payout(
        session,
        affiliate_key=str(affiliate.id),
        payout_key=data["payout_id"],
        currency=data["currency"],
        amount_cents=total_cents,
        now=now,
    )
    payout = Payout(
        affiliate_id=affiliate.id,
        payout_key=data["payout_id"],
        # The fingerprint ``once`` keyed the answer with, kept on the row: it says
        # which request made this payout without a join to the idempotency records.
        request_hash=ledger.request_fingerprint(data),
        currency=data["currency"],
        amount_cents=total_cents,
        commission_count=len(due),
        reference=data["reference"],
        entry_id=entry.id,
        created_at=now,
    )
    payout.tree_head_id = transparency.head_now(uow).id
    session.add(payout)
    session.flush()
    with_log(session, [payout])
    for commission in due:
        commission.status = "paid"
        commission.payout_id = payout.id
        events.announce(uow, commission, "commission.paid")
    return uow.commit(_PAYOUT_SCHEMA.dump(payout))


def _due_commissions(session: Session, affiliate_id: int, currency: str) -> list[Commission]:
    """The approved, unpaid commissions (adjustments included), locked until the transaction ends."""
    return list(
        session.execute(
            select(Commission)
            .where(
                Commission.affiliate_id == affiliate_id,
                Commission.currency == currency,
                Commission.status == "approved",
            )
            .order_by(Commission.id)
            .with_for_update()
        ).scalars()
    )


def list_payouts(session: Session, affiliate_id: int, *, limit: int, cursor: str | None) -> Page:
    query = select(Payout).where(Payout.affiliate_id == affiliate_id)
    page = paginate(session, query, Payout.id, limit=limit, cursor=cursor)
    with_log(session, page.data)
    return page


def list_payouts_of(session: Session, affiliate_id: int, *, limit: int, cursor: str | None) -> Page:
    """The operator's view: 404 for an unknown affiliate."""
    get_affiliate(session, affiliate_id)
    return list_payouts(session, affiliate_id, limit=limit, cursor=cursor)
