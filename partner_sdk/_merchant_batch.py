"""Many orders in few calls: ``POST /v1/orders/batch`` (part of ``MerchantClient``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from partner_sdk._build import build
from partner_sdk._client import Client
from partner_sdk.answers import OrderResult
from partner_sdk.errors import LoyaltyError, UnexpectedAnswer, error_from_response

__all__ = ["BATCH_ORDERS_MAX", "BatchOrder", "BatchResult", "BatchCalls"]

# The platform's limit per call; record_orders splits longer lists.
BATCH_ORDERS_MAX = 500


class BatchOrder(TypedDict):
    """One order of ``record_orders``: the body of ``record_order`` (``lines`` as there)."""

    order_id: str
    amount_cents: int
    member_email: str
    currency: NotRequired[str]
    click_token: NotRequired[str]
    lines: NotRequired[Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class BatchResult:
    """What the platform answered for one order of a batch, as a single call would.

    ``status`` is 201 (recorded), 200 (a replay: ``order.replayed`` is True), 409
    (its ``order_id`` was recorded with another body) or 422 (invalid). ``order``
    is the recorded order for 201 and 200; ``error`` the ``Conflict`` or
    ``ValidationError`` a single ``record_order`` would have raised otherwise.
    """

    order_id: str | None
    status: int
    order: OrderResult | None
    error: LoyaltyError | None

    @property
    def ok(self) -> bool:
        return self.order is not None


class BatchCalls(Client):
    """Orders sent in batches: one call per ``batch_size`` orders."""

    def record_orders(self, orders: Sequence[BatchOrder], *, batch_size: int = BATCH_ORDERS_MAX) -> list[BatchResult]:
        """Record many orders, ``batch_size`` (at most 500) per call; one result per order, in order.

        Each order is idempotent on its own ``order_id``, exactly as with
        ``record_order``: a batch retried (by the client's retries, or by you
        after a failure) answers the orders already recorded as replays. An
        invalid or conflicting order does not stop the others: it comes back
        with its ``error``. A failure of a whole call (authentication, the
        network after the retries) raises, and the orders of the calls before
        it stay recorded.
        """
        if not 1 <= batch_size <= BATCH_ORDERS_MAX:
            raise ValueError(f"batch_size must be 1 to {BATCH_ORDERS_MAX}, not {batch_size}")
        results: list[BatchResult] = []
        for start in range(0, len(orders), batch_size):
            chunk = [_body(order) for order in orders[start : start + batch_size]]
            status, data = self._http.request("POST", "/v1/orders/batch", body={"orders": chunk})
            answered = data.get("results")
            if not isinstance(answered, list) or len(answered) != len(chunk):
                raise UnexpectedAnswer("BatchResults.results", f"expected {len(chunk)} results", status=status)
            results += [_result(item, status) for item in answered]
        return results


def _body(order: BatchOrder) -> dict[str, Any]:
    body: dict[str, Any] = {"currency": "EUR", **order}
    if "lines" in body:
        body["lines"] = [dict(line) for line in body["lines"]]
    return body


def _result(item: object, http_status: int) -> BatchResult:
    if not isinstance(item, dict):
        raise UnexpectedAnswer("BatchResult", "expected a JSON object", status=http_status)
    status, body, order_id = item.get("status"), item.get("body"), item.get("order_id")
    if not isinstance(status, int) or not isinstance(body, dict):
        raise UnexpectedAnswer("BatchResult.status", "expected a status and a body", status=http_status)
    if order_id is not None and not isinstance(order_id, str):
        raise UnexpectedAnswer("BatchResult.order_id", "expected a string or null", status=http_status)
    if status in (200, 201):
        order = build(OrderResult, body, replayed=status == 200, status=status, where="BatchResult.body")
        return BatchResult(order_id, status, order, None)
    error = error_from_response(status, {}, json.dumps(body).encode())
    return BatchResult(order_id, status, None, error)
