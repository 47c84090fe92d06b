"""localstripe, a stateful fake Stripe server, on a loopback port for the run.

``stripe_fake`` starts ``localstripe --port <free port> --from-scratch`` once per
session and stops it at the end; tests point ``STRIPE_API_BASE`` at its URL. Tests
read what the platform did at "Stripe" with the official SDK, aimed at the fake.
localstripe ignores idempotency keys, which is what makes it a fair judge of our
own idempotency: a retried call that reached Stripe twice shows two objects.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import stripe

STRIPE_TEST_KEY = "sk_test_loyalty_platform"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class StripeFake:
    url: str
    api_key: str

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(self.api_key, base_addresses={"api": self.url}, max_network_retries=0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _localstripe() -> str:
    beside = Path(sys.executable).with_name("localstripe")
    found = str(beside) if beside.exists() else shutil.which("localstripe")
    if found is None:
        raise RuntimeError("localstripe is not installed: pip install -e '.[test]'")
    return found


def _wait_until_listening(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(POLL_INTERVAL_S)
    raise RuntimeError(f"localstripe did not listen on port {port} within {START_TIMEOUT_S} s")


@pytest.fixture(scope="session")
def stripe_fake(tmp_path_factory) -> Iterator[StripeFake]:
    port = _free_port()
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    # Its access log goes to a file: a pipe nobody reads would fill and block the server.
    with log.open("w") as output:
        process = subprocess.Popen(
            [_localstripe(), "--port", str(port), "--from-scratch"], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_listening(process, port, log)
        yield StripeFake(f"http://127.0.0.1:{port}", STRIPE_TEST_KEY)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
