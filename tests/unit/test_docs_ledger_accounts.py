"""The account table in docs/ledger.md is the ledger's catalogue, and the
catalogue names every account the flows can write to."""

from __future__ import annotations

import re
from pathlib import Path

from ledger import accounts
from ledger.accounts import ACCOUNT_KINDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger.md"
_ROW = re.compile(r"^\| `(?P<name>[^`]+)` \| (?P<asset>[^|]+?) \| (?P<meaning>.+?) \|$")


def documented_accounts() -> list[tuple[str, str, str]]:
    lines = DOC.read_text().splitlines()
    start = lines.index("| account | asset | meaning |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        match = _ROW.match(line)
        assert match, f"not an account row: {line}"
        rows.append((match["name"], match["asset"], match["meaning"]))
    return rows


def test_the_docs_table_lists_exactly_the_ledger_catalogue_in_order():
    assert documented_accounts() == [(k.name, k.asset, k.meaning) for k in ACCOUNT_KINDS]


def test_every_account_name_the_ledger_builds_is_in_the_catalogue_and_every_entry_is_built():
    built = {
        accounts.member_account("{id}"),
        accounts.member_debt_account("{id}"),
        accounts.member_incoming_account("{id}"),
        accounts.issued_account("{id}"),
        accounts.receivable_account("{id}"),
        accounts.payable_account("{id}"),
        accounts.affiliate_payable_account("{id}"),
        accounts.BOUTIQUE_REDEEMED,
        accounts.PLATFORM_EXPIRED,
        accounts.POINTS_FLOAT,
        accounts.REVENUE_BREAKAGE,
        accounts.REDEMPTION_VALUE,
        accounts.REVENUE_MARGIN,
        accounts.REVENUE_FEES,
        accounts.PLATFORM_CASH,
        accounts.issued_account(accounts.OPERATOR),
        accounts.funding_account(accounts.OPERATOR),
        accounts.REVENUE_CARDS,
        accounts.CARD_VOUCHERS,
    }
    assert built == {k.name for k in ACCOUNT_KINDS}


def test_every_catalogue_entry_has_a_known_asset_and_a_meaning():
    assert len({k.name for k in ACCOUNT_KINDS}) == len(ACCOUNT_KINDS)
    for kind in ACCOUNT_KINDS:
        assert kind.asset in (accounts.PTS, accounts.CURRENCY), kind
        assert kind.meaning.strip(), kind
