#!/usr/bin/env python3
"""Click benchmark: GET /c/<code> against a trivial Flask 302, on the same server setup.

Run from the repository root:

    .venv/bin/python bench/click_bench.py            # defaults, about a minute
    .venv/bin/python bench/click_bench.py --quick    # smoke test (CI), well under a minute

One run creates a throw-away PostgreSQL database, migrates it, serves the real
app under gunicorn (the orders bench's worker setup) with a demo link, and a
trivial Flask app answering a fixed 302 under an identical gunicorn; client
processes load both in short alternating phases and the run prints requests/s and
p99 latency for each and their ratio (targets: the redirect reaches 100% of the
trivial endpoint's throughput, with a p99 under 10 ms). Then it stops the app's
gunicorn and checks that every counted click reached click_stats (the shutdown
flush). The clients read answers from the socket (``--client http.client`` for
the standard library's client, whose header parsing weighs on the shared cores).

Exit status 1: a request failed or answered something other than a 302 with a
click token, or clicks were lost. A missed ratio is reported, not failed.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import multiprocessing as mp
import operator
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import psycopg  # noqa: E402
from orders_bench import (  # noqa: E402 - the sibling bench's database and process helpers
    PG_SERVER,
    checked_flask_cli,
    free_port,
    git_commit,
    on_throwaway_database,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REQUESTS_DEFAULT = 20_000
# Short alternating phases: a burst of other work on the shared cores weighs on both sides alike.
ROUNDS_DEFAULT = 10
QUICK_ROUNDS = 4
QUICK_REQUESTS = 2_000
WARMUP_REQUESTS = 1_000
QUICK_WARMUP_REQUESTS = 200
WORKERS_DEFAULT = 4  # as bench/orders_bench.py: gthread workers keep connections alive
THREADS_DEFAULT = 2
CLIENTS_DEFAULT = 4
TARGET_RATIO = 1.00
TARGET_P99_MS = 10.0
HEALTH_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 30.0
PHASE_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 20.0
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 bench/{}"


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log_path: Path


@dataclass
class Outcome:
    latencies_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    ended_s: float = 0.0


@dataclass
class Phase:
    name: str
    requests: int
    seconds: float
    latencies_s: list[float]
    failures: list[str]

    @property
    def rate(self) -> float:
        return (self.requests - len(self.failures)) / self.seconds

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies_s) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000

    def __add__(self, other: Phase) -> Phase:
        return Phase(
            self.name,
            self.requests + other.requests,
            self.seconds + other.seconds,
            self.latencies_s + other.latencies_s,
            self.failures + other.failures,
        )


# --------------------------------------------------------------------------- servers


def start(name: str, app_spec: str, env: dict[str, str], args: argparse.Namespace, extra: list[str]) -> Server:
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix=f"click_bench_{name}_", suffix=".log")[1])
    worker_class = ["--worker-class", "gthread", "--threads", str(args.threads)] if args.threads > 1 else []
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-w",
                str(args.workers),
                *worker_class,
                *extra,
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                app_spec,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, process, port, log_path)
    deadline_s = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline_s:
        if process.poll() is not None:
            raise RuntimeError(f"{name} gunicorn exited:\n{log_path.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"{name} gunicorn not healthy after {HEALTH_TIMEOUT_S} s")


def stop(server: Server) -> None:
    """SIGTERM: a graceful stop, so the workers' exit hooks flush their clicks."""
    server.process.terminate()
    try:
        server.process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    errors = [line for line in server.log_path.read_text().splitlines() if "Traceback" in line or "ERROR" in line]
    if errors:
        print(f"  {server.name}: gunicorn logged {len(errors)} error line(s); see {server.log_path}")
    else:
        server.log_path.unlink(missing_ok=True)


def api(port: int, method: str, path: str, key: str, body: dict | None = None, expected: int = 201) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    if response.status != expected:
        raise RuntimeError(f"{method} {path}: HTTP {response.status} {payload[:300]!r}")
    return json.loads(payload)


