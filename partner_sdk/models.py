"""Typed answers of the commission, affiliate and boutique calls.

Every answer keeps the platform's JSON in ``raw`` (not compared, not shown),
so fields added by a newer platform stay reachable before the SDK names them.
Ids are strings; times are ISO 8601 strings in UTC; money is integer cents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

__all__ = [
    "Application",
    "AttributionError",
    "CatalogItem",
    "CodesAdded",
    "Commission",
    "CommissionBrief",
    "CreatedCatalogItem",
    "Lead",
    "Link",
    "Payout",
    "Program",
    "Redemption",
    "Report",
    "ReportRow",
    "Statement",
    "StatementLine",
    "VoucherRedemption",
]


class _Answer:
    """Builds a dataclass from the JSON object of an answer, by field name."""

    if TYPE_CHECKING:

        def __init__(self, **fields: Any) -> None: ...

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        names = [f.name for f in dataclasses.fields(cls) if f.name != "raw"]  # type: ignore[arg-type]
        return cls(**{name: data.get(name) for name in names}, raw=data)


@dataclass(frozen=True)
class CommissionBrief(_Answer):
    """The commission an order or a lead earned, as the order's answer shows it."""

    id: str
    status: str
    amount_cents: int
    currency: str
    affiliate_id: str
    suspicious: bool
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Commission(_Answer):
    """An affiliate's commission on one of your orders or leads."""

    id: str
    kind: str
    status: str
    amount_cents: int
    base_amount_cents: int
    fee_cents: int
    currency: str
    program_id: str
    affiliate_id: str
    link_id: str | None
    order_id: str | None
    lead_id: str | None
    adjusts_commission_id: str | None
    suspicious: bool
    reason: str | None
    clicked_at: str | None
    hold_until: str | None
    decided_at: str | None
    created_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)
    # Last, with a default: older platforms do not send it.
    payout_id: str | None = None


@dataclass(frozen=True)
class Lead(_Answer):
    """A reported lead; `commission` is None when the click earned nothing (see `attribution_error`)."""

    lead_id: str
    commission: CommissionBrief | None
    attribution_error: str | None
    replayed: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_answer(cls, data: dict[str, Any], replayed: bool) -> Lead:
        brief = data.get("commission")
        return cls(
            lead_id=str(data["lead_id"]),
            commission=CommissionBrief.from_json(brief) if brief else None,
            attribution_error=data.get("attribution_error"),
            replayed=replayed,
            raw=data,
        )


@dataclass(frozen=True)
class AttributionError(_Answer):
    """A click token sent with an order or a lead that earned no commission, and why (`code`)."""

    id: str
    code: str
    order_id: str | None
    lead_id: str | None
    program_id: str | None
    affiliate_id: str | None
    created_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Program(_Answer):
    """An affiliate program: its commission rule (`commission`), hold and attribution window."""

    id: str
    merchant_id: str
    name: str
    active: bool
    commission: dict[str, Any]
    lead_amount_cents: int | None
    cap_cents: int | None
    network_fee_bps: int
    hold_days: int
    attribution_window_days: int
    auto_approve_affiliates: bool
    created_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Application(_Answer):
    """An affiliate's application to a program: pending, approved or refused."""

    id: str
    program_id: str
    affiliate_id: str
    affiliate_name: str | None
    affiliate_website: str | None
    status: str
    created_at: str
    decided_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Link(_Answer):
    """A tracking link: share `url`; it redirects to `landing_url` with a click token."""

    id: str
    code: str
    url: str
    program_id: str
    landing_url: str
    active: bool
    created_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CatalogItem(_Answer):
    """A reward you supply to the boutique (physical goods or vouchers)."""

    id: str
    kind: str
    title: str
    description: str | None
    category: str
    image_url: str | None
    points_price: int
    wholesale_value_cents: int
    currency: str
    stock: int
    active: bool
    active_from: str | None
    active_until: str | None
    created_at: str
    updated_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CreatedCatalogItem:
    """A new item and the voucher codes the platform generated for it (shown only here)."""

    item: CatalogItem
    generated_codes: list[str] = field(repr=False)


@dataclass(frozen=True)
class CodesAdded(_Answer):
    """Voucher codes added to an item; `generated_codes` are shown only here."""

    added: int
    stock: int
    generated_codes: list[str] = field(repr=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Redemption(_Answer):
    """A member's redemption of one of your rewards: placed, fulfilled, cancelled or expired."""

    id: str
    item_id: str
    kind: str
    title: str
    status: str
    points: int
    wholesale_value_cents: int
    currency: str
    shipping_address: str | None
    voucher_code: str | None
    tracking_reference: str | None
    cancel_reason: str | None
    created_at: str
    expires_at: str | None
    resolved_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class VoucherRedemption(_Answer):
    """A voucher code accepted at your checkout (it cannot be used again)."""

    code: str
    item_id: str
    redemption_id: str
    title: str
    used_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ReportRow(_Answer):
    """One row of an affiliate report: a day, a program or a link (`key`), in one currency."""

    key: str
    currency: str | None
    clicks: int
    unique_clicks: int
    orders: int
    leads: int
    conversion_rate: float
    commission_pending_cents: int
    commission_approved_cents: int
    commission_rejected_cents: int
    commission_paid_cents: int
    earnings_per_click_cents: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Report:
    """An affiliate report from `from_date` to `to_date`, grouped by day, program or link."""

    from_date: str
    to_date: str
    group_by: str
    rows: list[ReportRow]
    totals: list[ReportRow]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return cls(
            from_date=str(data["from"]),
            to_date=str(data["to"]),
            group_by=str(data["group_by"]),
            rows=[ReportRow.from_json(row) for row in data["rows"]],
            totals=[ReportRow.from_json(row) for row in data["totals"]],
            raw=data,
        )


@dataclass(frozen=True)
class Payout(_Answer):
    """A payment of the operator to you: approved commissions net of adjustments, in one currency."""

    id: str
    payout_id: str
    affiliate_id: str
    currency: str
    amount_cents: int
    commission_count: int
    reference: str | None
    created_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class StatementLine(_Answer):
    """One currency of a statement; a positive `net_cents` is what you owe the operator."""

    currency: str
    points_bought_cents: int
    commissions_cents: int
    network_fees_cents: int
    rewards_supplied_cents: int
    other_cents: int
    net_cents: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Statement:
    """What you and the operator owe each other for one period (from `period_start`, to `period_end` excluded)."""

    id: str
    merchant_id: str
    period_start: str
    period_end: str
    lines: list[StatementLine]
    created_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Statement:
        return cls(
            id=str(data["id"]),
            merchant_id=str(data["merchant_id"]),
            period_start=str(data["period_start"]),
            period_end=str(data["period_end"]),
            lines=[StatementLine.from_json(line) for line in data["lines"]],
            created_at=str(data["created_at"]),
            raw=data,
        )
