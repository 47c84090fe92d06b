"""The merchant client: orders, refunds, members and webhook endpoints."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from partner_sdk._transport import Transport
from partner_sdk.pagination import Page, iterate_pages

__all__ = [
    "CreatedWebhookEndpoint",
    "Member",
    "MerchantClient",
    "OrderResult",
    "RefundResult",
    "WebhookAttempt",
    "WebhookEndpoint",
]


@dataclass(frozen=True)
class OrderResult:
    """An order as recorded by the platform; `replayed` is True for an idempotent replay."""

    order_id: str
    member_id: str
    amount_cents: int
    net_amount_cents: int
    currency: str
    points_earned: int
    points_net: int
    points_balance: int
    points_available: int
    replayed: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], replayed: bool = False) -> OrderResult:
        return cls(
            order_id=str(data["order_id"]),
            member_id=str(data["member_id"]),
            amount_cents=int(data["amount_cents"]),
            net_amount_cents=int(data["net_amount_cents"]),
            currency=str(data["currency"]),
            points_earned=int(data["points_earned"]),
            points_net=int(data["points_net"]),
            points_balance=int(data["points_balance"]),
            points_available=int(data["points_available"]),
            replayed=replayed,
            raw=data,
        )


@dataclass(frozen=True)
class RefundResult:
    """A refund as recorded by the platform; `replayed` is True for an idempotent replay."""

    refund_id: str
    order_id: str
    amount_cents: int
    order_net_amount_cents: int
    points_reversed: int
    points_to_debt: int
    points_balance: int
    replayed: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], replayed: bool = False) -> RefundResult:
        return cls(
            refund_id=str(data["refund_id"]),
            order_id=str(data["order_id"]),
            amount_cents=int(data["amount_cents"]),
            order_net_amount_cents=int(data["order_net_amount_cents"]),
            points_reversed=int(data["points_reversed"]),
            points_to_debt=int(data["points_to_debt"]),
            points_balance=int(data["points_balance"]),
            replayed=replayed,
            raw=data,
        )


@dataclass(frozen=True)
class Member:
    """A loyalty member and their point balances."""

    id: str
    email: str
    points_balance: int
    points_pending: int
    points_available: int
    points_debt: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Member:
        return cls(
            id=str(data["id"]),
            email=str(data["email"]),
            points_balance=int(data["points_balance"]),
            points_pending=int(data["points_pending"]),
            points_available=int(data["points_available"]),
            points_debt=int(data["points_debt"]),
            raw=data,
        )


@dataclass(frozen=True)
class WebhookEndpoint:
    """A URL the platform POSTs your chosen events to."""

    id: str
    url: str
    events: list[str]
    enabled: bool
    previous_secret_expires_at: str | None
    created_at: str
    updated_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebhookEndpoint:
        return cls(
            id=str(data["id"]),
            url=str(data["url"]),
            events=[str(e) for e in data["events"]],
            enabled=bool(data["enabled"]),
            previous_secret_expires_at=data.get("previous_secret_expires_at"),
            created_at=str(data["created_at"]),
            updated_at=str(data["updated_at"]),
            raw=data,
        )


@dataclass(frozen=True)
class CreatedWebhookEndpoint:
    """An endpoint with its signing secret: the only time the platform shows it."""

    endpoint: WebhookEndpoint
    secret: str = field(repr=False)


@dataclass(frozen=True)
class WebhookAttempt:
    """One logged POST of an event to an endpoint."""

    id: str
    event_id: str
    event_type: str
    number: int
    outcome: str
    started_at: str
    status_code: int | None
    duration_ms: int | None
    error: str | None
    next_attempt_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebhookAttempt:
        return cls(
            id=str(data["id"]),
            event_id=str(data["event_id"]),
            event_type=str(data["event_type"]),
            number=int(data["number"]),
            outcome=str(data["outcome"]),
            started_at=str(data["started_at"]),
            status_code=data.get("status_code"),
            duration_ms=data.get("duration_ms"),
            error=data.get("error"),
            next_attempt_at=data.get("next_attempt_at"),
            raw=data,
        )


def _quote(value: str) -> str:
    return urllib.parse.quote(str(value), safe="")


class MerchantClient:
    """Client for the merchant API, authenticated with the merchant's API key.

    Every call has a timeout (`timeout_s`, per try). Connection failures, 429
    and 5xx answers are retried up to `max_retries` times with exponential
    backoff and full jitter (a 429's Retry-After is honoured up to
    `retry_after_max_s`, beyond which `RateLimited` is raised at once). Retries
    of a mutation always send the same idempotency key: the order_id, the
    refund_id, or an `Idempotency-Key` generated once per call, so a retried
    call never counts twice. Other 4xx answers raise at once.
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
        retry_after_max_s: float = 60.0,
    ) -> None:
        self._http = Transport(
            base_url,
            api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            retry_after_max_s=retry_after_max_s,
        )

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def __repr__(self) -> str:
        return f"MerchantClient({self.base_url!r})"

    # Orders and refunds

    def record_order(
        self,
        order_id: str,
        amount_cents: int,
        member_email: str | None = None,
        currency: str = "EUR",
        *,
        click_token: str | None = None,
    ) -> OrderResult:
        """Record a purchase and earn points for the member; safe to call again.

        ``click_token`` is the affiliate click token from the visitor's cookie
        (see ``partner_sdk.click_capture``); it is sent only when given.
        """
        body: dict[str, Any] = {"order_id": order_id, "amount_cents": amount_cents, "currency": currency}
        if member_email is not None:
            body["member_email"] = member_email
        if click_token is not None:
            body["click_token"] = click_token
        status, data = self._http.request("POST", "/v1/orders", body=body, idempotency_key=order_id)
        return OrderResult.from_json(data, replayed=status == 200)

    def get_order(self, order_id: str) -> OrderResult:
        """One of your orders with its net amount and the points it still carries."""
        _, data = self._http.request("GET", f"/v1/orders/{_quote(order_id)}")
        return OrderResult.from_json(data)

    def refund(self, order_id: str, refund_id: str, amount_cents: int) -> RefundResult:
        """Refund part or all of an order, reversing its points; safe to call again."""
        body = {"refund_id": refund_id, "amount_cents": amount_cents}
        status, data = self._http.request(
            "POST", f"/v1/orders/{_quote(order_id)}/refunds", body=body, idempotency_key=refund_id
        )
        return RefundResult.from_json(data, replayed=status == 200)

    # Members

    def find_member(self, email: str) -> Member | None:
        """The member with this email and their balance, or None if they never ordered from you."""
        page = self.list_members(email=email, limit=1)
        return page.data[0] if page.data else None

    def list_members(
        self, *, email: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Member]:
        """One page of the members who ordered from you."""
        _, data = self._http.request("GET", "/v1/members", query={"email": email, "limit": limit, "cursor": cursor})
        return Page([Member.from_json(m) for m in data["data"]], data.get("next_cursor"))

    def iter_members(self, *, page_size: int | None = None) -> Iterator[Member]:
        """Every member who ordered from you, page after page."""
        return iterate_pages(lambda cursor: self.list_members(limit=page_size, cursor=cursor))

    # Webhook endpoints

    def create_webhook_endpoint(
        self, url: str, events: Sequence[str], *, enabled: bool = True
    ) -> CreatedWebhookEndpoint:
        """Register an endpoint; keep the returned `secret`, it is shown only once."""
        body = {"url": url, "events": list(events), "enabled": enabled}
        _, data = self._http.request("POST", "/v1/webhook-endpoints", body=body)
        return CreatedWebhookEndpoint(WebhookEndpoint.from_json(data), str(data["secret"]))

    def list_webhook_endpoints(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[WebhookEndpoint]:
        """One page of your endpoints, oldest first."""
        _, data = self._http.request("GET", "/v1/webhook-endpoints", query={"limit": limit, "cursor": cursor})
        return Page([WebhookEndpoint.from_json(e) for e in data["data"]], data.get("next_cursor"))

    def iter_webhook_endpoints(self, *, page_size: int | None = None) -> Iterator[WebhookEndpoint]:
        """Every endpoint of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_webhook_endpoints(limit=page_size, cursor=cursor))

    def get_webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        """One of your endpoints."""
        _, data = self._http.request("GET", f"/v1/webhook-endpoints/{_quote(endpoint_id)}")
        return WebhookEndpoint.from_json(data)

    def update_webhook_endpoint(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        """Change an endpoint's URL or events, or enable/disable it (only what is given)."""
        body: dict[str, Any] = {}
        if url is not None:
            body["url"] = url
        if events is not None:
            body["events"] = list(events)
        if enabled is not None:
            body["enabled"] = enabled
        _, data = self._http.request("PATCH", f"/v1/webhook-endpoints/{_quote(endpoint_id)}", body=body)
        return WebhookEndpoint.from_json(data)

    def rotate_webhook_secret(self, endpoint_id: str) -> CreatedWebhookEndpoint:
        """A new signing secret (shown once); the previous one also signs for 24 hours."""
        _, data = self._http.request("POST", f"/v1/webhook-endpoints/{_quote(endpoint_id)}/rotate-secret")
        return CreatedWebhookEndpoint(WebhookEndpoint.from_json(data), str(data["secret"]))

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        """Delete an endpoint with its pending deliveries and attempt log."""
        self._http.request("DELETE", f"/v1/webhook-endpoints/{_quote(endpoint_id)}")

    def list_webhook_attempts(
        self, endpoint_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[WebhookAttempt]:
        """One page of the delivery attempts to an endpoint, oldest first."""
        _, data = self._http.request(
            "GET",
            f"/v1/webhook-endpoints/{_quote(endpoint_id)}/attempts",
            query={"limit": limit, "cursor": cursor},
        )
        return Page([WebhookAttempt.from_json(a) for a in data["data"]], data.get("next_cursor"))

    def iter_webhook_attempts(self, endpoint_id: str, *, page_size: int | None = None) -> Iterator[WebhookAttempt]:
        """Every delivery attempt to an endpoint, page after page."""
        return iterate_pages(
            lambda cursor: self.list_webhook_attempts(endpoint_id, limit=page_size, cursor=cursor)
        )
