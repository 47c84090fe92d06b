"""The bank transfers to make, as the CSV the operator's bank import takes."""

from __future__ import annotations

import csv
import io

from app.settlement.models import Payout

COLUMNS = (
    "payout_id",
    "payee_type",
    "payee_id",
    "name",
    "iban",
    "amount",
    "currency",
    "amount_cents",
    "reference",
    "created_at",
)


def as_csv(payouts: list[Payout]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for payout in payouts:
        kind, payee_id = payout.payee
        writer.writerow(
            (
                payout.id,
                kind,
                payee_id,
                payout.holder_name,
                payout.destination,
                major_units(payout.amount_cents),
                payout.currency,
                payout.amount_cents,
                remittance(payout),
                payout.created_at.isoformat(),
            )
        )
    return out.getvalue()


def major_units(amount_cents: int) -> str:
    """Cents as the bank writes the amount: ``5000`` is ``50.00`` (every supported currency has two decimals)."""
    return f"{amount_cents // 100}.{amount_cents % 100:02d}"


def remittance(payout: Payout) -> str:
    """What the payee reads on its bank statement: enough to find the payout."""
    return f"Payout {payout.id} {payout.payout_key}"
