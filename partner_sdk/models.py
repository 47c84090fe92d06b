"""The answer classes of the first releases' import path; they live in ``partner_sdk.answers``."""

from __future__ import annotations

from partner_sdk.answers import (
    Application,
    AttributionError,
    CatalogItem,
    CodesAdded,
    Commission,
    CommissionBrief,
    CreatedCatalogItem,
    Lead,
    Link,
    Payout,
    Program,
    Redemption,
    Report,
    ReportRow,
    Statement,
    StatementLine,
    VoucherRedemption,
)

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
