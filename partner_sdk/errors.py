"""Exceptions raised by the partner SDK, built from RFC 9457 problem+json bodies."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

__all__ = [
    "AuthenticationError",
    "Conflict",
    "ConflictError",
    "ConnectionFailed",
    "LoyaltyError",
    "NotFound",
    "NotFoundError",
    "ProofError",
    "RateLimited",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "UnexpectedAnswer",
    "ValidationError",
    "WebhookSignatureError",
    "error_from_response",
    "parse_retry_after",
]


class LoyaltyError(Exception):
    """Base class for every error the SDK raises."""

    status: int
    title: str
    detail: str
    problem: dict[str, Any]

    def __init__(self, status: int, title: str, detail: str = "", problem: dict[str, Any] | None = None) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.problem = problem if problem is not None else {}
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")


class AuthenticationError(LoyaltyError):
    """The API key is missing, wrong or not allowed to do this (401/403)."""


class NotFound(LoyaltyError):
    """The order, refund, member or endpoint does not exist, or is not yours (404)."""


class Conflict(LoyaltyError):
    """An idempotency key was reused with a different body (409)."""


class ValidationError(LoyaltyError):
    """The request was rejected as invalid (400/422); see `errors`."""

    errors: dict[str, list[str]]

    def __init__(self, status: int, title: str, detail: str = "", problem: dict[str, Any] | None = None) -> None:
        super().__init__(status, title, detail, problem)
        self.errors = _field_errors(self.problem.get("errors"))


class RateLimited(LoyaltyError):
    """Too many requests (429); `retry_after_s` comes from the Retry-After header."""

    retry_after_s: float | None

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        problem: dict[str, Any] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(status, title, detail, problem)
        self.retry_after_s = retry_after_s


class ServerError(LoyaltyError):
    """The platform failed (5xx)."""


class ConnectionFailed(LoyaltyError):
    """The platform could not be reached or did not answer in time, even after retries (status 0)."""

    def __init__(self, detail: str) -> None:
        super().__init__(0, "Connection failed", detail)


class UnexpectedAnswer(LoyaltyError):
    """A 2xx answer the SDK cannot read: not JSON, or a field missing or of the wrong type.

    `field` names it the way the SDK does (``OrderResult.points_earned``,
    ``Report.rows[0].clicks``); the platform and the SDK disagree on the
    contract, so the answer is refused rather than guessed at.
    """

    field: str

    def __init__(self, field: str, reason: str, *, status: int = 0) -> None:
        super().__init__(status, "Unexpected answer", f"{field}: {reason}")
        self.field = field


class WebhookSignatureError(ValueError):
    """A webhook delivery failed verification: bad signature, malformed header or stale timestamp."""


class ProofError(ValueError):
    """A transparency-log value the SDK cannot compute with: malformed hex or base64, or a proof that does not fit.

    Raised by the functions of ``partner_sdk.transparency`` that compute a
    hash or decode an entry; its ``verify_*`` functions answer False instead.
    """


# The names of the first release, kept so existing integrations keep working.
NotFoundError = NotFound
ConflictError = Conflict
RateLimitedError = RateLimited
TransportError = ConnectionFailed


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> LoyaltyError:
    """Build the exception matching an HTTP error response; non-JSON bodies are tolerated."""
    problem = _parse_problem(body)
    title = _text(problem.get("title")) or _reason(status)
    detail = _text(problem.get("detail")) or ("" if problem else body.decode("utf-8", "replace").strip()[:500])
    if status in (401, 403):
        return AuthenticationError(status, title, detail, problem)
    if status == 404:
        return NotFound(status, title, detail, problem)
    if status == 409:
        return Conflict(status, title, detail, problem)
    if status in (400, 422):
        return ValidationError(status, title, detail, problem)
    if status == 429:
        retry_after = parse_retry_after(_header(headers, "Retry-After"))
        return RateLimited(status, title, detail, problem, retry_after)
    if status >= 500:
        return ServerError(status, title, detail, problem)
    return LoyaltyError(status, title, detail, problem)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _parse_problem(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


_LOCATIONS = frozenset({"json", "query", "form", "headers", "cookies", "path", "files"})


def _field_errors(raw: object) -> dict[str, list[str]]:
    # Some servers wrap field errors by request location ({"json": {"field": [...]}}):
    # unwrap those. Errors inside a field (a list item, a nested object) stay
    # under the top-level field name, with their path in the message.
    if not isinstance(raw, dict):
        return {}
    out: dict[str, list[str]] = {}
    for name, messages in raw.items():
        if name in _LOCATIONS and isinstance(messages, dict):
            for field, nested in _field_errors(messages).items():
                out.setdefault(field, []).extend(nested)
        else:
            out.setdefault(str(name), []).extend(_messages(messages, ""))
    return out


def _messages(raw: object, path: str) -> list[str]:
    prefix = f"{path}: " if path else ""
    if isinstance(raw, dict):
        found: list[str] = []
        for key, nested in raw.items():
            found.extend(_messages(nested, f"{path}.{key}" if path else str(key)))
        return found
    if isinstance(raw, list):
        found = []
        for item in raw:
            found.extend(_messages(item, path) if isinstance(item, (dict, list)) else [prefix + str(item)])
        return found
    return [prefix + str(raw)]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
