"""Merchant statements: what a merchant and the operator owe each other, read from the ledger.

Statements record amounts; they move no money themselves. A statement the
merchant owes opens a collection, which ``app.settlement.collections`` charges
through Stripe. Each statement names the signed tree head it was computed at and
the leaf indexes of its entries, so the merchant can prove every amount against
the log.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app.locks import serialize
from app.merchants.models import Merchant
from app.merchants.services import get_merchant
from app.pagination import Page, paginate
from app.settlement.errors import (
    PeriodAlreadyClosed,
    PeriodNotClosed,
    PeriodOutOfRange,
    StatementNotFound,
)
from app.settlement.log import with_log
from app.settlement.models import Collection, Statement, StatementLine
from app.settlement.schemas import StatementSchema
from app.transparency import services as transparency
from app.unit_of_work import UnitOfWork

_STATEMENT_SCHEMA = StatementSchema()

# ----------------------------------------------------------------- statements

_POINTS_KINDS = ("earn", "clawback")
_COMMISSION_KIND = "commission"
_REWARD_KIND = "redeem"
_COLLECTION_KIND = "collection"
_PAYOUT_KIND = "payout"


def issue_statement(uow: UnitOfWork, merchant_id: int, period_end: datetime, *, close_delay_s: int) -> Statement:
    """Close the merchant's next period at ``period_end`` in the unit's transaction;
    the caller commits (the view does, once per ``Idempotency-Key``).

    The period starts where the last statement ended (or at the merchant's
    creation), so periods never overlap nor leave gaps. ``period_end`` must be
    ``close_delay_s`` in the past, so that no transaction still open can add an
    entry dated inside the closed period. Emits ``statement.issued``."""
    session, now = uow.session, uow.now
    merchant = get_merchant(session, merchant_id)
    try:
        period_end = period_end.astimezone(UTC)
    except OverflowError:
        raise PeriodOutOfRange() from None
    if period_end > now - timedelta(seconds=close_delay_s):
        raise PeriodNotClosed(close_delay_s)
    serialize(session, f"statements:m{merchant.id}")
    last = session.execute(
        select(Statement).where(Statement.merchant_id == merchant.id).order_by(Statement.period_end.desc()).limit(1)
    ).scalar_one_or_none()
    period_start = merchant.created_at if last is None else last.period_end
    if period_end <= period_start:
        raise PeriodAlreadyClosed(period_start)
    statement = Statement(merchant_id=merchant.id, period_start=period_start, period_end=period_end, created_at=now)
    statement.lines = [StatementLine(**line) for line in statement_lines(session, merchant, period_start, period_end)]
    statement.tree_head_id = transparency.head_now(uow).id
    session.add(statement)
    session.flush()
    _open_collection(uow, statement, merchant.currency)
    with_log(session, [statement])
    uow.emit("merchant", merchant.id, "statement.issued", _STATEMENT_SCHEMA.dump(statement))
    return statement


def issue_monthly_statements(uow: UnitOfWork, *, close_delay_s: int, limit: int) -> int:
    """One batch of the ``statements`` job: close the previous calendar month (UTC) for
    up to ``limit`` merchants that have no statement up to its end yet; returns how many
    were issued (0: none left, or the month ended less than ``close_delay_s`` ago).

    Each statement starts where the merchant's last one ended, so a merchant whose
    manual statements reached into the month gets the rest of it."""
    month_start = uow.now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if month_start > uow.now - timedelta(seconds=close_delay_s):
        return 0
    closed = select(Statement.id).where(Statement.merchant_id == Merchant.id, Statement.period_end >= month_start)
    due = uow.session.execute(
        select(Merchant.id)
        .where(Merchant.created_at < month_start, ~closed.exists())
        .order_by(Merchant.id)
        .limit(limit)
    ).scalars()
    issued = 0
    for merchant_id in list(due):
        issue_statement(uow, merchant_id, month_start, close_delay_s=close_delay_s)
        issued += 1
    return issued


def _open_collection(uow: UnitOfWork, statement: Statement, currency: str) -> None:
    """The statement's collection in the merchant's own currency: ``pending`` when the
    merchant owes (the job charges it once billing has a payment method), ``not_needed``
    when the operator owes it; none when the net is zero."""
    net_cents = next(line.net_cents for line in statement.lines if line.currency == currency)
    if net_cents == 0:
        return
    status = "pending" if net_cents > 0 else "not_needed"
    statement.collection = Collection(
        statement_id=statement.id,
        status=status,
        amount_cents=net_cents,
        currency=currency,
        attempts=0,
        next_attempt_at=uow.now if status == "pending" else None,
        created_at=uow.now,
        updated_at=uow.now,
    )
    uow.session.flush()


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
        if kind == _COLLECTION_KIND:
            continue  # money collected settles an earlier statement; it is not new business
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
        if kind == _PAYOUT_KIND:
            continue  # money paid out settles an earlier statement; it is not new business
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
    page = paginate(session, query, Statement.id, limit=limit, cursor=cursor)
    with_log(session, page.data)
    return page


def list_statements_of(session: Session, merchant_id: int, *, limit: int, cursor: str | None) -> Page:
    """The operator's view: 404 for an unknown merchant."""
    get_merchant(session, merchant_id)
    return list_statements(session, merchant_id, limit=limit, cursor=cursor)


def get_statement(session: Session, merchant_id: int, statement_id: int) -> Statement:
    statement = session.get(Statement, statement_id)
    if statement is None or statement.merchant_id != merchant_id:
        raise StatementNotFound(statement_id)
    with_log(session, [statement])
    return statement
