"""Client library merchants use to talk to the loyalty platform.

Standard library only. Start with ``MerchantClient`` (or ``AffiliateClient``
with an affiliate key), ideally in a ``with`` block so its keep-alive
connections are closed; verify webhook deliveries with ``verify_webhook``; keep
affiliate click tokens with ``partner_sdk.click_capture.ClickCapture``. Answers
are typed and strict: an answer that breaks the contract raises
``UnexpectedAnswer`` naming the field.
"""

from __future__ import annotations

from partner_sdk._merchant_programs import CommissionRule
from partner_sdk._version import __version__
from partner_sdk.affiliate import AffiliateClient
from partner_sdk.answers import (
    Application,
    AttributionError,
    CatalogItem,
    CodesAdded,
    Commission,
    CommissionBrief,
    CreatedCatalogItem,
    CreatedWebhookEndpoint,
    Lead,
    Link,
    Member,
    OrderResult,
    Payout,
    Program,
    Redemption,
    RefundResult,
    Report,
    ReportRow,
    Statement,
    StatementLine,
    VoucherRedemption,
    WebhookAttempt,
    WebhookEndpoint,
)
from partner_sdk.click_capture import ClickCapture, click_token_from_cookie_header, click_token_from_environ
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
    UnexpectedAnswer,
    ValidationError,
    WebhookSignatureError,
    error_from_response,
)
from partner_sdk.merchant import BulkDecision, MerchantClient
from partner_sdk.pagination import Page, iterate_pages
from partner_sdk.webhooks import WebhookEvent, sign_webhook, verify_webhook

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
    "UnexpectedAnswer",
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
