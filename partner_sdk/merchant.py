"""The merchant client: orders, refunds, members, leads, commissions and statements.

Programs and the boutique are in ``partner_sdk._merchant_programs`` and
``partner_sdk._merchant_boutique``; ``MerchantClient`` has them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal, NotRequired, TypedDict

from partner_sdk._client import list_of, quote
from partner_sdk._merchant_audience import AudienceCalls
from partner_sdk._merchant_batch import BatchCalls
from partner_sdk._merchant_boutique import BoutiqueCalls
from partner_sdk._merchant_campaigns import CampaignCalls
from partner_sdk._merchant_contests import ContestCalls
from partner_sdk._merchant_programs import ProgramCalls
from partner_sdk._transport import json_object
from partner_sdk.answers import (
    AttributionError,
    Commission,
    Lead,
    Member,
    OrderPreview,
    OrderResult,
    RefundResult,
    Statement,
)
from partner_sdk.pagination import Page, iterate_pages

__all__ = ["BulkDecision", "MerchantClient", "OrderLine"]


class OrderLine(TypedDict):
    """A line of an order: its category decides the rate it earns at."""

    sku: str
    category: str
    quantity: int
    amount_cents: int


class BulkDecision(TypedDict):
    """One line of a bulk decision: approve, or reject with a reason."""

    id: int | str
    action: Literal["approve", "reject"]
    reason: NotRequired[str]


class MerchantClient(ProgramCalls, BoutiqueCalls, CampaignCalls, BatchCalls, ContestCalls, AudienceCalls):
    """Client for the merchant API, authenticated with the merchant's API key.

    Every call has a timeout (`timeout_s`, per try). Connection failures, 429
    and 5xx answers are retried up to `max_retries` times with exponential
    backoff and full jitter (a 429's Retry-After is honoured up to
    `retry_after_max_s`, beyond which `RateLimited` is raised at once). Retries
    of a mutation always send the same idempotency key: the order_id, the
    refund_id, the lead_id, or an `Idempotency-Key` generated once per call,
    so a retried call never counts twice. Other 4xx answers raise at once.

    Every create answers with `replayed`: True when the platform answered
    with the stored answer of an earlier identical call. Connections are kept
    alive; the client is thread-safe; `close()` it or use it in a ``with``.
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
        lines: Sequence[OrderLine] | None = None,
    ) -> OrderResult:
        """Record a purchase and earn points for the member; safe to call again (then `replayed` is True).

        ``click_token`` is the affiliate click token from the visitor's cookie
        (see ``partner_sdk.click_capture``); it is sent only when given.
        ``lines`` (their amounts summing to ``amount_cents``) let categories
        earn at their own rate, or nothing for excluded ones.
        """
        body = _order_body(order_id, amount_cents, member_email, currency, click_token, lines)
        return self._create(OrderResult, "/v1/orders", body=body, idempotency_key=order_id)

    def preview_order(
        self,
        amount_cents: int,
        member_email: str,
        currency: str = "EUR",
        *,
        lines: Sequence[OrderLine] | None = None,
    ) -> OrderPreview:
        """What an order would earn now and why (groups, bonuses), without recording anything: show it at checkout."""
        body = _order_body(None, amount_cents, member_email, currency, None, lines)
        return self._one(OrderPreview, "POST", "/v1/orders/preview", body=body)

    def confirm_order(self, order_id: str) -> OrderResult:
        """No return is coming: the order's incoming points become available now. Safe to repeat."""
        return self._one(OrderResult, "POST", f"/v1/orders/{quote(order_id)}/confirm")

    def get_order(self, order_id: str) -> OrderResult:
        """One of your orders with its net amount and the points it still carries."""
        return self._one(OrderResult, "GET", f"/v1/orders/{quote(order_id)}")

    def refund(self, order_id: str, refund_id: str, amount_cents: int) -> RefundResult:
        """Refund part or all of an order, reversing its points; safe to call again (then `replayed` is True)."""
        body = {"refund_id": refund_id, "amount_cents": amount_cents}
        return self._create(RefundResult, f"/v1/orders/{quote(order_id)}/refunds", body=body, idempotency_key=refund_id)

    # Members

    def find_member(self, email: str) -> Member | None:
        """The member with this email and their balance, or None if they never ordered from you."""
        page = self.list_members(email=email, limit=1)
        return page.data[0] if page.data else None

    def list_members(
        self, *, email: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Member]:
        """One page of the members who ordered from you."""
        return self._page(Member, "/v1/members", {"email": email, "limit": limit, "cursor": cursor})

    def iter_members(self, *, page_size: int | None = None) -> Iterator[Member]:
        """Every member who ordered from you, page after page."""
        return iterate_pages(lambda cursor: self.list_members(limit=page_size, cursor=cursor))

    # Leads and commissions

    def record_lead(self, lead_id: str, click_token: str) -> Lead:
        """Report a lead (sign-up, quote request) with the visitor's click token; safe to call again."""
        body = {"lead_id": lead_id, "click_token": click_token}
        return self._create(Lead, "/v1/leads", body=body, idempotency_key=lead_id)

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
        return self._page(Commission, "/v1/commissions", query)

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
        return self._one(Commission, "GET", f"/v1/commissions/{quote(commission_id)}")

    def approve_commission(self, commission_id: int | str) -> Commission:
        """Approve a pending commission: it becomes owed to the affiliate."""
        return self._one(Commission, "POST", f"/v1/commissions/{quote(commission_id)}/approve")

    def reject_commission(self, commission_id: int | str, reason: str) -> Commission:
        """Reject a pending commission with a reason the affiliate sees."""
        path = f"/v1/commissions/{quote(commission_id)}/reject"
        return self._one(Commission, "POST", path, body={"reason": reason})

    def bulk_decide_commissions(self, decisions: Sequence[BulkDecision]) -> list[Commission]:
        """Approve or reject many pending commissions at once: all or nothing."""
        items = [{**decision, "id": int(decision["id"])} for decision in decisions]
        status, data = self._http.request("POST", "/v1/commissions/bulk", body={"items": items})
        return list_of(Commission, data, status, "BulkResult")

    def bulk_decide_commissions_csv(self, csv_text: str) -> list[Commission]:
        """Upload decisions as CSV lines ``id,action,reason`` (header optional): all or nothing."""
        status, payload = self._http.call(
            "POST", "/v1/commissions/bulk", data=csv_text.encode("utf-8"), content_type="text/csv; charset=utf-8"
        )
        return list_of(Commission, json_object(status, payload), status, "BulkResult")

    def list_attribution_errors(
        self, *, code: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[AttributionError]:
        """One page of click tokens sent with your orders and leads that earned nothing, and why."""
        return self._page(AttributionError, "/v1/attribution-errors", {"code": code, "limit": limit, "cursor": cursor})

    def iter_attribution_errors(
        self, *, code: str | None = None, page_size: int | None = None
    ) -> Iterator[AttributionError]:
        """Every attribution error (optionally of one code), page after page."""
        return iterate_pages(lambda cursor: self.list_attribution_errors(code=code, limit=page_size, cursor=cursor))

    # Statements

    def list_statements(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Statement]:
        """One page of your statements (what you owe and are owed per period), oldest first."""
        return self._page(Statement, "/v1/statements", {"limit": limit, "cursor": cursor})

    def iter_statements(self, *, page_size: int | None = None) -> Iterator[Statement]:
        """Every statement of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_statements(limit=page_size, cursor=cursor))

    def get_statement(self, statement_id: int | str) -> Statement:
        """One of your statements."""
        return self._one(Statement, "GET", f"/v1/statements/{quote(statement_id)}")

    def statement_csv(self, statement_id: int | str) -> str:
        """One of your statements as CSV: a header line, then one row per ledger entry and
        category (`statement_id,currency,category,entry_id,entry_kind,created_at,amount_cents`);
        the rows of a currency and category sum to the line's `<category>_cents`."""
        _, payload = self._http.call("GET", f"/v1/statements/{quote(statement_id)}", accept="text/csv")
        return payload.decode("utf-8")


def _order_body(
    order_id: str | None,
    amount_cents: int,
    member_email: str | None,
    currency: str,
    click_token: str | None,
    lines: Sequence[OrderLine] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"amount_cents": amount_cents, "currency": currency}
    optional = {"order_id": order_id, "member_email": member_email, "click_token": click_token}
    body.update({name: value for name, value in optional.items() if value is not None})
    if lines is not None:
        body["lines"] = [dict(line) for line in lines]
    return body
