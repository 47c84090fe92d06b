"""Where a payout's or a statement's entries are in the transparency log."""

from __future__ import annotations

from sqlalchemy.orm import Session

import ledger
from app.settlement.models import Payout, Statement
from app.transparency import services as transparency


def _entry_ids(row: Payout | Statement) -> list[int]:
    if isinstance(row, Payout):
        return [] if row.entry_id is None else [row.entry_id]  # a pending payout has no entry yet
    # The entries the statement's lines sum, as read with them: a collection or a
    # payout in the period settles an earlier statement and is not among them.
    return sorted({line_row.entry_id for line_row in row.rows})


def with_log(session: Session, rows: list) -> None:
    """Attach to each payout or statement where its entries are in the log (``log`` in the answers);
    a statement has its rows already (``app.settlement.services``)."""
    for row in rows:
        head = None if row.tree_head_id is None else ledger.get_head(session, row.tree_head_id)
        row.log = transparency.pointer(session, head, _entry_ids(row))
