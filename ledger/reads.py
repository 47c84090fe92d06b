"""Reads of the journal for statements and reports: per-entry movements of
accounts, the entries of a period, and the points still outstanding per issuer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import FromClause, and_, case, func, select
from sqlalchemy.orm import Session

from ledger.accounts import REVENUE_FEES
from ledger.models import Account, Entry, Lot, Posting, table

_ACCOUNTS = table(Account)
_POSTINGS = table(Posting)
_ENTRIES = table(Entry)
_LOTS = table(Lot)
# Accounts of one statement: a merchant's receivable and payable.
ACCOUNTS_PER_READ_MAX = 16


@dataclass(frozen=True)
class EntryMovement:
    """What one entry posted to one account in one asset, with what the same entry
    posted to the network fee revenue (``platform:revenue:fees``) in that asset."""

    entry_id: int
    kind: str
    created_at: datetime
    account: str
    asset: str
    amount: int
    fee: int


def entry_movements(session: Session, account_names: list[str], start: datetime, end: datetime) -> list[EntryMovement]:
    """Per entry made in [start, end), account of ``account_names`` and asset, the
    sum of the entry's postings there and its fee beside them; by entry id, then
    account and asset.

    Statements sum these rows and show them one by one, so their totals and their
    detail are one read and cannot disagree.

    The period's entries are first bounded by id (the lowest and highest id made in
    it, by the index on ``created_at``), so the accounts' postings are read by their
    (account, entry) index within that range: the read grows with the period's
    entries, not with the accounts' whole history."""
    if not 0 < len(account_names) <= ACCOUNTS_PER_READ_MAX:
        raise ValueError(f"between 1 and {ACCOUNTS_PER_READ_MAX} accounts, not {len(account_names)}")
    in_period = (_ENTRIES.c.created_at >= start, _ENTRIES.c.created_at < end)
    lowest, highest = session.execute(select(func.min(_ENTRIES.c.id), func.max(_ENTRIES.c.id)).where(*in_period)).one()
    if lowest is None:
        return []
    fee_postings = _POSTINGS.alias("fee_postings")
    fee_accounts = _ACCOUNTS.alias("fee_accounts")
    fee = (
        select(func.coalesce(func.sum(fee_postings.c.amount), 0))
        .select_from(fee_postings.join(fee_accounts, fee_accounts.c.id == fee_postings.c.account_id))
        .where(
            fee_postings.c.entry_id == _ENTRIES.c.id,
            fee_postings.c.asset == _POSTINGS.c.asset,
            fee_accounts.c.name == REVENUE_FEES,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            _ENTRIES.c.id,
            _ENTRIES.c.kind,
            _ENTRIES.c.created_at,
            _ACCOUNTS.c.name,
            _POSTINGS.c.asset,
            func.sum(_POSTINGS.c.amount),
            fee,
        )
        .select_from(
            _ENTRIES.join(_POSTINGS, _POSTINGS.c.entry_id == _ENTRIES.c.id).join(
                _ACCOUNTS, _ACCOUNTS.c.id == _POSTINGS.c.account_id
            )
        )
        .where(
            _ACCOUNTS.c.name.in_(account_names),
            *in_period,
            _ENTRIES.c.id.between(lowest, highest),
            _POSTINGS.c.entry_id.between(lowest, highest),
        )
        .group_by(_ENTRIES.c.id, _ENTRIES.c.kind, _ENTRIES.c.created_at, _ACCOUNTS.c.name, _POSTINGS.c.asset)
        .order_by(_ENTRIES.c.id, _ACCOUNTS.c.name, _POSTINGS.c.asset)
    )
    return [
        EntryMovement(entry_id, kind, created_at, account, asset, int(amount), int(fee_cents))
        for entry_id, kind, created_at, account, asset, amount, fee_cents in rows
    ]


@dataclass(frozen=True)
class Outstanding:
    """The open lots of one issuer in one currency: points not yet spent nor
    expired, the value paid for them, and the part of it earned in a backed period."""

    issuer: str
    currency: str
    points: int
    value_cents: int
    backed_value_cents: int


def outstanding_points(
    session: Session, backed_periods: FromClause, *, issuers: list[str] | None = None
) -> list[Outstanding]:
    """Per issuer and currency, the sums of open lots (``points_remaining`` above
    zero), by issuer then currency.

    ``backed_periods`` is the caller's selectable of columns ``issuer``,
    ``period_start`` and ``period_end``: a lot earned in [period_start, period_end)
    of one of its issuer's rows counts in ``backed_value_cents``. An issuer's
    periods must not overlap (a lot would count twice). ``issuers`` limits the read."""
    backed = backed_periods.alias("backed")
    condition = _LOTS.c.points_remaining > 0
    if issuers is not None:
        condition = and_(condition, _LOTS.c.issuer.in_(issuers))
    rows = session.execute(
        select(
            _LOTS.c.issuer,
            _LOTS.c.currency,
            func.sum(_LOTS.c.points_remaining),
            func.sum(_LOTS.c.value_remaining),
            func.sum(case((backed.c.issuer.is_not(None), _LOTS.c.value_remaining), else_=0)),
        )
        .select_from(
            _LOTS.outerjoin(
                backed,
                and_(
                    backed.c.issuer == _LOTS.c.issuer,
                    _LOTS.c.earned_at >= backed.c.period_start,
                    _LOTS.c.earned_at < backed.c.period_end,
                ),
            )
        )
        .where(condition)
        .group_by(_LOTS.c.issuer, _LOTS.c.currency)
        .order_by(_LOTS.c.issuer, _LOTS.c.currency)
    )
    return [
        Outstanding(issuer, currency, int(points), int(value), int(backed_value))
        for issuer, currency, points, value, backed_value in rows
    ]
