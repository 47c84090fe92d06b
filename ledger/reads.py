"""Reads of the journal for statements and reports: sums per account and kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.accounts import REVENUE_FEES
from ledger.models import Account, Entry, Posting, table

_ACCOUNTS = table(Account)
_POSTINGS = table(Posting)
_ENTRIES = table(Entry)


@dataclass(frozen=True)
class Movement:
    """What entries of one kind posted to an account in one asset, summed."""

    asset: str
    kind: str
    amount: int


def account_movements(session: Session, account_name: str, start: datetime, end: datetime) -> list[Movement]:
    """Per asset and entry kind, the sum of postings on ``account_name`` for
    entries made in [start, end)."""
    rows = session.execute(
        select(_POSTINGS.c.asset, _ENTRIES.c.kind, func.sum(_POSTINGS.c.amount))
        .select_from(
            _ENTRIES.join(_POSTINGS, _POSTINGS.c.entry_id == _ENTRIES.c.id).join(
                _ACCOUNTS, _ACCOUNTS.c.id == _POSTINGS.c.account_id
            )
        )
        .where(_ACCOUNTS.c.name == account_name, _ENTRIES.c.created_at >= start, _ENTRIES.c.created_at < end)
        .group_by(_POSTINGS.c.asset, _ENTRIES.c.kind)
    )
    return [Movement(asset, kind, int(total)) for asset, kind, total in rows]


def fees_beside(session: Session, account_name: str, kind: str, start: datetime, end: datetime) -> dict[str, int]:
    """Per asset, what entries of ``kind`` touching ``account_name`` in [start, end)
    posted to the network fee revenue (``platform:revenue:fees``)."""
    fee_postings = _POSTINGS.alias("fee_postings")
    fee_accounts = _ACCOUNTS.alias("fee_accounts")
    rows = session.execute(
        select(fee_postings.c.asset, func.sum(fee_postings.c.amount))
        .select_from(
            _ENTRIES.join(_POSTINGS, _POSTINGS.c.entry_id == _ENTRIES.c.id)
            .join(_ACCOUNTS, _ACCOUNTS.c.id == _POSTINGS.c.account_id)
            .join(fee_postings, fee_postings.c.entry_id == _ENTRIES.c.id)
            .join(fee_accounts, fee_accounts.c.id == fee_postings.c.account_id)
        )
        .where(
            _ACCOUNTS.c.name == account_name,
            fee_accounts.c.name == REVENUE_FEES,
            fee_postings.c.asset == _POSTINGS.c.asset,
            _ENTRIES.c.kind == kind,
            _ENTRIES.c.created_at >= start,
            _ENTRIES.c.created_at < end,
        )
        .group_by(fee_postings.c.asset)
    )
    return {asset: int(total) for asset, total in rows}


def account_entry_ids(session: Session, account_names: list[str], start: datetime, end: datetime) -> list[int]:
    """The ids of entries made in [start, end) that post to one of ``account_names``, ascending."""
    rows = session.execute(
        select(_ENTRIES.c.id)
        .distinct()
        .select_from(
            _ENTRIES.join(_POSTINGS, _POSTINGS.c.entry_id == _ENTRIES.c.id).join(
                _ACCOUNTS, _ACCOUNTS.c.id == _POSTINGS.c.account_id
            )
        )
        .where(_ACCOUNTS.c.name.in_(account_names), _ENTRIES.c.created_at >= start, _ENTRIES.c.created_at < end)
        .order_by(_ENTRIES.c.id)
    )
    return [entry_id for (entry_id,) in rows]