def demo_link(port: int, admin_key: str) -> str:
    """A merchant, an affiliate, an auto-approving program and a link; returns the link's code."""
    merchant = api(
        port,
        "POST",
        "/v1/merchants",
        admin_key,
        {
            "name": "Bench shop",
            "domains": ["shop.example"],
            "currency": "EUR",
            "earn_rule": {"points": 10, "per_amount_cents": 1500},
            "price_per_1000_points_cents": 500,
        },
    )
    affiliate = api(
        port,
        "POST",
        "/v1/affiliates",
        admin_key,
        {"name": "Bench blog", "email": "bench@blog.example", "website": "https://blog.example/"},
    )
    program = api(
        port,
        "POST",
        "/v1/programs",
        merchant["api_key"],
        {"name": "Bench", "commission": {"type": "percent", "basis_points": 800}, "auto_approve_affiliates": True},
    )
    api(port, "POST", f"/v1/programs/{program['id']}/applications", affiliate["api_key"])
    link = api(
        port,
        "POST",
        "/v1/links",
        affiliate["api_key"],
        {"program_id": program["id"], "landing_url": "https://shop.example/shoes?color=red#top"},
    )
    return link["code"]


# --------------------------------------------------------------------------- load


class RawConnection:
    """HTTP/1.1 on one kept-alive socket, reading only what the bench checks: the status,
    ``Location`` and ``Content-Length`` (for the body). It sends what http.client sends
    (``Host``, ``Accept-Encoding: identity``, the user agent), so the servers do the same
    work; but http.client parses every header line of an answer with email.parser (about
    8 us a line here, on the same two cores as the servers), which charged each header an
    answer carries to the server that sent it rather than measuring the server."""

    def __init__(self, port: int, path: str, agent: str):
        self.port = port
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: identity\r\nUser-Agent: {agent}\r\n\r\n"
        ).encode()
        self.sock: socket.socket | None = None
        self.buffer = b""

    def get(self) -> tuple[int, str]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=REQUEST_TIMEOUT_S)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(self.request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._receive()
        head, self.buffer = self.buffer[:end].lower(), self.buffer[end + 4 :]
        if b"\r\ntransfer-encoding:" in head:
            raise ConnectionError("a chunked answer: this client reads Content-Length bodies only")
        length = int(_header(head, b"content-length") or 0)
        while len(self.buffer) < length:
            self._receive()
        self.buffer = self.buffer[length:]
        return int(head[9:12]), _header(head, b"location").decode("latin-1")

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def _header(head: bytes, name: bytes) -> bytes:
    """A header's value in a lowered head (the bench's values are ASCII: case does not matter)."""
    start = head.find(b"\r\n" + name + b":")
    if start < 0:
        return b""
    start += len(name) + 3
    end = head.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


class HttpClientConnection:
    """The same requests through http.client (``--client http.client``), as the bench sent them first."""

    def __init__(self, port: int, path: str, agent: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        self.path, self.headers = path, {"User-Agent": agent}

    def get(self) -> tuple[int, str]:
        self.conn.request("GET", self.path, headers=self.headers)
        response = self.conn.getresponse()
        response.read()
        return response.status, response.getheader("Location", "")

    def close(self) -> None:
        self.conn.close()


CLIENTS = {"raw": RawConnection, "http.client": HttpClientConnection}


def client(kind: str, port: int, path: str, count: int, agent: str, barrier, results) -> None:
    """One keep-alive connection, requests one after another; a non-302 counts as a failure."""
    outcome = Outcome()
    try:
        conn = CLIENTS[kind](port, path, agent)
        barrier.wait()
        for _ in range(count):
            started_s = time.monotonic()
            try:
                status, location = conn.get()
                if status != 302 or "lp_click=" not in location:
                    outcome.failures.append(f"HTTP {status} Location {location[:80]!r}")
            except (OSError, ValueError, http.client.HTTPException) as exc:
                conn.close()
                outcome.failures.append(repr(exc))
            outcome.latencies_s.append(time.monotonic() - started_s)
    except Exception as exc:  # noqa: BLE001 - report instead of hanging the others at the barrier
        barrier.abort()
        outcome.failures.append(f"client crashed: {exc!r}")
    finally:
        outcome.ended_s = time.monotonic()
        results.put(outcome)


def run_phase(name: str, server: Server, path: str, requests: int, args: argparse.Namespace) -> Phase:
    ctx = mp.get_context("fork")
    clients = args.clients
    barrier, results = ctx.Barrier(clients + 1), ctx.Queue()
    share = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    procs = [
        ctx.Process(target=client, args=(args.client, server.port, path, share[i], AGENT.format(i), barrier, results))
        for i in range(clients)
    ]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=HEALTH_TIMEOUT_S)
        started_s = time.monotonic()
        outcomes = [results.get(timeout=PHASE_TIMEOUT_S) for _ in procs]
    finally:
        for proc in procs:
            proc.join(STOP_TIMEOUT_S)
            if proc.is_alive():
                proc.kill()
    ended_s = max(o.ended_s for o in outcomes)
    phase = Phase(
        name,
        requests,
        ended_s - started_s,
        [s for o in outcomes for s in o.latencies_s],
        [f for o in outcomes for f in o.failures],
    )
    print_phase(phase)
    return phase


def print_phase(phase: Phase) -> None:
    ordered = sorted(phase.latencies_s) or [0.0]
    p50_ms = ordered[len(ordered) // 2] * 1000
    failed = f"  FAILED {len(phase.failures)}" if phase.failures else ""
    print(
        f"  {phase.name:<26} {phase.requests:>6} requests {phase.seconds:6.2f} s {phase.rate:8.1f} req/s"
        f"  latency p50 {p50_ms:5.1f} ms, p99 {phase.p99_ms:5.1f} ms{failed}"
    )
    for failure in phase.failures[:3]:
        print(f"    failure: {failure}")


# --------------------------------------------------------------------------- run


def recorded_clicks(db_url: str) -> tuple[int, int]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT coalesce(sum(clicks), 0), coalesce(sum(unique_clicks), 0) FROM click_stats"
        ).fetchone()


def measure(args: argparse.Namespace, app: Server, trivial: Server, code: str) -> tuple[Phase, Phase, int]:
    path = f"/c/{code}"
    print("\n== Warm-up (not measured)")
    sent = run_phase("redirect warm-up", app, path, args.warmup, args).requests
    run_phase("trivial warm-up", trivial, path, args.warmup, args)
    print(
        f"\n== GET /c/<code>: the platform's redirect vs. a trivial Flask 302 "
        f"({args.rounds} rounds of redirect, trivial, trivial, redirect)"
    )
    share = args.requests // (2 * args.rounds)
    phases: dict[str, list[Phase]] = {"redirect": [], "trivial": []}
    for round_number in range(1, args.rounds + 1):
        for name, server in (("redirect", app), ("trivial", trivial), ("trivial", trivial), ("redirect", app)):
            phases[name].append(run_phase(f"{name} (round {round_number})", server, path, share, args))
    redirect, yardstick = (
        functools.reduce(operator.add, phases["redirect"]),
        functools.reduce(operator.add, phases["trivial"]),
    )
    redirect.name, yardstick.name = "redirect /c/<code>", "trivial Flask 302"
    print_phase(redirect)
    print_phase(yardstick)
    ratio = redirect.rate / yardstick.rate
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    p99_verdict = "met" if redirect.p99_ms < TARGET_P99_MS else "MISSED"
    print(
        f"  ratio redirect/trivial = {ratio:.1%} of the throughput (target >= {TARGET_RATIO:.0%}: {verdict}); "
        f"p99 {redirect.p99_ms:.1f} ms vs {yardstick.p99_ms:.1f} ms (target < {TARGET_P99_MS:.0f} ms: {p99_verdict})"
    )
    per_round = [
        (phases["redirect"][i] + phases["redirect"][i + 1]).rate
        / (phases["trivial"][i] + phases["trivial"][i + 1]).rate
        for i in range(0, len(phases["redirect"]), 2)
    ]
    print(
        f"  each round's ratio: {', '.join(f'{r:.0%}' for r in per_round)} "
        f"(median {statistics.median(per_round):.1%}; the spread is the shared machine's)"
    )
    return redirect, yardstick, sent + redirect.requests


def run(args: argparse.Namespace, db_name: str) -> bool:
    db_url = f"postgresql://{PG_SERVER}/{db_name}"
    admin_key = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "LOYALTY_ADMIN_KEY": admin_key,
        "LEDGER_SEAL_INTERVAL_S": "1",
        "CLICK_FLUSH_INTERVAL_S": "1",
    }
    checked_flask_cli(env, "db", "upgrade")
    app = start("app", "wsgi:app", env, args, ["-c", "python:app.clicks.gunicorn"])
    try:
        trivial = start("trivial", "trivial_redirect:app", {**os.environ, "PYTHONPATH": str(ROOT / "bench")}, args, [])
        try:
            code = demo_link(app.port, admin_key)
            print_setup(args, db_name)
            redirect, yardstick, sent = measure(args, app, trivial, code)
        finally:
            stop(trivial)
    finally:
        stop(app)
    clicks, unique = recorded_clicks(db_url)
    failures = len(redirect.failures) + len(yardstick.failures)
    # Each client is one visitor (its own user agent); a run across an hour boundary counts them twice.
    counted_ok = clicks == sent - len(redirect.failures) and args.clients <= unique <= 2 * args.clients
    print("\n== Click statistics after a graceful stop (gunicorn SIGTERM: worker exit flush)")
    print(
        f"  click_stats: {clicks} clicks (sent {sent}), {unique} unique visitors "
        f"({args.clients} client user agents, per hour): {'match' if counted_ok else 'MISMATCH'}"
    )
    if failures:
        print(f"\nFAILED: {failures} request(s) failed")
    return counted_ok and not failures and redirect.requests > 0


