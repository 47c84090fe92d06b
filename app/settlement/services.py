"""Merchant statements: what a merchant and the operator owe each other, read from the ledger.

Statements record amounts; they move no money themselves. A statement the
merchant owes opens a collection, which ``app.settlement.collections`` charges
through Stripe. Each statement names the signed tree head it was computed at and
the leaf indexes of its entries, so the merchant can prove every amount against
the log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.locks import serialize
from app.merchants.models import Merchant
from app.merchants.services import get_merchant
from app.pagination import Page, paginate
from app.settlement import liability, lines
from app.settlement.errors import (
    PeriodAlreadyClosed,
    PeriodNotClosed,
    PeriodOutOfRange,
    StatementDrifted,
    StatementNotFound,
)
from app.settlement.log import with_log
from app.settlement.models import Collection, Statement, StatementLine
from app.settlement.schemas import StatementSchema
from app.transparency import services as transparency
from app.unit_of_work import UnitOfWork

_STATEMENT_SCHEMA = StatementSchema()
_LINE_FIELDS = (*lines.AMOUNT_FIELDS, "net_cents")

# ----------------------------------------------------------------- statements


def issue_statement(
    uow: UnitOfWork, merchant_id: int, period_end: datetime, *, close_delay_s: int, final: bool = False
) -> Statement:
    """Close the merchant's next period at ``period_end`` in the unit's transaction;
    the caller commits (the view does, once per ``Idempotency-Key``).

    The period starts where the last statement ended (or at the merchant's
    creation), so periods never overlap nor leave gaps. ``period_end`` must be
    ``close_delay_s`` in the past, so that no transaction still open can add an
    entry dated inside the closed period. A ``final`` statement (the merchant left
    the coalition) also states the merchant's points still outstanding once it is
    issued. Emits ``statement.issued``."""
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
    statement = Statement(
        merchant_id=merchant.id, period_start=period_start, period_end=period_end, created_at=now, final=final
    )
    rows = lines.statement_rows(session, merchant.id, period_start, period_end)
    statement.lines = [StatementLine(**line) for line in lines.lines_of(rows, [merchant.currency])]
    statement.tree_head_id = transparency.head_now(uow).id
    session.add(statement)
    session.flush()
    _open_collection(uow, statement, merchant.currency)
    if final:
        _state_liability(session, statement, merchant.currency)
    _attach_entries(statement, rows)
    with_log(session, [statement])
    uow.emit("merchant", merchant.id, "statement.issued", _STATEMENT_SCHEMA.dump(statement))
    return statement


def issue_monthly_statements(uow: UnitOfWork, *, close_delay_s: int, limit: int) -> int:
    """One batch of the ``statements`` job: first the final statements of merchants that
    left the coalition, then the previous calendar month (UTC) for up to ``limit``
    merchants that have no statement up to its end yet; returns how many were issued
    (0: none left, or the month ended less than ``close_delay_s`` ago).

    Each statement starts where the merchant's last one ended, so a merchant whose
    manual statements reached into the month gets the rest of it."""
    issued = issue_final_statements(uow, close_delay_s=close_delay_s, limit=limit)
    if issued:
        return issued
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


def issue_final_statements(uow: UnitOfWork, *, close_delay_s: int, limit: int) -> int:
    """Close, at its ``deactivated_at``, the period of up to ``limit`` merchants that left
    the coalition at least ``close_delay_s`` ago and have no statement reaching that
    instant yet; returns how many were issued."""
    closed = select(Statement.id).where(
        Statement.merchant_id == Merchant.id, Statement.period_end >= Merchant.deactivated_at
    )
    due = uow.session.execute(
        select(Merchant.id, Merchant.deactivated_at)
        .where(
            Merchant.active.is_(False),
            Merchant.deactivated_at.is_not(None),
            Merchant.deactivated_at <= uow.now - timedelta(seconds=close_delay_s),
            ~closed.exists(),
        )
        .order_by(Merchant.id)
        .limit(limit)
    ).all()
    for merchant_id, deactivated_at in due:
        issue_statement(uow, merchant_id, deactivated_at, close_delay_s=close_delay_s, final=True)
    return len(due)


def _state_liability(session: Session, statement: Statement, currency: str) -> None:
    """The liability report's figures for the merchant in its currency, this statement's collection included."""
    found = [
        row for row in liability.liabilities(session, merchant_id=statement.merchant_id) if row.currency == currency
    ]
    statement.liability_points_outstanding = sum(row.points_outstanding for row in found)
    statement.liability_value_cents = sum(row.value_cents for row in found)
    statement.liability_collected_cents = sum(row.collected_cents for row in found)
    session.flush()


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


def _attach_entries(statement: Statement, rows: list[lines.Row]) -> None:
    """Give each line the ids of the entries it sums, and the statement its rows (for the CSV)."""
    ids = lines.entry_ids_of(rows)
    for line in statement.lines:
        line.entry_ids = ids.get(line.currency, [])
    statement.rows = rows


def _detailed(session: Session, statements: list[Statement]) -> None:
    """Read each statement's rows again; they must still sum to its stored lines (a
    closed period gains no entry), else the ledger or this code changed under it."""
    for statement in statements:
        rows = lines.statement_rows(session, statement.merchant_id, statement.period_start, statement.period_end)
        stored = [
            {"currency": line.currency, **{f: getattr(line, f) for f in _LINE_FIELDS}} for line in statement.lines
        ]
        again = lines.lines_of(rows, [line.currency for line in statement.lines])
        if again != stored:
            raise StatementDrifted(statement.id)
        _attach_entries(statement, rows)
    with_log(session, statements)


def list_statements(session: Session, merchant_id: int, *, limit: int, cursor: str | None) -> Page:
    query = select(Statement).where(Statement.merchant_id == merchant_id)
    page = paginate(session, query, Statement.id, limit=limit, cursor=cursor)
    _detailed(session, page.data)
    return page


def list_statements_of(session: Session, merchant_id: int, *, limit: int, cursor: str | None) -> Page:
    """The operator's view: 404 for an unknown merchant."""
    get_merchant(session, merchant_id)
    return list_statements(session, merchant_id, limit=limit, cursor=cursor)


def get_statement(session: Session, merchant_id: int, statement_id: int) -> Statement:
    statement = session.get(Statement, statement_id)
    if statement is None or statement.merchant_id != merchant_id:
        raise StatementNotFound(statement_id)
    _detailed(session, [statement])
    return statement


def get_statement_of(session: Session, merchant_id: int, statement_id: int) -> Statement:
    """The operator's view: 404 for an unknown merchant, or a statement of another merchant."""
    get_merchant(session, merchant_id)
    return get_statement(session, merchant_id, statement_id)


def statement_csv(statement: Statement) -> str:
    """A statement read by ``get_statement``, one row per entry and category."""
    return lines.as_csv(statement.id, statement.rows)
