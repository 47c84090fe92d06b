"""A retry across a server restart in the middle of a call records the order once.

The platform runs in a subprocess behind a small proxy on loopback. The proxy
forwards the SDK's first POST /v1/orders, lets the platform commit and answer,
then drops the connection without passing the answer on and restarts the
platform. The SDK retries with the same order_id against the new process and
gets the original answer back: exactly one order and one ledger entry.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

import ledger
from app.orders.models import Order
from ledger.models import Entry
from partner_sdk import MerchantClient
from tests.conftest import ADMIN_KEY, free_port
from tests.factories.merchants import merchant_body
from tests.factories.names import unique, unique_email

ROOT = Path(__file__).resolve().parents[2]
STARTUP_POLLS = 400
POLL_S = 0.05


class Platform:
    """The app served by `flask run` in a subprocess, restartable on the same port."""

    def __init__(self, db_url: str) -> None:
        self.port = free_port()
        self.env = {**os.environ, "DATABASE_URL": db_url, "LOYALTY_ADMIN_KEY": ADMIN_KEY}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.starts += 1
        for _ in range(STARTUP_POLLS):  # bounded: wait until it answers
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(POLL_S)
        raise RuntimeError("the platform did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class DroppingProxy:
    """Forwards requests to the platform; drops the answer to the first POST /v1/orders
    and restarts the platform before letting anything else through."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.dropped: list[int] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with proxy.lock:  # nothing passes while the platform restarts
                    upstream = http.client.HTTPConnection("127.0.0.1", proxy.platform.port, timeout=30)
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    upstream.close()
                    if self.command == "POST" and self.path == "/v1/orders" and not proxy.dropped:
                        proxy.dropped.append(response.status)
                        proxy.platform.restart()
                        self.close_connection = True
                        return  # the answer is lost: the client sees the connection close
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _forward

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform(databases) -> Iterator[tuple[Platform, str]]:
    url = databases.new()
    served = Platform(url)
    served.start()
    try:
        yield served, url
    finally:
        served.stop()


def test_a_retry_across_a_server_restart_leaves_exactly_one_order_in_the_ledger(platform):
    served, db_url = platform
    onboarding = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    onboarding.request(
        "POST",
        "/v1/merchants",
        body=json.dumps(merchant_body()),
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    )
    merchant = json.loads(onboarding.getresponse().read())
    onboarding.close()
    proxy = DroppingProxy(served)
    try:
        client = MerchantClient(proxy.url, merchant["api_key"], timeout_s=30, max_retries=3, backoff_base_s=0.01)
        order_id, email = unique("restart"), unique_email()

        result = client.record_order(order_id, 27400, email)
    finally:
        proxy.close()

    assert proxy.dropped == [201]  # the first try was recorded, its answer never arrived
    assert served.starts == 2
    assert result.replayed is True
    assert (result.order_id, result.points_earned, result.points_balance) == (order_id, 180, 180)
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            orders = s.execute(select(func.count()).select_from(Order).where(Order.order_id == order_id)).scalar_one()
            entries = s.execute(
                select(func.count())
                .select_from(Entry)
                .where(Entry.idempotency_key == f"earn:{merchant['id']}:{order_id}")
            ).scalar_one()
            assert ledger.verify(s).violations == []
    finally:
        engine.dispose()
    assert (orders, entries) == (1, 1)
