"""The SDK's retry machinery against small scripted servers on loopback: 429 with
Retry-After, 5xx, one idempotency key per call, and what the SDK sends."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from partner_sdk import (
    AffiliateClient,
    ConnectionFailed,
    MerchantClient,
    RateLimited,
    ServerError,
    UnexpectedAnswer,
    ValidationError,
)

ORDER = {
    "order_id": "A-1",
    "member_id": "7",
    "amount_cents": 4599,
    "net_amount_cents": 4599,
    "currency": "EUR",
    "points_earned": 30,
    "points_net": 30,
    "points_balance": 30,
    "points_held": 0,
    "points_available": 30,
    "points_debt": 0,
    "points_incoming": 0,
    "bonuses": [],
    "points_total": 30,
    "points_available_at": None,
    "lines": [],
    "created_at": "2027-01-01T00:00:00+00:00",
    "commission": None,
    "attribution_error": None,
}
ENDPOINT = {
    "id": "3",
    "url": "https://hooks.example/x",
    "events": ["order.refunded"],
    "enabled": True,
    "previous_secret_expires_at": None,
    "created_at": "2027-01-01T00:00:00+00:00",
    "updated_at": "2027-01-01T00:00:00+00:00",
    "secret": "whsec_x",
}
CREATED_AT = "2027-01-01T00:00:00+00:00"
REFUND = {
    "refund_id": "R-1",
    "order_id": "A-1",
    "amount_cents": 1500,
    "order_net_amount_cents": 3099,
    "points_reversed": 10,
    "points_to_debt": 0,
    "points_balance": 20,
}
LEAD = {"lead_id": "L-1", "commission": None, "attribution_error": "expired"}
PROGRAM = {
    "id": "3",
    "merchant_id": "1",
    "name": "Spring",
    "active": True,
    "commission": {"type": "percent", "basis_points": 800},
    "lead_amount_cents": None,
    "cap_cents": None,
    "network_fee_bps": 200,
    "hold_days": 30,
    "attribution_window_days": 30,
    "auto_approve_affiliates": False,
    "created_at": CREATED_AT,
}
APPLICATION = {
    "id": "8",
    "program_id": "3",
    "affiliate_id": "5",
    "affiliate_name": "Blog",
    "affiliate_website": "https://blog.example/",
    "status": "pending",
    "created_at": CREATED_AT,
    "decided_at": None,
}
LINK = {
    "id": "9",
    "code": "abc",
    "url": "http://127.0.0.1/l/abc",
    "program_id": "3",
    "landing_url": "https://shop.example/",
    "active": True,
    "created_at": CREATED_AT,
}
ITEM = {
    "id": "4",
    "kind": "voucher",
    "title": "Ten euros",
    "description": "",
    "category": "vouchers",
    "image_url": None,
    "points_price": 1000,
    "wholesale_value_cents": 1000,
    "currency": "EUR",
    "stock": 2,
    "active": True,
    "active_from": None,
    "active_until": None,
    "created_at": CREATED_AT,
    "updated_at": CREATED_AT,
    "generated_codes": ["C-1", "C-2"],
}
CODES_ADDED = {"added": 1, "stock": 3, "generated_codes": []}
Reply = tuple[int, dict[str, str], Any]


class Scripted:
    """Answers requests from a script of (status, headers, JSON body); records what came in."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: deque[Reply | str] = deque()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else b""
                outer.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                reply = outer.script.popleft()
                if reply == "drop":
                    self.close_connection = True
                    return
                status, headers, payload = reply
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            do_GET = do_POST = do_PATCH = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def client(self, **options: Any) -> MerchantClient:
        options = {"max_retries": 3, "backoff_base_s": 0.001, "backoff_cap_s": 0.01, **options}
        return MerchantClient(self.url, "lk_test", **options)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.close()


def problem(status: int) -> dict[str, Any]:
    return {"type": "/problems/x", "title": "T", "status": status, "detail": "D"}


def test_a_429_with_retry_after_is_waited_out_and_retried_with_the_same_key(scripted):
    scripted.script.extend([(429, {"Retry-After": "0"}, problem(429)), (201, {}, ORDER)])

    result = scripted.client().record_order("A-1", 4599, "a@example.test")

    assert result.points_earned == 30
    keys = [r["headers"]["Idempotency-Key"] for r in scripted.requests]
    assert keys == ["A-1", "A-1"]


def test_rate_limited_carries_the_retry_delay_when_it_is_too_long_to_wait(scripted):
    scripted.script.append((429, {"Retry-After": "120"}, problem(429)))

    with pytest.raises(RateLimited) as raised:
        scripted.client(retry_after_max_s=5).record_order("A-1", 4599, "a@example.test")

    assert raised.value.retry_after_s == 120
    assert raised.value.status == 429
    assert len(scripted.requests) == 1


def test_rate_limited_is_raised_once_retries_are_spent(scripted):
    scripted.script.extend([(429, {"Retry-After": "0"}, problem(429))] * 2)

    with pytest.raises(RateLimited) as raised:
        scripted.client(max_retries=1).find_member("a@example.test")

    assert raised.value.retry_after_s == 0
    assert len(scripted.requests) == 2


def test_5xx_answers_are_retried_a_bounded_number_of_times_then_raise_server_error(scripted):
    scripted.script.extend([(500, {}, problem(500))] * 3 + [(503, {"Content-Type": "text/plain"}, None)])

    with pytest.raises(ServerError) as raised:
        scripted.client(max_retries=3).record_order("A-1", 4599, "a@example.test")

    assert raised.value.status == 503
    assert len(scripted.requests) == 4


