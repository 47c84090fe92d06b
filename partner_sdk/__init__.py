"""Client library merchants use to talk to the loyalty platform."""

from __future__ import annotations

from partner_sdk.client import Member, MerchantClient, OrderResult, RefundResult
from partner_sdk.errors import (
    AuthenticationError,
    ConflictError,
    LoyaltyError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
    error_from_response,
)

__version__: str = "0.1.0"

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "LoyaltyError",
    "Member",
    "MerchantClient",
    "NotFoundError",
    "OrderResult",
    "RateLimitedError",
    "RefundResult",
    "ServerError",
    "TransportError",
    "ValidationError",
    "__version__",
    "error_from_response",
]
