"""Where a payout's or a statement's entries are in the transparency log."""

from __future__ import annotations

from sqlalchemy.orm import Session

import ledger
from app.settlement.models import Payout, Statement
from app.transparency import services as transparency


def _entry_ids(session: Session, row: Payout | Statement) -> list[int]:
    if isinstance(row, Payout):
        return [] if row.entry_id is None else [row.entry_id]  # a pending payout has no entry yet
    names = [ledger.receivable_account(str(row.merchant_id)), ledger.payable_account(str(row.merchant_id))]
    return ledger.account_entry_ids(session, names, row.period_start, row.period_end)


def with_log(session: Session, rows: list) -> None:
    """Attach to each payout or statement where its entries are in the log (``log`` in the answers)."""
    for row in rows:
        head = None if row.tree_head_id is None else ledger.get_head(session, row.tree_head_id)
        row.log = transparency.pointer(session, head, _entry_ids(session, row))
