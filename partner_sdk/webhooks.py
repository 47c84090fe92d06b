"""Verifying the platform's signed webhook deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from partner_sdk.errors import WebhookSignatureError

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "WebhookEvent",
    "sign_webhook",
    "verify_webhook",
]

SIGNATURE_HEADER = "Loyalty-Signature"
EVENT_ID_HEADER = "Loyalty-Event-Id"
HEADER_LENGTH_MAX = 2048
SIGNATURES_MAX = 8


@dataclass(frozen=True)
class WebhookEvent:
    """A verified event: `type` is from the catalog (e.g. ``order.points_awarded``)."""

    id: str
    type: str
    created_at: str
    data: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)


def sign_webhook(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value the platform sends, for testing your receiver."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(payload, secret, t)}"


def verify_webhook(
    payload: bytes, header: str, secret: str, tolerance_s: int = 300, now: float | None = None
) -> WebhookEvent:
    """Check a delivery and return its event.

    ``payload`` is the raw request body (not re-serialized JSON); ``header`` the
    ``Loyalty-Signature`` value; ``secret`` the endpoint's ``whsec_...``. The
    timestamp must be within ``tolerance_s`` of ``now`` (default: the clock), so
    a captured delivery cannot be replayed later. Any of several ``v1=`` values
    may match (after a secret rotation the platform signs with both secrets).
    Raises ``WebhookSignatureError`` otherwise.
    """
    if not isinstance(payload, (bytes, bytearray)):
        raise TypeError("payload must be the raw body as bytes")
    timestamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookSignatureError("timestamp outside the tolerance: too old or too new")
    expected = _digest(bytes(payload), secret, timestamp)
    # Compare against every candidate without stopping early: constant time per value.
    matched = False
    for signature in signatures:
        matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise WebhookSignatureError("no signature matches this secret")
    try:
        raw = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as error:
        raise WebhookSignatureError("signed payload is not JSON") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
        raise WebhookSignatureError("signed payload is not an event")
    return WebhookEvent(
        id=str(raw.get("id", "")),
        type=str(raw.get("type", "")),
        created_at=str(raw.get("created_at", "")),
        data=raw["data"],
        raw=raw,
    )


def _digest(payload: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + payload, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int, list[str]]:
    if not isinstance(header, str) or not header or len(header) > HEADER_LENGTH_MAX:
        raise WebhookSignatureError("missing or oversized signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureError("malformed signature header")
        if name == "t":
            if timestamp is not None or not value.isdigit() or len(value) > 12:
                raise WebhookSignatureError("malformed timestamp in signature header")
            timestamp = int(value)
        elif name == "v1":
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
                raise WebhookSignatureError("malformed v1 signature")
            signatures.append(value)
    if timestamp is None or not signatures or len(signatures) > SIGNATURES_MAX:
        raise WebhookSignatureError("signature header needs t= and one or more v1=")
    return timestamp, signatures
