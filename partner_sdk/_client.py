"""What the merchant and the affiliate clients share: transport, answer building, webhooks, the ledger's log."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from partner_sdk._build import Answer, build
from partner_sdk._transport import Query, Transport
from partner_sdk.answers import (
    ConsistencyProof,
    CreatedWebhookEndpoint,
    EntryProof,
    LogEntry,
    PublicKey,
    TreeHead,
    WebhookAttempt,
    WebhookEndpoint,
)
from partner_sdk.errors import UnexpectedAnswer
from partner_sdk.pagination import Page, iterate_pages

__all__ = ["Client", "EventCatalog", "given", "list_of", "page_of", "quote"]

A = TypeVar("A", bound=Answer)


def quote(value: int | str) -> str:
    """One path segment, whatever it contains."""
    return urllib.parse.quote(str(value), safe="")


def given(**values: Any) -> dict[str, Any]:
    """The body of a call: only the arguments that were given."""
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class EventCatalog(Answer):
    """The event types a key may subscribe to; `owner_kind` is merchant or affiliate."""

    owner_kind: str
    events: list[str]
    raw: dict[str, Any] = field(repr=False, compare=False)


class Client:
    """The machinery both clients share.

    Every call has a timeout (`timeout_s`, per try). Connection failures, 429
    and 5xx answers are retried up to `max_retries` times with exponential
    backoff and full jitter (a 429's Retry-After is honoured up to
    `retry_after_max_s`, beyond which `RateLimited` is raised at once). Retries
    of a mutation always send the same idempotency key: the natural key of the
    call (order_id, refund_id, lead_id) or an `Idempotency-Key` generated once
    per call, so a retried call never counts twice. Other 4xx answers raise at
    once; an answer that does not match its typed class raises `UnexpectedAnswer`.

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

    # Calls returning one typed answer, or a page of them

    def _one(
        self,
        answer: type[A],
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> A:
        status, data = self._http.request(method, path, body=body, query=query, idempotency_key=idempotency_key)
        return build(answer, data, status=status)

    def _create(
        self, answer: type[A], path: str, *, body: dict[str, Any] | None = None, idempotency_key: str | None = None
    ) -> A:
        """POST a create: the answer's `replayed` is True when the platform answered 200 (a replay), not 201."""
        status, data = self._http.request("POST", path, body=body, idempotency_key=idempotency_key)
        if status not in (200, 201):
            raise UnexpectedAnswer(answer.__name__, f"a create answered {status}, not 201 or 200", status=status)
        return build(answer, data, replayed=status == 200, status=status)

    def _page(self, answer: type[A], path: str, query: Query) -> Page[A]:
        status, data = self._http.request("GET", path, query=query)
        return page_of(answer, data, status)

    # Webhook endpoints

    def list_event_types(self) -> list[str]:
        """The event types your key may subscribe to (affiliates: commission.* only)."""
        return self._one(EventCatalog, "GET", "/v1/webhook-endpoints/event-types").events

    def create_webhook_endpoint(
        self, url: str, events: Sequence[str], *, enabled: bool = True
    ) -> CreatedWebhookEndpoint:
        """Register an endpoint; keep the returned `secret`, it is shown only once."""
        body = {"url": url, "events": list(events), "enabled": enabled}
        return self._create(CreatedWebhookEndpoint, "/v1/webhook-endpoints", body=body)

    def list_webhook_endpoints(self, *, limit: int | None = None, cursor: str | None = None) -> Page[WebhookEndpoint]:
        """One page of your endpoints, oldest first."""
        return self._page(WebhookEndpoint, "/v1/webhook-endpoints", {"limit": limit, "cursor": cursor})

    def iter_webhook_endpoints(self, *, page_size: int | None = None) -> Iterator[WebhookEndpoint]:
        """Every endpoint of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_webhook_endpoints(limit=page_size, cursor=cursor))

    def get_webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        """One of your endpoints."""
        return self._one(WebhookEndpoint, "GET", f"/v1/webhook-endpoints/{quote(endpoint_id)}")

    def update_webhook_endpoint(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        """Change an endpoint's URL or events, or enable/disable it (only what is given)."""
        body = given(url=url, events=None if events is None else list(events), enabled=enabled)
        return self._one(WebhookEndpoint, "PATCH", f"/v1/webhook-endpoints/{quote(endpoint_id)}", body=body)

    def rotate_webhook_secret(self, endpoint_id: str) -> CreatedWebhookEndpoint:
        """A new signing secret (shown once); the previous one also signs for 24 hours."""
        return self._create(CreatedWebhookEndpoint, f"/v1/webhook-endpoints/{quote(endpoint_id)}/rotate-secret")

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        """Delete an endpoint with its pending deliveries and attempt log."""
        self._http.request("DELETE", f"/v1/webhook-endpoints/{quote(endpoint_id)}")

    def list_webhook_attempts(
        self, endpoint_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[WebhookAttempt]:
        """One page of the delivery attempts to an endpoint, oldest first."""
        path = f"/v1/webhook-endpoints/{quote(endpoint_id)}/attempts"
        return self._page(WebhookAttempt, path, {"limit": limit, "cursor": cursor})

    def iter_webhook_attempts(self, endpoint_id: str, *, page_size: int | None = None) -> Iterator[WebhookAttempt]:
        """Every delivery attempt to an endpoint, page after page."""
        return iterate_pages(lambda cursor: self.list_webhook_attempts(endpoint_id, limit=page_size, cursor=cursor))

    # The ledger's transparency log: any key may read the heads and prove its own entries

    def tree_head(self) -> TreeHead:
        """The log's newest signed tree head (tree_size 0 and ``EMPTY_ROOT`` before anything is logged)."""
        return self._one(TreeHead, "GET", "/v1/ledger/tree-head")

    def list_tree_heads(self, *, limit: int | None = None, cursor: str | None = None) -> Page[TreeHead]:
        """One page of the log's signed tree heads, newest first."""
        return self._page(TreeHead, "/v1/ledger/tree-heads", {"limit": limit, "cursor": cursor})

    def iter_tree_heads(self, *, page_size: int | None = None) -> Iterator[TreeHead]:
        """Every signed tree head, newest first, page after page."""
        return iterate_pages(lambda cursor: self.list_tree_heads(limit=page_size, cursor=cursor))

    def public_keys(self) -> list[PublicKey]:
        """The keys the log signs its tree heads with, retired ones included."""
        status, data = self._http.request("GET", "/v1/ledger/public-keys")
        return list_of(PublicKey, data, status, "PublicKeys")

    def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        """The proof that the tree of size `second` extends the one of size `first` (``verify_consistency``)."""
        query = {"first": first, "second": second}
        return self._one(ConsistencyProof, "GET", "/v1/ledger/consistency", query=query)

    def entry_proof(self, entry_id: int | str, *, tree_size: int | None = None) -> EntryProof:
        """The inclusion proof of one of your entries in the tree of `tree_size` (default: the newest head's)."""
        path = f"/v1/ledger/entries/{quote(entry_id)}/proof"
        return self._one(EntryProof, "GET", path, query={"tree_size": tree_size})

    def list_log_entries(self, *, after: int | str | None = None, limit: int | None = None) -> Page[LogEntry]:
        """One page of your journal entries as log leaves, by leaf index, after leaf `after` (limit 1..500)."""
        return self._page(LogEntry, "/v1/ledger/entries", {"after": after, "limit": limit})

    def iter_log_entries(self, *, after: int | str | None = None, page_size: int | None = None) -> Iterator[LogEntry]:
        """Every entry of yours after leaf `after`, page after page (a page's `next_cursor` is the next `after`)."""
        return iterate_pages(
            lambda cursor: self.list_log_entries(after=after if cursor is None else cursor, limit=page_size)
        )


def page_of(answer: type[A], data: dict[str, Any], status: int) -> Page[A]:
    """A page of answers from ``{"data": [...], "next_cursor": str | null}``, as strictly as every answer."""
    name = f"Page[{answer.__name__}]"
    if "next_cursor" not in data:
        raise UnexpectedAnswer(f"{name}.next_cursor", "missing", status=status)
    cursor = data["next_cursor"]
    if cursor is not None and not isinstance(cursor, str):
        raise UnexpectedAnswer(f"{name}.next_cursor", "expected str or null", status=status)
    return Page(list_of(answer, data, status, name), cursor)


def list_of(answer: type[A], data: dict[str, Any], status: int, name: str) -> list[A]:
    """The answers under ``data`` of a list answer (a page, a bulk result)."""
    if "data" not in data:
        raise UnexpectedAnswer(f"{name}.data", "missing", status=status)
    items = data["data"]
    if not isinstance(items, list):
        raise UnexpectedAnswer(f"{name}.data", "expected a list", status=status)
    return [build(answer, item, status=status, where=f"{name}.data[{index}]") for index, item in enumerate(items)]
