"""Client library merchants use to talk to the loyalty platform.

Standard library only. Start with ``MerchantClient`` (or ``AffiliateClient``
with an affiliate key), ideally in a ``with`` block so its keep-alive
connections are closed; verify webhook deliveries with ``verify_webhook``; keep
affiliate click tokens with ``partner_sdk.click_capture.ClickCapture``; check
the ledger's signed transparency log with ``partner_sdk.transparency`` (or run
``python -m partner_sdk.audit``). Answers
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
    Collection,
    Commission,
    CommissionBrief,
    ConsistencyProof,
    CreatedCatalogItem,
    CreatedWebhookEndpoint,
    EntryProof,
    Lead,
    LedgerEntry,
    LedgerPosting,
    Liability,
    Link,
    LogEntry,
    LogPointer,
    Member,
    OrderResult,
    Payout,
    Program,
    PublicKey,
    Redemption,
    RefundResult,
    Report,
    ReportRow,
    Statement,
    StatementLine,
    StatementPayout,
    TreeHead,
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
    ProofError,
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
from partner_sdk.transparency import (
    EMPTY_ROOT,
    decode_canonical,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    signed_bytes,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)
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
    "statement.payment_failed",
    "payout.paid",
)
AFFILIATE_EVENT_TYPES: tuple[str, ...] = tuple(
    event for event in EVENT_TYPES if event.startswith(("commission.", "payout."))
)

__all__ = [
    "AFFILIATE_EVENT_TYPES",
    "EMPTY_ROOT",
    "EVENT_TYPES",
    "AffiliateClient",
    "Application",
    "AttributionError",
    "AuthenticationError",
    "BulkDecision",
    "CatalogItem",
    "ClickCapture",
    "CodesAdded",
    "Collection",
    "Commission",
    "CommissionBrief",
    "CommissionRule",
    "Conflict",
    "ConflictError",
    "ConnectionFailed",
    "ConsistencyProof",
    "CreatedCatalogItem",
    "CreatedWebhookEndpoint",
    "EntryProof",
    "Lead",
    "LogPointer",
    "LedgerEntry",
    "LedgerPosting",
    "Liability",
    "Link",
    "LogEntry",
    "LoyaltyError",
    "Member",
    "MerchantClient",
    "NotFound",
    "NotFoundError",
    "OrderResult",
    "Page",
    "Payout",
    "Program",
    "ProofError",
    "PublicKey",
    "RateLimited",
    "RateLimitedError",
    "Redemption",
    "RefundResult",
    "Report",
    "ReportRow",
    "ServerError",
    "Statement",
    "StatementLine",
    "StatementPayout",
    "TransportError",
    "TreeHead",
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
    "decode_canonical",
    "error_from_response",
    "iterate_pages",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion",
    "sign_webhook",
    "signed_bytes",
    "verify_consistency",
    "verify_inclusion",
    "verify_tree_head",
    "verify_webhook",
]