def print_setup(args: argparse.Namespace, db_name: str) -> None:
    kind = f"gthread ({args.threads} threads each)" if args.threads > 1 else "sync"
    print("== Setup: everything below shares the same machine")
    print(
        f"  machine   {os.cpu_count()} CPU cores, shared with other users; {platform.platform()}; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    print(
        f"  servers   two gunicorns, each an arbiter + {args.workers} {kind} workers, Python "
        f"{platform.python_version()}, code at commit {git_commit()}: the app (PostgreSQL {PG_SERVER}, "
        f"database {db_name}) and bench/trivial_redirect.py"
    )
    print(
        f"  clients   {args.clients} processes, one kept-alive connection each ({args.client} client), a browser "
        f"user agent each; {args.requests} requests per side after {args.warmup} warm-up requests"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, help=f"requests per side (default {REQUESTS_DEFAULT})")
    parser.add_argument("--workers", type=int, default=WORKERS_DEFAULT, help="gunicorn workers per server")
    parser.add_argument("--threads", type=int, default=THREADS_DEFAULT, help="threads per worker (gthread if > 1)")
    parser.add_argument("--clients", type=int, default=CLIENTS_DEFAULT, help="client processes")
    parser.add_argument("--rounds", type=int, help=f"rounds of alternating phases (default {ROUNDS_DEFAULT})")
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="raw",
        help="raw: a socket reading status, Location and Content-Length (default); http.client: as first written",
    )
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK_REQUESTS} requests per side")
    args = parser.parse_args(argv)
    if args.requests is None:
        args.requests = QUICK_REQUESTS if args.quick else REQUESTS_DEFAULT
    args.warmup = QUICK_WARMUP_REQUESTS if args.quick else WARMUP_REQUESTS
    if args.rounds is None:
        args.rounds = QUICK_ROUNDS if args.quick else ROUNDS_DEFAULT
    if args.requests < 4 * args.rounds * args.clients or min(args.workers, args.threads, args.clients, args.rounds) < 1:
        parser.error("--requests must be at least 4 x --rounds x --clients; the others at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return on_throwaway_database("click_bench", lambda db_name: run(args, db_name))


if __name__ == "__main__":
    sys.exit(main())
