"""A statement's lines and the ledger entries they sum, from one ledger read.

Each entry of the period on the merchant's receivable or payable becomes one row
per category it falls in (a commission: its amount in ``commissions`` and its fee
in ``network_fees``); a line sums its currency's rows. The JSON lines, their
``entry_ids`` and the CSV are all made from the same rows, so they cannot disagree.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

import ledger

CATEGORIES = ("points_bought", "commissions", "network_fees", "rewards_supplied", "other")
AMOUNT_FIELDS = tuple(f"{category}_cents" for category in CATEGORIES)
CSV_HEADER = ("statement_id", "currency", "category", "entry_id", "entry_kind", "created_at", "amount_cents")
_POINTS_KINDS = ("earn", "clawback", "release")
_COMMISSION_KIND = "commission"
# What the operator owes a merchant for goods it gave: boutique rewards it supplied, card vouchers it accepted.
_REWARD_KINDS = ("redeem", "card_voucher_redeem")
# Money collected from the merchant or paid to it settles an earlier statement: not new business.
_SETTLING_KINDS = ("collection", "payout")


@dataclass(frozen=True)
class Row:
    """What one entry adds to one category of a line, signed like the line's field."""

    currency: str
    category: str
    entry_id: int
    entry_kind: str
    created_at: datetime
    amount_cents: int


def statement_rows(session: Session, merchant_id: int, start: datetime, end: datetime) -> list[Row]:
    """The rows of the merchant's entries made in [start, end), by currency, entry and category."""
    receivable = ledger.receivable_account(str(merchant_id))
    payable = ledger.payable_account(str(merchant_id))
    sums: dict[tuple[str, int, str], int] = defaultdict(int)
    entries: dict[int, tuple[str, datetime]] = {}
    for move in ledger.entry_movements(session, [receivable, payable], start, end):
        if move.kind in _SETTLING_KINDS:
            continue
        entries[move.entry_id] = (move.kind, move.created_at)
        for category, amount in _categorized(move, on_receivable=move.account == receivable):
            sums[(move.asset, move.entry_id, category)] += amount
    return [
        Row(currency, category, entry_id, *entries[entry_id], amount)
        for (currency, entry_id, category), amount in sorted(
            sums.items(), key=lambda item: (item[0][0], item[0][1], CATEGORIES.index(item[0][2]))
        )
    ]


def _categorized(move: ledger.EntryMovement, *, on_receivable: bool) -> list[tuple[str, int]]:
    if on_receivable:
        # A receivable debit (negative) is what the merchant owes.
        if move.kind in _POINTS_KINDS:
            return [("points_bought", -move.amount)]
        if move.kind == _COMMISSION_KIND:
            return [("commissions", -move.amount - move.fee), ("network_fees", move.fee)]
        return [("other", -move.amount)]
    # A payable credit (positive) is what the operator owes the merchant.
    if move.kind in _REWARD_KINDS:
        return [("rewards_supplied", move.amount)]
    return [("other", -move.amount)]


def net_of(amounts: dict[str, int]) -> int:
    """Positive: the merchant owes the operator."""
    return (
        amounts["points_bought_cents"]
        + amounts["commissions_cents"]
        + amounts["network_fees_cents"]
        - amounts["rewards_supplied_cents"]
        + amounts["other_cents"]
    )


def lines_of(rows: list[Row], currencies: list[str]) -> list[dict]:
    """Per currency of the rows and of ``currencies`` (which have a line even when
    zero: the merchant's own), the sums of the rows and ``net_cents``."""
    lines: dict[str, dict[str, int]] = {currency: dict.fromkeys(AMOUNT_FIELDS, 0) for currency in currencies}
    for row in rows:
        lines.setdefault(row.currency, dict.fromkeys(AMOUNT_FIELDS, 0))[f"{row.category}_cents"] += row.amount_cents
    return [{"currency": currency, **sums, "net_cents": net_of(sums)} for currency, sums in sorted(lines.items())]


def entry_ids_of(rows: list[Row]) -> dict[str, list[int]]:
    """Per currency, the ids of the entries its line sums, ascending."""
    ids: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        ids[row.currency].add(row.entry_id)
    return {currency: sorted(found) for currency, found in ids.items()}


def as_csv(statement_id: int, rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            (
                statement_id,
                row.currency,
                row.category,
                row.entry_id,
                row.entry_kind,
                row.created_at.isoformat(),
                row.amount_cents,
            )
        )
    return out.getvalue()