def test_a_mutation_without_natural_key_sends_one_generated_key_across_retries(scripted):
    scripted.script.extend([(502, {}, problem(502)), "drop", (201, {}, ENDPOINT)])

    created = scripted.client().create_webhook_endpoint("https://hooks.example/x", ["order.refunded"])

    assert created.secret == "whsec_x"
    keys = {r["headers"]["Idempotency-Key"] for r in scripted.requests}
    assert len(scripted.requests) == 3 and len(keys) == 1
    assert len(keys.pop()) >= 32


def test_two_logical_calls_send_two_different_keys(scripted):
    scripted.script.extend([(201, {}, ENDPOINT), (201, {}, ENDPOINT)])
    client = scripted.client()

    client.rotate_webhook_secret("3")
    client.rotate_webhook_secret("3")

    keys = [r["headers"]["Idempotency-Key"] for r in scripted.requests]
    assert keys[0] != keys[1]


def test_a_dropped_connection_is_retried_then_raises_connection_failed(scripted):
    scripted.script.extend(["drop", "drop"])

    with pytest.raises(ConnectionFailed):
        scripted.client(max_retries=1).get_order("A-1")

    assert len(scripted.requests) == 2


def test_a_4xx_is_never_retried(scripted):
    scripted.script.append((422, {}, {**problem(422), "errors": {"amount_cents": ["Bad."]}}))

    with pytest.raises(ValidationError):
        scripted.client().record_order("A-1", -1, "a@example.test")

    assert len(scripted.requests) == 1


def test_the_click_token_and_member_email_are_sent_only_when_given(scripted):
    scripted.script.extend([(201, {}, ORDER)] * 3)
    client = scripted.client()

    client.record_order("A-1", 4599, "a@example.test", click_token="tok.1")
    client.record_order("A-1", 4599, "a@example.test")
    client.record_order("A-1", 4599)

    bodies = [json.loads(r["body"]) for r in scripted.requests]
    assert bodies[0]["click_token"] == "tok.1"
    assert "click_token" not in bodies[1]
    assert "member_email" not in bodies[2]


def test_every_call_sends_the_key_and_a_user_agent_and_reads_are_keyless(scripted):
    scripted.script.append((200, {}, {"data": [], "next_cursor": None}))

    scripted.client().list_webhook_endpoints(limit=5)

    [request] = scripted.requests
    assert request["headers"]["Authorization"] == "Bearer lk_test"
    assert request["headers"]["User-Agent"].startswith("partner-sdk/")
    assert "Idempotency-Key" not in request["headers"]
    assert request["path"] == "/v1/webhook-endpoints?limit=5"


def test_a_slow_server_hits_the_timeout_and_raises_connection_failed():
    import socket

    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        client = MerchantClient(
            f"http://127.0.0.1:{listener.getsockname()[1]}", "k", timeout_s=0.2, max_retries=1, backoff_base_s=0.001
        )

        with pytest.raises(ConnectionFailed) as raised:
            client.get_order("A-1")

    assert "timed out" in str(raised.value)


def test_constructor_refuses_bad_settings():
    with pytest.raises(ValueError):
        MerchantClient("ftp://x", "k")
    with pytest.raises(ValueError):
        MerchantClient("http://x", "k", timeout_s=0)
    with pytest.raises(ValueError):
        MerchantClient("http://x", "k", max_retries=-1)


CREATES = {
    "record_order": (ORDER, lambda m, a: m.record_order("A-1", 4599, "a@example.test")),
    "refund": (REFUND, lambda m, a: m.refund("A-1", "R-1", 1500)),
    "record_lead": (LEAD, lambda m, a: m.record_lead("L-1", "tok.1")),
    "create_program": (PROGRAM, lambda m, a: m.create_program("Spring", {"type": "percent", "basis_points": 800})),
    "apply_to_program": (APPLICATION, lambda m, a: a.apply_to_program("3")),
    "create_link": (LINK, lambda m, a: a.create_link("3", "https://shop.example/")),
    "create_catalog_item": (ITEM, lambda m, a: m.create_catalog_item("voucher", "Ten euros", "vouchers", 1000, 1000)),
    "add_voucher_codes": (CODES_ADDED, lambda m, a: m.add_voucher_codes("4", ["C-3"])),
    "create_webhook_endpoint": (ENDPOINT, lambda m, a: m.create_webhook_endpoint("https://hooks.example/x", ["x"])),
    "rotate_webhook_secret": (ENDPOINT, lambda m, a: m.rotate_webhook_secret("3")),
}


@pytest.mark.parametrize("create", sorted(CREATES))
def test_every_create_says_whether_the_platform_replayed_it(scripted, create):
    answer, call = CREATES[create]
    scripted.script.extend([(201, {}, answer), (200, {}, answer)])
    merchant, affiliate = scripted.client(), AffiliateClient(scripted.url, "ak_test", max_retries=0)

    first = call(merchant, affiliate)
    again = call(merchant, affiliate)

    assert (first.replayed, again.replayed) == (False, True)
    assert first.raw == answer


@pytest.mark.parametrize("create", sorted(CREATES))
def test_every_create_refuses_an_answer_missing_a_field(scripted, create):
    answer, call = CREATES[create]
    name = sorted(answer)[0]
    scripted.script.append((201, {}, {k: v for k, v in answer.items() if k != name}))

    with pytest.raises(UnexpectedAnswer) as raised:
        call(scripted.client(), AffiliateClient(scripted.url, "ak_test", max_retries=0))

    assert raised.value.field.endswith(f".{name}")
    assert raised.value.status == 201


def test_a_create_answered_with_another_2xx_is_refused(scripted):
    scripted.script.append((202, {}, PROGRAM))

    with pytest.raises(UnexpectedAnswer, match="202"):
        scripted.client().create_program("Spring", {"type": "percent", "basis_points": 800})
