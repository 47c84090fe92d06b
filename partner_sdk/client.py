"""HTTP client merchants use to report orders and refunds to the loyalty platform."""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from partner_sdk.errors import (
    LoyaltyError,
    RateLimitedError,
    TransportError,
    error_from_response,
)

__all__ = ["Member", "MerchantClient", "OrderResult", "RefundResult"]

USER_AGENT = "partner-sdk/0.1"
_RETRYABLE_STATUSES = frozenset({429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class OrderResult:
    """An order as recorded by the platform; `replayed` is True for an idempotent replay."""

    order_id: str
    member_id: str
    points_earned: int
    points_balance: int
    replayed: bool
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class RefundResult:
    """A refund as recorded by the platform; `replayed` is True for an idempotent replay."""

    refund_id: str
    order_id: str
    points_reversed: int
    points_balance: int
    replayed: bool
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Member:
    """A loyalty member and their point balances."""

    id: str
    email: str
    points_balance: int
    points_pending: int
    points_available: int
    points_debt: int
    raw: dict[str, Any] = field(repr=False)


class MerchantClient:
    """Client for the merchant API, authenticated with the merchant's API key.

    Connection failures, 429 and 5xx responses are retried up to `max_retries`
    times with exponential backoff and full jitter (Retry-After is honoured for
    429). Retrying the POSTs is safe: the order_id / refund_id are idempotency
    keys (also sent as the Idempotency-Key header), so the platform answers a
    repeated request with the original result instead of recording it twice.
    Other 4xx responses are never retried.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.2,
        backoff_cap_s: float = 5.0,
    ) -> None:
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._api_key = api_key

    def __repr__(self) -> str:
        return f"MerchantClient({self.base_url!r})"

    def record_order(
        self, order_id: str, amount_cents: int, member_email: str, currency: str = "EUR"
    ) -> OrderResult:
        """Record a purchase and earn points for the member; safe to call again."""
        body = {
            "order_id": order_id,
            "amount_cents": amount_cents,
            "currency": currency,
            "member_email": member_email,
        }
        status, data = self._request("POST", "/v1/orders", body=body, idempotency_key=order_id)
        return OrderResult(
            order_id=str(data["order_id"]),
            member_id=str(data["member_id"]),
            points_earned=int(data["points_earned"]),
            points_balance=int(data["points_balance"]),
            replayed=status == 200,
            raw=data,
        )

    def refund(self, order_id: str, refund_id: str, amount_cents: int) -> RefundResult:
        """Refund part or all of an order, reversing its points; safe to call again."""
        path = f"/v1/orders/{urllib.parse.quote(order_id, safe='')}/refunds"
        body = {"refund_id": refund_id, "amount_cents": amount_cents}
        status, data = self._request("POST", path, body=body, idempotency_key=refund_id)
        return RefundResult(
            refund_id=str(data["refund_id"]),
            order_id=str(data["order_id"]),
            points_reversed=int(data["points_reversed"]),
            points_balance=int(data["points_balance"]),
            replayed=status == 200,
            raw=data,
        )

    def find_member(self, email: str) -> Member | None:
        """Return the member with this email, or None if there is none."""
        query = urllib.parse.urlencode({"email": email})
        _, data = self._request("GET", f"/v1/members?{query}")
        members = data.get("data") or []
        if not members:
            return None
        m = members[0]
        return Member(
            id=str(m["id"]),
            email=str(m["email"]),
            points_balance=int(m["points_balance"]),
            points_pending=int(m["points_pending"]),
            points_available=int(m["points_available"]),
            points_debt=int(m["points_debt"]),
            raw=m,
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        url = self.base_url + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json, application/problem+json",
            "User-Agent": USER_AGENT,
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key

        attempt = 0
        while True:
            try:
                status, resp_headers, payload = self._send(method, url, data, headers)
            except (OSError, http.client.HTTPException) as exc:
                if attempt >= self.max_retries:
                    raise TransportError(f"{method} {url}: {exc}") from exc
                delay = self._backoff(attempt)
            else:
                if 200 <= status < 300:
                    return status, _json_object(status, payload)
                error = error_from_response(status, resp_headers, payload)
                if status not in _RETRYABLE_STATUSES or attempt >= self.max_retries:
                    raise error
                delay = self._backoff(attempt)
                if isinstance(error, RateLimitedError) and error.retry_after_s is not None:
                    delay = error.retry_after_s
            time.sleep(delay)
            attempt += 1

    def _send(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, dict(err.headers.items()), err.read()

    def _backoff(self, attempt: int) -> float:
        # Full jitter spreads retries from many merchants instead of synchronising them.
        return random.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2**attempt))


def _json_object(status: int, payload: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if not isinstance(parsed, dict):
        raise LoyaltyError(status, "Invalid response", "expected a JSON object from the platform")
    return parsed
