"""HTTP with keep-alive, timeouts, bounded retries, backoff with jitter and one idempotency key per call."""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

from partner_sdk._connections import ConnectionPool, Reply
from partner_sdk._version import __version__
from partner_sdk.errors import ConnectionFailed, RateLimited, UnexpectedAnswer, error_from_response

USER_AGENT = f"partner-sdk/{__version__}"
JSON_ACCEPT = "application/json, application/problem+json"
RETRYABLE_STATUSES = frozenset({429}) | frozenset(range(500, 600))
# Methods the platform treats as reads: sending one twice changes nothing.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}

Query = Mapping[str, str | int | bool | None]


class Transport:
    """Sends one logical call, retrying connection failures, 429 and 5xx.

    Every retry of a call reuses the same Idempotency-Key, so the platform
    records a retried mutation once and answers retries with the first answer.
    Calls go over keep-alive connections from one ``ConnectionPool``, which is
    safe to share between threads; ``close()`` closes them.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float,
        max_retries: int,
        backoff_base_s: float,
        backoff_cap_s: float,
        retry_after_max_s: float,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.retry_after_max_s = retry_after_max_s
        self._api_key = api_key
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._path_prefix = parts.path.rstrip("/")
        self.pool = ConnectionPool(
            parts.scheme, parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme], timeout_s=timeout_s
        )

    def close(self) -> None:
        """Close the keep-alive connections (calls in flight finish first)."""
        self.pool.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Send a JSON call; returns (status, JSON object) or raises a LoyaltyError."""
        data = json.dumps(body).encode() if body is not None else None
        status, payload = self.call(
            method,
            path,
            data=data,
            content_type="application/json" if data is not None else None,
            query=query,
            idempotency_key=idempotency_key,
        )
        if status == 204:
            return status, {}
        return status, json_object(status, payload)

    def call(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        content_type: str | None = None,
        accept: str = JSON_ACCEPT,
        query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[int, bytes]:
        """Send any body and accept any answer; returns (2xx status, raw body) or raises."""
        target = self._path_prefix + path
        if query:
            kept = {name: _query_value(value) for name, value in query.items() if value is not None}
            if kept:
                target += "?" + urllib.parse.urlencode(kept)
        url = self._origin + target
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": accept,
            "User-Agent": USER_AGENT,
        }
        if content_type is not None:
            headers["Content-Type"] = content_type
        if method != "GET":
            # One key for the whole logical call, generated before the first try.
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        # A resend on a fresh connection after a stale keep-alive one is safe only for these.
        resendable = method in SAFE_METHODS or "Idempotency-Key" in headers
        attempt = 0
        while True:
            try:
                status, response_headers, payload = self._send(method, target, data, headers, resendable)
            except (OSError, http.client.HTTPException) as failed:
                if attempt >= self.max_retries:
                    raise ConnectionFailed(f"{method} {url}: {failed}") from failed
                delay_s = self.backoff_s(attempt)
            else:
                if 200 <= status < 300:
                    return status, payload
                error = error_from_response(status, response_headers, payload)
                if status not in RETRYABLE_STATUSES or attempt >= self.max_retries:
                    raise error
                delay_s = self.backoff_s(attempt)
                if isinstance(error, RateLimited) and error.retry_after_s is not None:
                    if error.retry_after_s > self.retry_after_max_s:
                        raise error
                    delay_s = error.retry_after_s
            time.sleep(delay_s)
            attempt += 1

    def backoff_s(self, attempt: int) -> float:
        # Full jitter spreads the retries of many clients instead of synchronising them.
        return random.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2**attempt))

    def _send(self, method: str, target: str, data: bytes | None, headers: dict[str, str], resendable: bool) -> Reply:
        return self.pool.send(method, target, data, headers, resendable=resendable)


def json_object(status: int, payload: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if not isinstance(parsed, dict):
        raise UnexpectedAnswer("answer", "expected a JSON object from the platform", status=status)
    return parsed


def _query_value(value: str | int | bool) -> str:
    # Booleans as the platform parses them, not Python's "True".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
