"""Settlement: affiliate payouts (approved commissions -> cash) and merchant
statements (what a merchant and the operator owe each other, from the ledger).

Statements record amounts; they move no money. Collecting from or paying a
merchant through Stripe is a later feature.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app.affiliates.models import Affiliate
from app.commissions import events
from app.commissions.models import Commission
from app.errors import Conflict, Invalid, NotFound
from app.locks import serialize
from app.merchants.models import Merchant
from app.pagination import Page, paginate
from app.settlement.models import Payout, Statement, StatementLine
from app.settlement.schemas import StatementSchema
from app.webhooks.services import emit

# ----------------------------------------------------------------- payouts


def _affiliate(session: Session, affiliate_id: int) -> Affiliate:
    affiliate = session.get(Affiliate, affiliate_id)
    if affiliate is None:
        raise NotFound(f"No affiliate {affiliate_id}.")
    return affiliate


def create_payout(session: Session, affiliate_id: int, data: dict, *, now: datetime) -> tuple[Payout, bool]:
    """Pay an affiliate every approved, unpaid commission in one currency (negative
    adjustments included); returns the payout and whether it is new. The same
    ``payout_id`` with the same body answers the first payout; with another, 409."""
    affiliate = _affiliate(session, affiliate_id)
    # One payout at a time per affiliate: commissions are read, then marked paid.
    serialize(session, f"payouts:a{affiliate.id}")
    request_hash = ledger.request_fingerprint({"currency": data["currency"], "reference": data["reference"]})
    existing = session.execute(
        select(Payout).where(Payout.affiliate_id == affiliate.id, Payout.payout_key == data["payout_id"])
    ).scalar_one_or_none()
    if existing is not None:
        if existing.request_hash != request_hash:
            raise Conflict(f"payout_id {data['payout_id']} was used for a different payout.")
        session.rollback()
        return existing, False
    due = (
        session.execute(
            select(Commission)
            .where(
                Commission.affiliate_id == affiliate.id,
                Commission.currency == data["currency"],
                Commission.status == "approved",
            )
            .order_by(Commission.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    total_cents = sum(c.amount_cents for c in due)
    if total_cents <= 0:
        session.rollback()
        raise Invalid(
            f"Nothing to pay: the approved, unpaid commissions in {data['currency']} sum to {total_cents} cents.",
            errors={"currency": ["Nothing to pay in this currency."]},
        )
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
        request_hash=request_hash,
        currency=data["currency"],
        amount_cents=total_cents,
        commission_count=len(due),
        reference=data["reference"],
        entry_id=entry.id,
        created_at=now,
    )
    session.add(payout)
    session.flush()
    for commission in due:
        commission.status = "paid"
        commission.payout_id = payout.id
        events.announce(session, commission, "commission.paid", now=now)
    session.commit()
    return payout, True


def list_payouts(session: Session, affiliate_id: int, *, limit: int, cursor: str | None) -> Page:
    query = select(Payout).where(Payout.affiliate_id == affiliate_id)
    return paginate(session, query, Payout.id, limit=limit, cursor=cursor)


def list_payouts_of(session: Session, affiliate_id: int, *, limit: int, cursor: str | None) -> Page:
    """The operator's view: 404 for an unknown affiliate."""
    _affiliate(session, affiliate_id)
    return list_payouts(session, affiliate_id, limit=limit, cursor=cursor)


# ----------------------------------------------------------------- statements

_POINTS_KINDS = ("earn", "clawback")
_COMMISSION_KIND = "commission"
_REWARD_KIND = "redeem"


def _merchant(session: Session, merchant_id: int) -> Merchant:
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"No merchant {merchant_id}.")
    return merchant


