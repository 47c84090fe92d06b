"""Client library merchants use to talk to the loyalty platform.

Standard library only. Start with ``MerchantClient`` (or ``AffiliateClient``
with an affiliate key); verify webhook
deliveries with ``verify_webhook``; keep affiliate click tokens with
``partner_sdk.click_capture.ClickCapture``.
"""

from __future__ import annotations

from partner_sdk.affiliate import AffiliateClient
from partner_sdk.click_capture import ClickCapture, click_token_from_cookie_header, click_token_from_environ
from partner_sdk.client import (
    BulkDecision,
    CommissionRule,
    CreatedWebhookEndpoint,
    Member,
    MerchantClient,
    OrderResult,
    RefundResult,
    WebhookAttempt,
    WebhookEndpoint,
)
from partner_sdk.errors import (
    AuthenticationError,
    Conflict,
    ConflictError,
    ConnectionFailed,
    LoyaltyError,
    NotFound,
    NotFoundError,
    RateLimited,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
    WebhookSignatureError,
    error_from_response,
)
from partner_sdk.models import (
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
from partner_sdk.pagination import Page, iterate_pages
from partner_sdk.webhooks import WebhookEvent, sign_webhook, verify_webhook

__version__: str = "0.3.0"

EVENT_TYPES: tuple[str, ...] = (
    "order.points_awarded",
    "order.refunded",
    "commission.created",
    "commission.approved",
    "commission.rejected",
    "commission.paid",
    "redemption.placed",
    "redemption.fulfilled",
    "redemption.cancelled",
    "points.expiring",
    "statement.issued",
)
AFFILIATE_EVENT_TYPES: tuple[str, ...] = tuple(event for event in EVENT_TYPES if event.startswith("commission."))

__all__ = [
    "AFFILIATE_EVENT_TYPES",
    "EVENT_TYPES",
    "AffiliateClient",
    "Application",
    "AttributionError",
    "AuthenticationError",
    "BulkDecision",
    "CatalogItem",
    "ClickCapture",
    "CodesAdded",
    "Commission",
    "CommissionBrief",
    "CommissionRule",
    "Conflict",
    "ConflictError",
    "ConnectionFailed",
    "CreatedCatalogItem",
    "CreatedWebhookEndpoint",
    "Lead",
    "Link",
    "LoyaltyError",
    "Member",
    "MerchantClient",
    "NotFound",
    "NotFoundError",
    "OrderResult",
    "Page",
    "Payout",
    "Program",
    "RateLimited",
    "RateLimitedError",
    "Redemption",
    "RefundResult",
    "Report",
    "ReportRow",
    "ServerError",
    "Statement",
    "StatementLine",
    "TransportError",
    "ValidationError",
    "VoucherRedemption",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookSignatureError",
    "__version__",
    "click_token_from_cookie_header",
    "click_token_from_environ",
    "error_from_response",
    "iterate_pages",
    "sign_webhook",
    "verify_webhook",
]
