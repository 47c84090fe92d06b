"""Operator reports over the whole coalition: the backed points liability."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session

from app.settlement.liability import Liability, liabilities


def liability_report(session: Session) -> dict:
    """Points outstanding per issuing merchant and currency, and their totals per currency."""
    rows = liabilities(session)
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        total = sums[row.currency]
        total[0] += row.points_outstanding
        total[1] += row.value_cents
        total[2] += row.collected_cents
    return {"merchants": rows, "total": [Liability(None, currency, *total) for currency, total in sorted(sums.items())]}