def issue_statement(
    session: Session, merchant_id: int, period_end: datetime, *, now: datetime, close_delay_s: int
) -> Statement:
    """Close the merchant's next period at ``period_end``: it starts where the last
    statement ended (or at the merchant's creation), so periods never overlap nor
    leave gaps. ``period_end`` must be ``close_delay_s`` in the past, so that no
    transaction still open can add an entry dated inside the closed period.
    Emits ``statement.issued``."""
    merchant = _merchant(session, merchant_id)
    try:
        period_end = period_end.astimezone(UTC)
    except OverflowError:
        raise Invalid("period_end is out of range.", errors={"period_end": ["Out of range."]}) from None
    if period_end > now - timedelta(seconds=close_delay_s):
        raise Invalid(
            f"period_end must be at least {close_delay_s} seconds in the past.",
            errors={"period_end": [f"Must be at least {close_delay_s} seconds in the past."]},
        )
    serialize(session, f"statements:m{merchant.id}")
    last = session.execute(
        select(Statement).where(Statement.merchant_id == merchant.id).order_by(Statement.period_end.desc()).limit(1)
    ).scalar_one_or_none()
    period_start = merchant.created_at if last is None else last.period_end
    if period_end <= period_start:
        session.rollback()
        raise Invalid(
            f"period_end must be after {period_start.isoformat()}, where this merchant's open period starts.",
            errors={"period_end": ["Must be after the end of the previous statement."]},
        )
    statement = Statement(merchant_id=merchant.id, period_start=period_start, period_end=period_end, created_at=now)
    statement.lines = [StatementLine(**line) for line in statement_lines(session, merchant, period_start, period_end)]
    session.add(statement)
    session.flush()
    emit(session, "merchant", merchant.id, "statement.issued", StatementSchema().dump(statement), now=now)
    session.commit()
    return statement


def statement_lines(session: Session, merchant: Merchant, start: datetime, end: datetime) -> list[dict]:
    """Per currency, the period's amounts read from the merchant's receivable and
    payable postings; signs are turned so that positive means the merchant owes."""
    receivable = ledger.receivable_account(str(merchant.id))
    payable = ledger.payable_account(str(merchant.id))
    lines: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(
            ("points_bought_cents", "commissions_cents", "network_fees_cents", "rewards_supplied_cents", "other_cents"),
            0,
        )
    )
    _ = lines[merchant.currency]  # the merchant's own currency always has a line, zero or not
    for move in ledger.account_movements(session, receivable, start, end):
        currency, kind, amount = move.asset, move.kind, move.amount
        # A receivable debit (negative) is what the merchant owes.
        if kind in _POINTS_KINDS:
            lines[currency]["points_bought_cents"] -= amount
        elif kind == _COMMISSION_KIND:
            lines[currency]["commissions_cents"] -= amount
        else:
            lines[currency]["other_cents"] -= amount
    for currency, fees in ledger.fees_beside(session, receivable, _COMMISSION_KIND, start, end).items():
        lines[currency]["commissions_cents"] -= fees
        lines[currency]["network_fees_cents"] += fees
    for move in ledger.account_movements(session, payable, start, end):
        currency, kind, amount = move.asset, move.kind, move.amount
        # A payable credit (positive) is what the operator owes the merchant.
        if kind == _REWARD_KIND:
            lines[currency]["rewards_supplied_cents"] += amount
        else:
            lines[currency]["other_cents"] -= amount
    return [
        {
            "currency": currency,
            **amounts,
            "net_cents": amounts["points_bought_cents"]
            + amounts["commissions_cents"]
            + amounts["network_fees_cents"]
            - amounts["rewards_supplied_cents"]
            + amounts["other_cents"],
        }
        for currency, amounts in sorted(lines.items())
    ]


def list_statements(session: Session, merchant_id: int, *, limit: int, cursor: str | None) -> Page:
    query = select(Statement).where(Statement.merchant_id == merchant_id)
    return paginate(session, query, Statement.id, limit=limit, cursor=cursor)


def list_statements_of(session: Session, merchant_id: int, *, limit: int, cursor: str | None) -> Page:
    """The operator's view: 404 for an unknown merchant."""
    _merchant(session, merchant_id)
    return list_statements(session, merchant_id, limit=limit, cursor=cursor)


def get_statement(session: Session, merchant_id: int, statement_id: int) -> Statement:
    statement = session.get(Statement, statement_id)
    if statement is None or statement.merchant_id != merchant_id:
        raise NotFound(f"No statement {statement_id} of yours.")
    return statement
