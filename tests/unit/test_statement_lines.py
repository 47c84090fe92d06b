"""Which ledger entries a statement's lines sum, and in which category: read off
per-entry movements, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import ledger
from app.settlement import lines

AT = datetime(2026, 11, 3, tzinfo=UTC)
RECEIVABLE = ledger.receivable_account("7")
PAYABLE = ledger.payable_account("7")


def move(entry_id: int, kind: str, account: str, amount: int, fee: int = 0) -> ledger.EntryMovement:
    return ledger.EntryMovement(entry_id, kind, AT, account, "EUR", amount, fee)


@pytest.fixture
def movements(monkeypatch):
    found: list[ledger.EntryMovement] = []
    monkeypatch.setattr(lines.ledger, "entry_movements", lambda session, names, start, end: found)
    return found


def test_collections_and_payouts_settle_earlier_statements_and_are_left_out(movements):
    movements += [
        move(1, "earn", RECEIVABLE, -500),
        move(2, "collection", RECEIVABLE, 400),
        move(3, "redeem", PAYABLE, 300),
        # A merchant payout (payable -> cash): it pays what an earlier statement stated.
        move(4, "payout", PAYABLE, -300),
    ]

    rows = lines.statement_rows(None, 7, AT, AT)

    assert [(row.entry_id, row.category, row.amount_cents) for row in rows] == [
        (1, "points_bought", 500),
        (3, "rewards_supplied", 300),
    ]
    (line,) = lines.lines_of(rows, ["EUR"])
    assert (line["other_cents"], line["net_cents"]) == (0, 200)
    assert lines.entry_ids_of(rows) == {"EUR": [1, 3]}


def test_a_commission_gives_its_amount_and_its_fee_a_row_each_signed_like_the_net(movements):
    movements += [move(5, "commission", RECEIVABLE, -2_640, fee=240), move(6, "commission", RECEIVABLE, 1_320, -120)]

    rows = lines.statement_rows(None, 7, AT, AT)

    assert [(row.entry_id, row.category, row.amount_cents) for row in rows] == [
        (5, "commissions", 2_400),
        (5, "network_fees", 240),
        (6, "commissions", -1_200),
        (6, "network_fees", -120),
    ]
    (line,) = lines.lines_of(rows, ["EUR"])
    assert (line["commissions_cents"], line["network_fees_cents"], line["net_cents"]) == (1_200, 120, 1_320)


def test_other_movements_on_either_account_are_signed_like_the_net(movements):
    movements += [move(7, "reversal", RECEIVABLE, -90), move(8, "reversal", PAYABLE, 40)]

    (line,) = lines.lines_of(lines.statement_rows(None, 7, AT, AT), ["EUR"])

    assert (line["other_cents"], line["net_cents"]) == (90 - 40, 50)
    assert lines.as_csv(9, lines.statement_rows(None, 7, AT, AT)).splitlines() == [
        ",".join(lines.CSV_HEADER),
        f"9,EUR,other,7,reversal,{AT.isoformat()},90",
        f"9,EUR,other,8,reversal,{AT.isoformat()},-40",
    ]
