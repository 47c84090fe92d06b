"""The SDK keeps its connections alive: one TCP connection serves many calls, and a
connection the server closed while idle is replaced without the caller noticing."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from partner_sdk import ConnectionFailed, MerchantClient
from partner_sdk._connections import ConnectionPool

MEMBERS = {"data": [], "next_cursor": None}
WAIT_S = 10


class KeepAliveServer:
    """An HTTP/1.1 server that keeps connections open, counts the ones it accepts and
    follows a script per request: "answer", "answer-then-close" (close once idle,
    without telling the client) or "close-unanswered" (read the request, close)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.requests: list[tuple[int, str, str]] = []  # (connection number, method, path)
        self.script: deque[str] = deque()
        self.closed_by_server = threading.Event()
        self.connection_ended = threading.Event()
        outer = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request: Any, client_address: Any) -> bool:
                outer.accepted += 1
                return True

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.number = outer.accepted

            def finish(self) -> None:
                super().finish()
                outer.connection_ended.set()

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                if length:
                    self.rfile.read(length)
                outer.requests.append((self.number, self.command, self.path))
                step = outer.script.popleft() if outer.script else "answer"
                if step == "close-unanswered":
                    self.close_connection = True
                    return
                data = json.dumps(MEMBERS).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                if step == "answer-then-close":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    outer.closed_by_server.set()

            do_GET = do_POST = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[KeepAliveServer]:
    served = KeepAliveServer()
    yield served
    served.close()


def test_several_calls_share_one_tcp_connection(server):
    with MerchantClient(server.url, "k", max_retries=0) as client:
        for _ in range(5):
            client.list_members(limit=1)

    assert server.accepted == 1
    assert [number for number, _, _ in server.requests] == [1] * 5


def test_closing_the_client_closes_its_connection(server):
    client = MerchantClient(server.url, "k", max_retries=0)
    client.list_members()

    client.close()

    assert server.connection_ended.wait(WAIT_S)
    with pytest.raises(ValueError, match="closed"):
        client.list_members()


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_retry(server):
    server.script.append("answer-then-close")
    with MerchantClient(server.url, "k", max_retries=0) as client:
        client.list_members()
        assert server.closed_by_server.wait(WAIT_S)

        client.list_members()
        client.list_members()

    assert server.accepted == 2
    assert [number for number, _, _ in server.requests] == [1, 2, 2]


def test_a_server_closing_a_reused_connection_as_the_request_arrives_is_survived(server):
    # The race the idle check cannot see: the request is sent, the server closes without answering.
    server.script.extend(["answer", "close-unanswered"])
    with MerchantClient(server.url, "k", max_retries=0) as client:
        client.list_members()

        page = client.list_members()
        client.bulk_decide_commissions([])

    assert page.data == []
    assert server.accepted == 2
    assert server.requests == [
        (1, "GET", "/v1/members"),
        (1, "GET", "/v1/members"),
        (2, "GET", "/v1/members"),
        (2, "POST", "/v1/commissions/bulk"),
    ]


def test_a_mutation_with_an_idempotency_key_is_resent_once_on_a_new_connection(server):
    server.script.extend(["answer", "close-unanswered"])
    with MerchantClient(server.url, "k", max_retries=0) as client:
        client.list_members()

        client.bulk_decide_commissions([])

    assert [(number, method) for number, method, _ in server.requests] == [(1, "GET"), (1, "POST"), (2, "POST")]


def test_a_request_that_is_not_safe_to_send_twice_is_not_resent(server):
    server.script.extend(["answer", "close-unanswered"])
    pool = ConnectionPool("http", "127.0.0.1", server.server.server_port, timeout_s=5)
    pool.send("GET", "/v1/members", None, {}, resendable=True)

    with pytest.raises(ConnectionError):
        pool.send("POST", "/v1/commissions/bulk", b"{}", {}, resendable=False)

    pool.close()
    assert [(number, method) for number, method, _ in server.requests] == [(1, "GET"), (1, "POST")]


def test_a_fresh_connection_dropped_by_the_server_counts_as_a_try(server):
    server.script.extend(["close-unanswered", "close-unanswered"])

    with pytest.raises(ConnectionFailed):
        MerchantClient(server.url, "k", max_retries=1, backoff_base_s=0.001).list_members()

    assert server.accepted == 2 and len(server.requests) == 2


def test_threads_sharing_a_client_each_get_their_own_connection(server):
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    with MerchantClient(server.url, "k", max_retries=0) as client:

        def calls() -> None:
            try:
                barrier.wait(WAIT_S)
                for _ in range(4):
                    client.list_members()
            except BaseException as error:  # reported below, in the test's thread
                errors.append(error)

        threads = [threading.Thread(target=calls) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_S)

    assert errors == []
    assert len(server.requests) == 12
    assert 1 <= server.accepted <= 3
