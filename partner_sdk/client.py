"""The merchant client: orders, refunds, members, commissions, programs, boutique and webhooks."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, NotRequired, Self, TypedDict

from partner_sdk._transport import Transport
from partner_sdk.models import (
    Application,
    AttributionError,
    CatalogItem,
    CodesAdded,
    Commission,
    CommissionBrief,
    CreatedCatalogItem,
    Lead,
    Program,
    Redemption,
    Statement,
    VoucherRedemption,
)
from partner_sdk.pagination import Page, iterate_pages

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


class CommissionRule(TypedDict):
    """How a program pays: ``{"type": "percent", "basis_points": 800}`` or ``{"type": "fixed", "amount_cents": 500}``."""

    type: Literal["percent", "fixed"]
    basis_points: NotRequired[int]
    amount_cents: NotRequired[int]


class BulkDecision(TypedDict):
    """One line of a bulk decision: approve, or reject with a reason."""

    id: int | str
    action: Literal["approve", "reject"]
    reason: NotRequired[str]


@dataclass(frozen=True)
class OrderResult:
    """An order as recorded by the platform; `replayed` is True for an idempotent replay.

    `commission` is the affiliate commission the order's click token earned,
    None without a token or when it earned nothing (`attribution_error` says why).
    """

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
    commission: CommissionBrief | None = None
    attribution_error: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any], replayed: bool = False) -> OrderResult:
        brief = data.get("commission")
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
            commission=CommissionBrief.from_json(brief) if brief else None,
            attribution_error=data.get("attribution_error"),
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


class _Client:
    """What both clients share: the transport, and webhook endpoint management.

    Every call has a timeout (`timeout_s`, per try). Connection failures, 429
    and 5xx answers are retried up to `max_retries` times with exponential
    backoff and full jitter (a 429's Retry-After is honoured up to
    `retry_after_max_s`, beyond which `RateLimited` is raised at once). Retries
    of a mutation always send the same idempotency key: the order_id, the
    refund_id, or an `Idempotency-Key` generated once per call, so a retried
    call never counts twice. Other 4xx answers raise at once.

    Connections are kept alive and reused between calls. A client is safe to
    share between threads: each call borrows its own connection from the
    client's pool. Call `close()` when done, or use the client as a context
    manager (``with MerchantClient(...) as client:``).
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
        return f"{type(self).__name__}({self.base_url!r})"

    def close(self) -> None:
        """Close the client's keep-alive connections; the client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # Webhook endpoints

    def list_event_types(self) -> list[str]:
        """The event types your key may subscribe to (affiliates: commission.* only)."""
        _, data = self._http.request("GET", "/v1/webhook-endpoints/event-types")
        return [str(event) for event in data["events"]]

    def create_webhook_endpoint(
        self, url: str, events: Sequence[str], *, enabled: bool = True
    ) -> CreatedWebhookEndpoint:
        """Register an endpoint; keep the returned `secret`, it is shown only once."""
        body = {"url": url, "events": list(events), "enabled": enabled}
        _, data = self._http.request("POST", "/v1/webhook-endpoints", body=body)
        return CreatedWebhookEndpoint(WebhookEndpoint.from_json(data), str(data["secret"]))

    def list_webhook_endpoints(self, *, limit: int | None = None, cursor: str | None = None) -> Page[WebhookEndpoint]:
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
        return iterate_pages(lambda cursor: self.list_webhook_attempts(endpoint_id, limit=page_size, cursor=cursor))


class MerchantClient(_Client):
    """Client for the merchant API, authenticated with the merchant's API key.

    Every call has a timeout (`timeout_s`, per try). Connection failures, 429
    and 5xx answers are retried up to `max_retries` times with exponential
    backoff and full jitter (a 429's Retry-After is honoured up to
    `retry_after_max_s`, beyond which `RateLimited` is raised at once). Retries
    of a mutation always send the same idempotency key: the order_id, the
    refund_id, the lead_id, or an `Idempotency-Key` generated once per call,
    so a retried call never counts twice. Other 4xx answers raise at once.
    Connections are kept alive; the client is thread-safe; `close()` it or
    use it in a ``with``.
    """

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

    # Leads and commissions

    def record_lead(self, lead_id: str, click_token: str) -> Lead:
        """Report a lead (sign-up, quote request) with the visitor's click token; safe to call again."""
        body = {"lead_id": lead_id, "click_token": click_token}
        status, data = self._http.request("POST", "/v1/leads", body=body, idempotency_key=lead_id)
        return Lead.from_answer(data, replayed=status == 200)

    def list_commissions(
        self,
        *,
        status: str | None = None,
        program_id: int | str | None = None,
        suspicious: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Commission]:
        """One page of the commissions on your orders and leads (filter by status, program, suspicious)."""
        query = {
            "status": status,
            "program_id": None if program_id is None else str(program_id),
            "suspicious": suspicious,
            "limit": limit,
            "cursor": cursor,
        }
        _, data = self._http.request("GET", "/v1/commissions", query=query)
        return Page([Commission.from_json(c) for c in data["data"]], data.get("next_cursor"))

    def iter_commissions(
        self,
        *,
        status: str | None = None,
        program_id: int | str | None = None,
        suspicious: bool | None = None,
        page_size: int | None = None,
    ) -> Iterator[Commission]:
        """Every commission matching the filters, page after page."""
        return iterate_pages(
            lambda cursor: self.list_commissions(
                status=status, program_id=program_id, suspicious=suspicious, limit=page_size, cursor=cursor
            )
        )

    def get_commission(self, commission_id: int | str) -> Commission:
        """One commission on your orders or leads."""
        _, data = self._http.request("GET", f"/v1/commissions/{_quote(str(commission_id))}")
        return Commission.from_json(data)

    def approve_commission(self, commission_id: int | str) -> Commission:
        """Approve a pending commission: it becomes owed to the affiliate."""
        _, data = self._http.request("POST", f"/v1/commissions/{_quote(str(commission_id))}/approve")
        return Commission.from_json(data)

    def reject_commission(self, commission_id: int | str, reason: str) -> Commission:
        """Reject a pending commission with a reason the affiliate sees."""
        _, data = self._http.request(
            "POST", f"/v1/commissions/{_quote(str(commission_id))}/reject", body={"reason": reason}
        )
        return Commission.from_json(data)

    def bulk_decide_commissions(self, decisions: Sequence[BulkDecision]) -> list[Commission]:
        """Approve or reject many pending commissions at once: all or nothing."""
        items = [{**decision, "id": int(decision["id"])} for decision in decisions]
        _, data = self._http.request("POST", "/v1/commissions/bulk", body={"items": items})
        return [Commission.from_json(c) for c in data["data"]]

    def bulk_decide_commissions_csv(self, csv_text: str) -> list[Commission]:
        """Upload decisions as CSV lines ``id,action,reason`` (header optional): all or nothing."""
        _, payload = self._http.call(
            "POST", "/v1/commissions/bulk", data=csv_text.encode("utf-8"), content_type="text/csv; charset=utf-8"
        )
        data = _json_object(payload)
        return [Commission.from_json(c) for c in data["data"]]

    def list_attribution_errors(
        self, *, code: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[AttributionError]:
        """One page of click tokens sent with your orders and leads that earned nothing, and why."""
        _, data = self._http.request(
            "GET", "/v1/attribution-errors", query={"code": code, "limit": limit, "cursor": cursor}
        )
        return Page([AttributionError.from_json(e) for e in data["data"]], data.get("next_cursor"))

    def iter_attribution_errors(
        self, *, code: str | None = None, page_size: int | None = None
    ) -> Iterator[AttributionError]:
        """Every attribution error (optionally of one code), page after page."""
        return iterate_pages(lambda cursor: self.list_attribution_errors(code=code, limit=page_size, cursor=cursor))

    # Affiliate programs

    def create_program(
        self,
        name: str,
        commission: CommissionRule,
        *,
        network_fee_bps: int | None = None,
        hold_days: int | None = None,
        attribution_window_days: int | None = None,
        auto_approve_affiliates: bool | None = None,
        lead_amount_cents: int | None = None,
        cap_cents: int | None = None,
    ) -> Program:
        """Open an affiliate program (omitted options take the platform's defaults)."""
        body = _given(
            name=name,
            commission=dict(commission),
            network_fee_bps=network_fee_bps,
            hold_days=hold_days,
            attribution_window_days=attribution_window_days,
            auto_approve_affiliates=auto_approve_affiliates,
            lead_amount_cents=lead_amount_cents,
            cap_cents=cap_cents,
        )
        _, data = self._http.request("POST", "/v1/programs", body=body)
        return Program.from_json(data)

    def list_programs(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Program]:
        """One page of your programs."""
        _, data = self._http.request("GET", "/v1/programs", query={"limit": limit, "cursor": cursor})
        return Page([Program.from_json(p) for p in data["data"]], data.get("next_cursor"))

    def iter_programs(self, *, page_size: int | None = None) -> Iterator[Program]:
        """Every program of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_programs(limit=page_size, cursor=cursor))

    def get_program(self, program_id: int | str) -> Program:
        """One of your programs."""
        _, data = self._http.request("GET", f"/v1/programs/{_quote(str(program_id))}")
        return Program.from_json(data)

    def update_program(
        self,
        program_id: int | str,
        *,
        name: str | None = None,
        active: bool | None = None,
        hold_days: int | None = None,
        attribution_window_days: int | None = None,
        auto_approve_affiliates: bool | None = None,
    ) -> Program:
        """Change a program (only what is given); ``active=False`` pauses it."""
        body = _given(
            name=name,
            active=active,
            hold_days=hold_days,
            attribution_window_days=attribution_window_days,
            auto_approve_affiliates=auto_approve_affiliates,
        )
        _, data = self._http.request("PATCH", f"/v1/programs/{_quote(str(program_id))}", body=body)
        return Program.from_json(data)

    def pause_program(self, program_id: int | str) -> Program:
        """Pause a program: its links stop earning until it is resumed."""
        return self.update_program(program_id, active=False)

    def resume_program(self, program_id: int | str) -> Program:
        """Resume a paused program."""
        return self.update_program(program_id, active=True)

    def list_program_applications(
        self,
        program_id: int | str,
        *,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Application]:
        """One page of a program's applications (pending, approved, refused)."""
        _, data = self._http.request(
            "GET",
            f"/v1/programs/{_quote(str(program_id))}/applications",
            query={"status": status, "limit": limit, "cursor": cursor},
        )
        return Page([Application.from_json(a) for a in data["data"]], data.get("next_cursor"))

    def iter_program_applications(
        self, program_id: int | str, *, status: str | None = None, page_size: int | None = None
    ) -> Iterator[Application]:
        """Every application to a program, page after page."""
        return iterate_pages(
            lambda cursor: self.list_program_applications(program_id, status=status, limit=page_size, cursor=cursor)
        )

    def approve_application(self, program_id: int | str, application_id: int | str) -> Application:
        """Let an affiliate into a program: it may then create links."""
        return self._decide_application(program_id, application_id, "approved")

    def refuse_application(self, program_id: int | str, application_id: int | str) -> Application:
        """Refuse an affiliate's application."""
        return self._decide_application(program_id, application_id, "refused")

    def _decide_application(self, program_id: int | str, application_id: int | str, status: str) -> Application:
        path = f"/v1/programs/{_quote(str(program_id))}/applications/{_quote(str(application_id))}"
        _, data = self._http.request("PATCH", path, body={"status": status})
        return Application.from_json(data)

    # Boutique: catalog items you supply

    def create_catalog_item(
        self,
        kind: Literal["physical", "voucher"],
        title: str,
        category: str,
        points_price: int,
        wholesale_value_cents: int,
        *,
        description: str | None = None,
        image_url: str | None = None,
        stock: int | None = None,
        active_from: str | None = None,
        active_until: str | None = None,
        voucher_codes: Sequence[str] | None = None,
        generate_codes: int | None = None,
    ) -> CreatedCatalogItem:
        """Supply a reward: physical goods with a `stock`, or vouchers with codes (uploaded or generated)."""
        body = _given(
            kind=kind,
            title=title,
            category=category,
            points_price=points_price,
            wholesale_value_cents=wholesale_value_cents,
            description=description,
            image_url=image_url,
            stock=stock,
            active_from=active_from,
            active_until=active_until,
            voucher_codes=None if voucher_codes is None else list(voucher_codes),
            generate_codes=generate_codes,
        )
        _, data = self._http.request("POST", "/v1/catalog/items", body=body)
        return CreatedCatalogItem(CatalogItem.from_json(data), [str(c) for c in data.get("generated_codes") or []])

    def update_catalog_item(
        self,
        item_id: int | str,
        *,
        title: str | None = None,
        description: str | None = None,
        category: str | None = None,
        image_url: str | None = None,
        points_price: int | None = None,
        wholesale_value_cents: int | None = None,
        stock: int | None = None,
        active: bool | None = None,
        active_from: str | None = None,
        active_until: str | None = None,
    ) -> CatalogItem:
        """Change an item (only what is given): texts, prices, stock (physical), active window or `active`."""
        body = _given(
            title=title,
            description=description,
            category=category,
            image_url=image_url,
            points_price=points_price,
            wholesale_value_cents=wholesale_value_cents,
            stock=stock,
            active=active,
            active_from=active_from,
            active_until=active_until,
        )
        _, data = self._http.request("PATCH", f"/v1/catalog/items/{_quote(str(item_id))}", body=body)
        return CatalogItem.from_json(data)

    def list_catalog_items(
        self, *, active: bool | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[CatalogItem]:
        """One page of your catalog items, oldest first (optionally only active or inactive ones)."""
        _, data = self._http.request(
            "GET", "/v1/catalog/items", query={"active": active, "limit": limit, "cursor": cursor}
        )
        return Page([CatalogItem.from_json(i) for i in data["data"]], data.get("next_cursor"))

    def iter_catalog_items(self, *, active: bool | None = None, page_size: int | None = None) -> Iterator[CatalogItem]:
        """Every catalog item of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_catalog_items(active=active, limit=page_size, cursor=cursor))

    def get_catalog_item(self, item_id: int | str) -> CatalogItem:
        """One of your catalog items."""
        _, data = self._http.request("GET", f"/v1/catalog/items/{_quote(str(item_id))}")
        return CatalogItem.from_json(data)

    def deactivate_catalog_item(self, item_id: int | str) -> CatalogItem:
        """Withdraw an item from the boutique (placed redemptions stay yours to fulfil)."""
        _, data = self._http.request("POST", f"/v1/catalog/items/{_quote(str(item_id))}/deactivate")
        return CatalogItem.from_json(data)

    def add_voucher_codes(
        self, item_id: int | str, codes: Sequence[str] | None = None, *, generate: int | None = None
    ) -> CodesAdded:
        """Add voucher codes to a voucher item, uploaded (`codes`) or generated (`generate`)."""
        body = _given(voucher_codes=None if codes is None else list(codes), generate_codes=generate)
        _, data = self._http.request("POST", f"/v1/catalog/items/{_quote(str(item_id))}/codes", body=body)
        return CodesAdded.from_json({**data, "generated_codes": [str(c) for c in data.get("generated_codes") or []]})

    # Boutique: redemptions of your rewards

    def list_redemptions(
        self, *, status: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Redemption]:
        """One page of the redemptions of your rewards, oldest first (optionally of one status)."""
        _, data = self._http.request(
            "GET", "/v1/redemptions", query={"status": status, "limit": limit, "cursor": cursor}
        )
        return Page([Redemption.from_json(r) for r in data["data"]], data.get("next_cursor"))

    def iter_redemptions(self, *, status: str | None = None, page_size: int | None = None) -> Iterator[Redemption]:
        """Every redemption of your rewards, page after page."""
        return iterate_pages(lambda cursor: self.list_redemptions(status=status, limit=page_size, cursor=cursor))

    def get_redemption(self, redemption_id: int | str) -> Redemption:
        """One redemption of your rewards."""
        _, data = self._http.request("GET", f"/v1/redemptions/{_quote(str(redemption_id))}")
        return Redemption.from_json(data)

    def fulfil_redemption(self, redemption_id: int | str, tracking_reference: str | None = None) -> Redemption:
        """Mark a placed redemption as sent: the member's points are spent."""
        body = _given(tracking_reference=tracking_reference)
        _, data = self._http.request("POST", f"/v1/redemptions/{_quote(str(redemption_id))}/fulfil", body=body)
        return Redemption.from_json(data)

    def cancel_redemption(self, redemption_id: int | str, reason: str) -> Redemption:
        """Cancel a placed redemption with a reason shown to the member: the points come back."""
        _, data = self._http.request(
            "POST", f"/v1/redemptions/{_quote(str(redemption_id))}/cancel", body={"reason": reason}
        )
        return Redemption.from_json(data)

    def redeem_voucher(self, code: str) -> VoucherRedemption:
        """Accept a voucher code at your checkout; a code is accepted once (then Conflict)."""
        _, data = self._http.request("POST", f"/v1/vouchers/{_quote(code)}/redeem")
        return VoucherRedemption.from_json(data)

    # Statements

    def list_statements(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Statement]:
        """One page of your statements (what you owe and are owed per period), oldest first."""
        _, data = self._http.request("GET", "/v1/statements", query={"limit": limit, "cursor": cursor})
        return Page([Statement.from_json(s) for s in data["data"]], data.get("next_cursor"))

    def iter_statements(self, *, page_size: int | None = None) -> Iterator[Statement]:
        """Every statement of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_statements(limit=page_size, cursor=cursor))

    def get_statement(self, statement_id: int | str) -> Statement:
        """One of your statements."""
        _, data = self._http.request("GET", f"/v1/statements/{_quote(str(statement_id))}")
        return Statement.from_json(data)


def _given(**values: Any) -> dict[str, Any]:
    """The body of a call: only the arguments that were given."""
    return {name: value for name, value in values.items() if value is not None}


def _json_object(payload: bytes) -> dict[str, Any]:
    parsed = json.loads(payload)
    if not isinstance(parsed, dict):
        raise ValueError("expected a JSON object from the platform")
    return parsed
