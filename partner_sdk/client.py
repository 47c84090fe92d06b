"""The names of the first releases' ``partner_sdk.client`` import path.

The merchant client is in ``partner_sdk.merchant``, its answers in ``partner_sdk.answers``.
"""

from __future__ import annotations

from partner_sdk._merchant_programs import CommissionRule
from partner_sdk.answers import (
    CreatedWebhookEndpoint,
    Member,
    OrderResult,
    RefundResult,
    WebhookAttempt,
    WebhookEndpoint,
)
from partner_sdk.merchant import BulkDecision, MerchantClient

__all__ = [
    "BulkDecision",
    "CommissionRule",
    "CreatedWebhookEndpoint",
    "Member",
    "MerchantClient",
    "OrderResult",
    "RefundResult",
    "WebhookAttempt",
    "WebhookEndpoint",
]
