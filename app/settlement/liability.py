"""Backed points: the points still outstanding per issuing merchant, and the part of
their value backed by money the operator actually received.

A lot is backed when it was earned inside a statement period whose statement is
settled: its collection succeeded, or there was nothing to collect (a net of zero
or less, settled by netting against what the operator owed the merchant). Lots
earned after the merchant's last statement, or in one whose collection is pending
or failed, are not. The sums are the ledger's (``ledger.outstanding_points``), in SQL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

import ledger
from app.merchants.models import Merchant
from app.settlement.models import Collection, Statement, coverage_bp

_SETTLED = ("succeeded", "not_needed")
# Merchant ids per lookup: far under SQLite's and PostgreSQL's bound-parameter limits.
_IDS_PER_QUERY_MAX = 1_000


@dataclass(frozen=True)
class Liability:
    """The outstanding points of one merchant (None: issued by the platform itself) in one currency."""

    merchant_id: int | None
    currency: str
    points_outstanding: int
    value_cents: int
    collected_cents: int

    @property
    def coverage_bp(self) -> int:
        return coverage_bp(self.collected_cents, self.value_cents)


def _backed_periods():
    """The periods of settled statements, keyed like lots by the issuer's key (the merchant id as text)."""
    return (
        select(
            cast(Statement.merchant_id, String).label("issuer"),
            Statement.period_start.label("period_start"),
            Statement.period_end.label("period_end"),
        )
        .outerjoin(Collection, Collection.statement_id == Statement.id)
        .where(or_(Collection.id.is_(None), Collection.status.in_(_SETTLED)))
        .subquery()
    )


def liabilities(session: Session, *, merchant_id: int | None = None) -> list[Liability]:
    """Per issuing merchant and currency, by merchant id (the platform's own lots last,
    under None); only ``merchant_id``'s when given."""
    issuers = None if merchant_id is None else [str(merchant_id)]
    found = ledger.outstanding_points(session, _backed_periods(), issuers=issuers)
    merchants = _merchant_ids(session, {row.issuer for row in found})
    sums: dict[tuple[int | None, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in found:
        owner = merchants.get(row.issuer)
        total = sums[(owner, row.currency)]
        total[0] += row.points
        total[1] += row.value_cents
        # The platform's own points are paid by nobody: never backed by a collection.
        total[2] += row.backed_value_cents if owner is not None else 0
    return [
        Liability(owner, currency, *total)
        for (owner, currency), total in sorted(
            sums.items(), key=lambda item: (item[0][0] is None, item[0][0] or 0, item[0][1])
        )
    ]


def _merchant_ids(session: Session, issuers: set[str]) -> dict[str, int]:
    """The merchants among the issuers' keys; another key is the platform's own."""
    ids = sorted(int(key) for key in issuers if key.isdecimal() and len(key) <= 18 and key == str(int(key)))
    found: dict[str, int] = {}
    for first in range(0, len(ids), _IDS_PER_QUERY_MAX):
        chunk = ids[first : first + _IDS_PER_QUERY_MAX]
        known = session.execute(select(Merchant.id).where(Merchant.id.in_(chunk))).scalars()
        found.update((str(merchant_id), merchant_id) for merchant_id in known)
    return found
