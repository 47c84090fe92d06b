"""The affiliate's report: clicks and commissions per day, program or link.

Commissions count on the day they were created (the conversion), adjustments on
the day of the refund, each under its current status. Approved amounts include
the negative adjustments not yet netted in a payout, so the approved total over
all time equals the affiliate's payable balance in the ledger; the paid total
equals what payouts moved to cash (app/settlement).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.affiliates.models import AffiliateIdentity, Link, Program
from app.clicks.models import ClickStat
from app.commissions.models import Commission
from app.merchants.models import Merchant
from app.transparency import services as transparency

REPORT_DAYS_DEFAULT = 30
COLUMNS = (
    "key",
    "currency",
    "clicks",
    "unique_clicks",
    "orders",
    "leads",
    "conversion_rate",
    "commission_pending_cents",
    "commission_approved_cents",
    "commission_rejected_cents",
    "commission_paid_cents",
    "earnings_per_click_cents",
)
_COUNTERS = COLUMNS[2:6] + COLUMNS[7:11]


def _key(group_by: str, at: datetime, program_id: int, link_id: int | None) -> str:
    if group_by == "day":
        return at.date().isoformat()
    if group_by == "program":
        return str(program_id)
    return "" if link_id is None else str(link_id)


def affiliate_report(
    session: Session, affiliate: AffiliateIdentity, *, from_: date | None, to: date | None, group_by: str, today: date
) -> dict:
    to = to or today
    from_ = from_ or (to - timedelta(days=REPORT_DAYS_DEFAULT - 1))
    start = datetime.combine(from_, time.min, tzinfo=UTC)
    end = datetime.combine(to + timedelta(days=1), time.min, tzinfo=UTC)
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(_COUNTERS, 0))

    clicks = session.execute(
        select(
            ClickStat.hour,
            Link.program_id,
            ClickStat.link_id,
            Merchant.currency,
            ClickStat.clicks,
            ClickStat.unique_clicks,
        )
        .join(Link, Link.id == ClickStat.link_id)
        .join(Program, Program.id == Link.program_id)
        .join(Merchant, Merchant.id == Program.merchant_id)
        .where(Link.affiliate_id == affiliate.id, ClickStat.hour >= start, ClickStat.hour < end)
    )
    for hour, program_id, link_id, currency, total, unique in clicks:
        row = rows[(_key(group_by, hour, program_id, link_id), currency)]
        row["clicks"] += total
        row["unique_clicks"] += unique

    commissions = session.execute(
        select(
            Commission.created_at,
            Commission.program_id,
            Commission.link_id,
            Commission.currency,
            Commission.kind,
            Commission.status,
            Commission.amount_cents,
            Commission.entry_id,
        ).where(Commission.affiliate_id == affiliate.id, Commission.created_at >= start, Commission.created_at < end)
    )
    entry_ids = []
    for created_at, program_id, link_id, currency, kind, status, amount, entry_id in commissions:
        if entry_id is not None:
            entry_ids.append(entry_id)
        row = rows[(_key(group_by, created_at, program_id, link_id), currency)]
        if kind == "sale":
            row["orders"] += 1
        elif kind == "lead":
            row["leads"] += 1
        row[f"commission_{status}_cents"] += amount

    data = [_finish(key, currency, counters) for (key, currency), counters in sorted(rows.items())]
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_COUNTERS, 0))
    for row in data:
        for name in _COUNTERS:
            totals[row["currency"]][name] += row[name]
    return {
        "from_": from_,
        "to": to,
        "group_by": group_by,
        "rows": data,
        "totals": [_finish("total", currency, counters) for currency, counters in sorted(totals.items())],
        "log": transparency.pointer(session, transparency.newest_head(session), entry_ids),
    }


def _finish(key: str, currency: str, counters: dict[str, int]) -> dict:
    clicks = counters["clicks"]
    earned = (
        counters["commission_pending_cents"] + counters["commission_approved_cents"] + counters["commission_paid_cents"]
    )
    return {
        "key": key,
        "currency": currency,
        **counters,
        "conversion_rate": round((counters["orders"] + counters["leads"]) / clicks, 4) if clicks else 0.0,
        "earnings_per_click_cents": earned // clicks if clicks else 0,
    }


def as_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in report["rows"]:
        writer.writerow(row)
    return out.getvalue()
