#!/usr/bin/env python3
"""Orders benchmark: what the HTTP stack costs, and whether a hot merchant slows down.

Run from the repository root:

    .venv/bin/python bench/orders_bench.py            # defaults, about 2 to 3 minutes
    .venv/bin/python bench/orders_bench.py --quick    # smoke test, well under a minute

One run creates a throw-away PostgreSQL database, migrates it, serves the app
under gunicorn and measures

  Figure 1  POST /v1/orders over HTTP vs. the same ledger writes in raw SQL;
  Figure 2  every order for one merchant vs. orders spread over many merchants;
  Figure 3  POST /v1/orders/batch over HTTP (batches of BATCH_SIZE orders) vs.
            figure 1's raw SQL, one order per transaction;

then stops gunicorn, seals and verifies the ledger (`flask ledger verify`),
checks the order and points totals, and drops the database.

Exit status 1 means a request failed or the numbers are wrong after the load.
A missed throughput target is reported, not failed: the machine is shared.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing as mp
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_SERVER = PG_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]

ORDERS_DEFAULT = 1200
QUICK_ORDERS = 100
# gthread workers keep client connections alive, as the raw SQL clients keep theirs;
# 4 workers of 2 threads keep both cores busy while requests wait on PostgreSQL
# (2 x 2 left a third of the CPU idle).
WORKERS_DEFAULT = 4
THREADS_DEFAULT = 2
CLIENTS_DEFAULT = 6
WARMUP_ORDERS = 200
QUICK_WARMUP_ORDERS = 40
MANY_MERCHANTS = 20
MEMBER_POOL_SIZE = 1000

CURRENCY = "EUR"
BASKET_MIN_CENTS = 27_400
BASKET_MAX_CENTS = 33_500
EARN_POINTS = 10
EARN_PER_AMOUNT_CENTS = 1500
PRICE_PER_1000_POINTS_CENTS = 500
POINTS_LIFETIME_DAYS = 365
# The app's default for accounts that are not member accounts (ledger/accounts.py).
HOT_ACCOUNT_SHARDS = 16
POINTS_FLOAT = "platform:points_float"

SEAL_INTERVAL_S = "1"
HEALTH_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 30.0
PHASE_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 10.0
HEALTH_POLL_S = 0.1

TARGET_HTTP_VS_RAW = 0.35
TARGET_BATCH_VS_RAW = 3.0
# Figure 3: orders per batch, and how many orders it sends per order of figure 1's raw phase
# (several batches per client, so that the start and the end weigh little).
BATCH_SIZE_DEFAULT = 250
QUICK_BATCH_SIZE = 50
BATCH_ORDERS_FACTOR = 5
TARGET_ONE_VS_MANY = 0.90
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Merchant:
    id: int
    name: str
    api_key: str


@dataclass(frozen=True)
class Order:
    merchant: Merchant
    body: dict


@dataclass(frozen=True)
class AccountRow:
    id: int
    asset: str
    shards: int
    non_negative: bool = False


@dataclass
class ClientOutcome:
    ended_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass
class Phase:
    name: str
    orders: int
    seconds: float
    latencies_s: list[float]
    failures: list[str]
    cpu_s: dict[str, float]
    points: int  # what the orders sent should earn, by the published rule

    @property
    def rate(self) -> float:
        return (self.orders - len(self.failures)) / self.seconds

    @property
    def own_cpu_s(self) -> float:
        return self.cpu_s["gunicorn"] + self.cpu_s["postgres"] + self.cpu_s["clients"]

    def __add__(self, other: Phase) -> Phase:
        cpu = {k: self.cpu_s[k] + other.cpu_s[k] for k in self.cpu_s}
        return Phase(
            self.name,
            self.orders + other.orders,
            self.seconds + other.seconds,
            self.latencies_s + other.latencies_s,
            self.failures + other.failures,
            cpu,
            self.points + other.points,
        )


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path
    env: dict[str, str]
    db_url: str
    monitor: psycopg.Connection  # reads pg_stat_activity for the CPU accounting


# --------------------------------------------------------------------------- load


def points_for(amount_cents: int) -> int:
    """The published rule, computed here independently to check the app's totals."""
    return (amount_cents // EARN_PER_AMOUNT_CENTS) * EARN_POINTS


def plan_orders(
    count: int, merchants: list[Merchant], tag: str, seed: int, pool_size: int = MEMBER_POOL_SIZE
) -> list[Order]:
    """Distinct order ids; members drawn from a pool of ``pool_size`` fresh emails."""
    rng = random.Random(seed)
    orders = []
    for i in range(count):
        merchant = merchants[i % len(merchants)]
        body = {
            "order_id": f"{tag}-{i:07d}",
            "amount_cents": rng.randint(BASKET_MIN_CENTS, BASKET_MAX_CENTS),
            "currency": CURRENCY,
            "member_email": f"member{rng.randrange(pool_size):05d}.{tag}@bench.example",
        }
        orders.append(Order(merchant, body))
    return orders


def post_json(port: int, path: str, key: str, body: dict, conn: http.client.HTTPConnection | None = None):
    """One POST; returns (status, body bytes). Reuses ``conn`` when given (keep-alive)."""
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request("POST", path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    payload = response.read()
    return response.status, payload


def create_merchant(port: int, admin_key: str, name: str) -> Merchant:
    body = {
        "name": name,
        "domains": [f"{name.lower()}.example"],
        "currency": CURRENCY,
        "earn_rule": {"points": EARN_POINTS, "per_amount_cents": EARN_PER_AMOUNT_CENTS},
        "price_per_1000_points_cents": PRICE_PER_1000_POINTS_CENTS,
        "points_lifetime_days": POINTS_LIFETIME_DAYS,
    }
    status, payload = post_json(port, "/v1/merchants", admin_key, body)
    if status != 201:
        raise RuntimeError(f"creating merchant {name}: HTTP {status} {payload[:300]!r}")
    created = json.loads(payload)
    return Merchant(int(created["id"]), name, created["api_key"])


# --------------------------------------------------------------------------- clients


def drive(orders: list[Order], connect, failures: tuple, barrier, release, results) -> None:
    """The client loop both sides share: ``connect()`` returns ``(send, close)``;
    wait for the start, send each order, time it, and report. ``failures`` are
    counted, not fatal; anything else (a failed connect too) aborts the barrier."""
    outcome = ClientOutcome()
    close = None
    try:
        send, close = connect()
        barrier.wait()
        for order in orders:
            started_s = time.monotonic()
            try:
                outcome.failures += send(order) or []
            except failures as exc:
                for one in order if isinstance(order, list) else [order]:
                    outcome.failures.append(f"{one.body['order_id']}: {exc!r}")
            outcome.latencies_s.append(time.monotonic() - started_s)
    except Exception as exc:  # noqa: BLE001 - report instead of hanging the other processes at the barrier
        barrier.abort()
        outcome.failures.append(f"client crashed: {exc!r}")
    finally:
        outcome.ended_s = time.monotonic()
        results.put(outcome)
        # Keep connections until the CPU snapshot: a backend's CPU time vanishes when it exits.
        release.wait(PHASE_TIMEOUT_S)
        if close is not None:
            close()


class HttpRefused(Exception):
    pass


def http_client(port: int, orders: list[Order], barrier, release, results) -> None:
    """A client process: one keep-alive connection, orders sent one after another."""

    def connect():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)

        def send(order: Order) -> None:
            try:
                status, payload = post_json(port, "/v1/orders", order.merchant.api_key, order.body, conn)
            except (OSError, http.client.HTTPException):
                conn.close()  # the next request reconnects
                raise
            if status != 201:
                raise HttpRefused(f"HTTP {status} {payload[:200]!r}")

        return send, conn.close

    drive(orders, connect, (OSError, http.client.HTTPException, HttpRefused), barrier, release, results)


def http_batch_client(port: int, batch_size: int, orders: list[Order], barrier, release, results) -> None:
    """A client process: one keep-alive connection, its orders sent in batches of ``batch_size``."""
    batches = [orders[i : i + batch_size] for i in range(0, len(orders), batch_size)]

    def connect():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)

        def send(batch: list[Order]) -> list[str]:
            body = {"orders": [order.body for order in batch]}
            try:
                status, payload = post_json(port, "/v1/orders/batch", batch[0].merchant.api_key, body, conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                raise
            if status != 200:
                raise HttpRefused(f"HTTP {status} {payload[:200]!r}")
            answered = json.loads(payload)["results"]
            return [f"{r['order_id']}: {r['status']} {r['body']}" for r in answered if r["status"] != 201]

        return send, conn.close

    drive(batches, connect, (OSError, http.client.HTTPException, HttpRefused), barrier, release, results)


def raw_client(db_url: str, hot: dict, orders: list[Order], barrier, release, results) -> None:
    """A raw-SQL process: one psycopg connection, one transaction per order."""

    def connect():
        conn = psycopg.connect(db_url, autocommit=True)

        def send(order: Order) -> None:
            with conn.transaction():
                raw_record_order(conn.cursor(), hot[order.merchant.id], order)

        return send, conn.close

    drive(orders, connect, (psycopg.Error, RuntimeError), barrier, release, results)


def run_phase(name: str, target, target_args: tuple, orders: list[Order], clients: int, server: Server) -> Phase:
    """Spread ``orders`` over ``clients`` processes; time from a common start to the last finish."""
    ctx = mp.get_context("fork")
    barrier, release, results = ctx.Barrier(clients + 1), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(*target_args, orders[i::clients], barrier, release, results))
        for i in range(clients)
    ]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=HEALTH_TIMEOUT_S)
        cpu_before = cpu_snapshot(server)
        started_s = time.monotonic()
        outcomes = [results.get(timeout=PHASE_TIMEOUT_S) for _ in procs]
        cpu_after = cpu_snapshot(server)
    finally:
        release.set()
        for proc in procs:
            proc.join(STOP_TIMEOUT_S)
            if proc.is_alive():
                proc.kill()
    ended_s = max(o.ended_s for o in outcomes)
    return Phase(
        name=name,
        orders=len(orders),
        seconds=ended_s - started_s,
        latencies_s=[s for o in outcomes for s in o.latencies_s],
        failures=[f for o in outcomes for f in o.failures],
        cpu_s=cpu_used(cpu_before, cpu_after),
        points=sum(points_for(o.body["amount_cents"]) for o in orders),
    )


# --------------------------------------------------------------------------- raw SQL

# The app's claim (migration 0016): the key's advisory lock, then a read of the record.
SQL_CLAIM = "SELECT found_hash FROM ledger_idempotency_claim(%s, %s)"
SQL_MEMBER_INSERT = (
    "INSERT INTO members (email, created_at) VALUES (%s, %s) ON CONFLICT (email) DO NOTHING RETURNING id"
)
SQL_MEMBER_SELECT = "SELECT id FROM members WHERE email = %s"
SQL_LINK = (
    "INSERT INTO merchant_members (merchant_id, member_id, first_order_at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
)
SQL_LOCK_MEMBER = (
    "SELECT b.account_id, b.balance, b.pending FROM ledger_balances b "
    "JOIN ledger_accounts a ON a.id = b.account_id "
    "WHERE a.name = %s AND a.asset = 'PTS' AND b.shard = 0 FOR UPDATE OF b"
)
SQL_CREATE_MEMBER_ACCOUNTS = (
    "INSERT INTO ledger_accounts (name, asset, non_negative, shards, created_at) "
    "VALUES (%s, 'PTS', true, 1, %s), (%s, 'PTS', false, %s, %s) ON CONFLICT (name, asset) DO NOTHING"
)
SQL_CREATE_BALANCES = (
    "INSERT INTO ledger_balances (account_id, shard, balance, pending) "
    "SELECT a.id, s, 0, 0 FROM ledger_accounts a, generate_series(0, a.shards - 1) AS s "
    "WHERE a.asset = 'PTS' AND a.name IN (%s, %s) ON CONFLICT DO NOTHING"
)
SQL_DEBTS = (
    "SELECT id FROM ledger_debts WHERE member_account_id = %s AND points_remaining > 0 "
    "AND currency = %s ORDER BY id FOR UPDATE"
)
SQL_ENTRY = (
    "INSERT INTO ledger_entries (kind, idempotency_key, ref, memo, created_at) "
    "VALUES ('earn', %s, %s, %s, %s) RETURNING id"
)
SQL_POSTINGS = "INSERT INTO ledger_postings (entry_id, account_id, asset, amount) VALUES " + ", ".join(
    ["(%s, %s, %s, %s)"] * 4
)
SQL_APPLY = "UPDATE ledger_balances SET balance = balance + %s WHERE account_id = %s AND shard = %s"
SQL_LOT = (
    "INSERT INTO ledger_lots (member_account_id, issuer, currency, price_per_1000_points_cents, points, "
    "points_remaining, value, value_remaining, points_expired, value_expired, earned_at, expires_at, entry_id) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, 0, %s, %s, %s)"
)
SQL_ORDER = (
    "INSERT INTO orders (merchant_id, order_id, member_id, amount_cents, currency, earn_points, "
    "earn_per_amount_cents, points_earned, refunded_cents, points_reversed, earn_entry_id, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, 0, %s, %s)"
)
# The record is written once, with its answer, as the app writes it.
SQL_COMPLETE = (
    "INSERT INTO ledger_idempotency (scope, key, request_hash, result, created_at) VALUES (%s, %s, %s, %s, %s)"
)
SQL_HOT_ACCOUNT = "SELECT id, asset, shards FROM ledger_accounts WHERE name = %s AND asset = %s"
SQL_BENCH_BACKENDS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "OR backend_type NOT IN ('client backend', 'autovacuum worker')"
)


def hot_accounts(db_url: str, merchant: Merchant) -> dict[str, AccountRow]:
    """The merchant's issued and receivable accounts and the float, resolved once per
    phase as a hand-written service would cache them (the app created them on its orders)."""
    names = {
        "issued": (f"merchant:{merchant.id}:issued", "PTS"),
        "receivable": (f"merchant:{merchant.id}:receivable", CURRENCY),
        "float": (POINTS_FLOAT, CURRENCY),
    }
    with psycopg.connect(db_url) as conn:
        return {role: AccountRow(*conn.execute(SQL_HOT_ACCOUNT, key).fetchone()) for role, key in names.items()}


def request_hash(body: dict) -> str:
    # Same fingerprint as ledger.idempotency, so an HTTP retry of a raw order would replay.
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def raw_record_order(cur: psycopg.Cursor, hot: dict[str, AccountRow], order: Order) -> None:
    """What one POST /v1/orders writes, by hand: same rows, same balances, same answer."""
    merchant, body, now = order.merchant, order.body, datetime.now(UTC)
    scope, order_id = f"orders:{merchant.id}", body["order_id"]
    if cur.execute(SQL_CLAIM, (scope, order_id)).fetchone() is not None:
        raise RuntimeError(f"order {order_id} was already recorded")
    member_id = raw_member(cur, body["member_email"], now)
    cur.execute(SQL_LINK, (merchant.id, member_id, now))
    member_account, balance, pending = raw_lock_member(cur, member_id, now)
    if cur.execute(SQL_DEBTS, (member_account, CURRENCY)).fetchone() is not None:
        raise RuntimeError("bench members never owe points; debt repayment is not written by hand")
    points = points_for(body["amount_cents"])
    value = points * PRICE_PER_1000_POINTS_CENTS // 1000
    member = AccountRow(member_account, "PTS", 1, non_negative=True)
    legs = [(member, points), (hot["issued"], -points), (hot["receivable"], -value), (hot["float"], value)]
    entry_id = raw_post(cur, legs, merchant, order_id, now)
    cur.execute(
        SQL_LOT,
        (
            member_account,
            str(merchant.id),
            CURRENCY,
            PRICE_PER_1000_POINTS_CENTS,
            points,
            points,
            value,
            value,
            now,
            now + timedelta(days=POINTS_LIFETIME_DAYS),
            entry_id,
        ),
    )
    cur.execute(
        SQL_ORDER,
        (
            merchant.id,
            order_id,
            member_id,
            body["amount_cents"],
            CURRENCY,
            EARN_POINTS,
            EARN_PER_AMOUNT_CENTS,
            points,
            entry_id,
            now,
        ),
    )
    answer = {
        "order_id": order_id,
        "member_id": str(member_id),
        "amount_cents": body["amount_cents"],
        "net_amount_cents": body["amount_cents"],
        "currency": CURRENCY,
        "points_earned": points,
        "points_net": points,
        "created_at": now.isoformat(),
        "points_balance": balance + points,
        "points_held": pending,
        "points_available": balance + points - pending,
        "points_debt": 0,
    }
    cur.execute(SQL_COMPLETE, (scope, order_id, request_hash(body), json.dumps(answer, sort_keys=True), now))


def raw_member(cur: psycopg.Cursor, email: str, now: datetime) -> int:
    row = cur.execute(SQL_MEMBER_INSERT, (email, now)).fetchone()
    # A separate statement sees a concurrent insert that committed after ours started.
    return row[0] if row else cur.execute(SQL_MEMBER_SELECT, (email,)).fetchone()[0]


def raw_lock_member(cur: psycopg.Cursor, member_id: int, now: datetime) -> tuple[int, int, int]:
    """Lock the member's balance row, creating the member and debt accounts on first use
    (the debt account gets HOT_ACCOUNT_SHARDS shards, as the app gives it)."""
    name = f"member:{member_id}"
    row = cur.execute(SQL_LOCK_MEMBER, (name,)).fetchone()
    if row is None:
        cur.execute(SQL_CREATE_MEMBER_ACCOUNTS, (name, now, f"{name}:debt", HOT_ACCOUNT_SHARDS, now))
        cur.execute(SQL_CREATE_BALANCES, (name, f"{name}:debt"))
        row = cur.execute(SQL_LOCK_MEMBER, (name,)).fetchone()
    return row


def raw_post(
    cur: psycopg.Cursor, legs: list[tuple[AccountRow, int]], merchant: Merchant, order_id: str, now: datetime
) -> int:
    entry_id = cur.execute(
        SQL_ENTRY,
        (
            f"earn:{merchant.id}:{order_id}",
            f"order:{merchant.id}:{order_id}",
            f"Order {order_id} at {merchant.name}",
            now,
        ),
    ).fetchone()[0]
    postings = sorted((acct.id, acct.asset, amount) for acct, amount in legs)
    cur.execute(SQL_POSTINGS, [v for acct_id, asset, amount in postings for v in (entry_id, acct_id, asset, amount)])
    # The app's lock order (member shard first, then by account id) keeps writers deadlock-free.
    for acct, amount in sorted(legs, key=lambda leg: (not leg[0].non_negative, leg[0].id)):
        shard = random.randrange(acct.shards)
        if cur.execute(SQL_APPLY, (amount, acct.id, shard)).rowcount != 1:
            raise RuntimeError(f"no balance shard {shard} for account {acct.id}")
    return entry_id


# --------------------------------------------------------------------------- CPU accounting


def _proc_stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2 :].split()
    return comm, int(rest[1]), (int(rest[11]) + int(rest[12])) / CLOCK_TICKS_PER_S


def cpu_snapshot(server: Server) -> dict[str, dict[int, float]]:
    """CPU seconds used so far, per process, by gunicorn, the clients, PostgreSQL (this
    database's backends and the shared background processes, not other databases'),
    and by the whole machine (pid 0)."""
    pg_pids = {pid for (pid,) in server.monitor.execute(SQL_BENCH_BACKENDS)}
    groups: dict[str, dict[int, float]] = {"gunicorn": {}, "clients": {}, "postgres": {}}
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        stat = _proc_stat(pid)
        if stat is None:
            continue
        _comm, ppid, cpu_s = stat
        if server.process.pid in (pid, ppid):
            groups["gunicorn"][pid] = cpu_s
        elif ppid == os.getpid():
            groups["clients"][pid] = cpu_s
        elif pid in pg_pids:
            groups["postgres"][pid] = cpu_s
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    groups["machine"] = {0: (user + nice + system + irq + softirq) / CLOCK_TICKS_PER_S}
    return groups


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds per group between two snapshots; a process that started in between counts in full."""
    return {
        group: sum(cpu_s - before[group].get(pid, 0.0) for pid, cpu_s in procs.items())
        for group, procs in after.items()
    }


# --------------------------------------------------------------------------- database and server


def admin_execute(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def flask_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=PHASE_TIMEOUT_S,
        check=False,
    )


def checked_flask_cli(env: dict[str, str], *args: str) -> str:
    done = flask_cli(env, *args)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(db_url: str, workers: int, threads: int, admin_key: str) -> Server:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "LOYALTY_ADMIN_KEY": admin_key,
        "LEDGER_SEAL_INTERVAL_S": SEAL_INTERVAL_S,
    }
    checked_flask_cli(env, "db", "upgrade")
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="orders_bench_gunicorn_", suffix=".log")[1])
    worker_class = ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-w",
                str(workers),
                *worker_class,
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, port, log_path, env, db_url, psycopg.connect(db_url, autocommit=True))
    try:
        wait_healthy(server)
    except BaseException:
        stop_gunicorn(server)
        raise
    return server


def wait_healthy(server: Server) -> None:
    deadline_s = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline_s:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{server.log_path.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HEALTH_POLL_S * 10)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(HEALTH_POLL_S)
    raise RuntimeError(f"gunicorn not healthy after {HEALTH_TIMEOUT_S} s")


def stop_gunicorn(server: Server) -> None:
    server.monitor.close()
    server.process.terminate()
    try:
        server.process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    errors = [line for line in server.log_path.read_text().splitlines() if "Traceback" in line or "ERROR" in line]
    if errors:
        print(f"  gunicorn logged {len(errors)} error line(s); see {server.log_path}")
    else:
        server.log_path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- figures


def http_phase(name: str, orders: list[Order], clients: int, server: Server) -> Phase:
    return checked(run_phase(name, http_client, (server.port,), orders, clients, server))


def checked(phase: Phase) -> Phase:
    print_phase(phase)
    if len(phase.failures) == phase.orders:
        raise RuntimeError(f"every order of '{phase.name}' failed; the first: {phase.failures[0]}")
    return phase


def figure_1(merchant: Merchant, args: argparse.Namespace, server: Server) -> tuple[Phase, Phase]:
    print("\n== Figure 1: POST /v1/orders over HTTP vs. the same writes in raw SQL (one merchant)")
    http = http_phase("http", plan_orders(args.orders, [merchant], "f1-http", 1), args.clients, server)
    checked_flask_cli(server.env, "ledger", "seal")  # so the next phases' sealer has no backlog
    hot = {merchant.id: hot_accounts(server.db_url, merchant)}
    orders = plan_orders(args.orders, [merchant], "f1-raw", 2)
    raw = checked(run_phase("raw SQL", raw_client, (server.db_url, hot), orders, args.clients, server))
    # Raw entries are unsealed; seal them now rather than inside figure 2's timing.
    checked_flask_cli(server.env, "ledger", "seal")
    print_ratio("http/raw", http, raw, TARGET_HTTP_VS_RAW)
    return http, raw


def figure_2(one: Merchant, many: list[Merchant], args: argparse.Namespace, server: Server) -> tuple[Phase, Phase]:
    """Halves in the order one, many, many, one, so that a drift in the machine's load
    during the run weighs on both sides alike."""
    print(f"\n== Figure 2: every order for one merchant vs. orders spread over {len(many)} merchants (HTTP)")
    one_orders = plan_orders(args.orders, [one], "f2-one", 3)
    many_orders = plan_orders(args.orders, many, "f2-many", 4)
    half = args.orders // 2
    one_a = http_phase("one merchant (1st half)", one_orders[:half], args.clients, server)
    many_a = http_phase(f"{len(many)} merchants (1st half)", many_orders[:half], args.clients, server)
    many_b = http_phase(f"{len(many)} merchants (2nd half)", many_orders[half:], args.clients, server)
    one_b = http_phase("one merchant (2nd half)", one_orders[half:], args.clients, server)
    one_total, many_total = one_a + one_b, many_a + many_b
    one_total.name, many_total.name = "one merchant", f"{len(many)} merchants"
    print_phase(one_total)
    print_phase(many_total)
    print_ratio("one/many", one_total, many_total, TARGET_ONE_VS_MANY)
    return one_total, many_total


def figure_3(merchant: Merchant, raw: Phase, args: argparse.Namespace, server: Server) -> Phase:
    """The batch endpoint against figure 1's raw phase, with as many new members per order."""
    count = args.orders * BATCH_ORDERS_FACTOR
    print(
        f"\n== Figure 3: POST /v1/orders/batch over HTTP ({args.batch_size} orders per batch) vs. "
        "raw SQL one order per transaction (figure 1's raw phase)"
    )
    orders = plan_orders(count, [merchant], "f3-batch", 5, MEMBER_POOL_SIZE * BATCH_ORDERS_FACTOR)
    batched = checked(
        run_phase("http batches", http_batch_client, (server.port, args.batch_size), orders, args.clients, server)
    )
    print("  (latency above is per batch)")
    print_phase(raw)
    print_ratio("batched/raw", batched, raw, TARGET_BATCH_VS_RAW)
    return batched


def print_phase(phase: Phase) -> None:
    latencies = sorted(phase.latencies_s) or [0.0]
    p50_ms = latencies[len(latencies) // 2] * 1000
    p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    per_order_ms = {k: v * 1000 / phase.orders for k, v in phase.cpu_s.items()}
    other_ms = per_order_ms["machine"] - phase.own_cpu_s * 1000 / phase.orders
    busy = phase.cpu_s["machine"] / (phase.seconds * os.cpu_count())
    failed = f"  FAILED {len(phase.failures)}" if phase.failures else ""
    print(
        f"  {phase.name:<24} {phase.orders:>5} orders {phase.seconds:6.2f} s {phase.rate:7.1f} orders/s"
        f"  latency p50 {p50_ms:4.0f} ms, p99 {p99_ms:4.0f} ms{failed}"
    )
    print(
        f"  {'':<24} CPU/order: gunicorn {per_order_ms['gunicorn']:.1f} ms, postgres "
        f"{per_order_ms['postgres']:.1f} ms, clients {per_order_ms['clients']:.1f} ms | "
        f"other users {other_ms:.1f} ms | cores busy {busy:.0%}"
    )
    for failure in phase.failures[:5]:
        print(f"    failure: {failure}")


def print_ratio(label: str, fast: Phase, slow: Phase, target: float) -> None:
    """The target is on throughput; the CPU ratio tells the same story without the other users' noise."""
    ratio = fast.rate / slow.rate
    by_cpu = (slow.own_cpu_s / slow.orders) / (fast.own_cpu_s / fast.orders)
    verdict = "met" if ratio >= target else "MISSED"
    print(f"  ratio {label} = {ratio:.1%}   (target >= {target:.0%}: {verdict})")
    print(f"  same ratio in orders per CPU-second of gunicorn + postgres + clients: {by_cpu:.1%}")


# --------------------------------------------------------------------------- run


def print_setup(args: argparse.Namespace, server: Server, db_name: str) -> None:
    version = server.monitor.execute("SHOW server_version").fetchone()[0].split()[0]
    sync_commit = server.monitor.execute("SHOW synchronous_commit").fetchone()[0]
    kind = f"gthread ({args.threads} threads each)" if args.threads > 1 else "sync"
    sample = plan_orders(args.orders, [Merchant(0, "sample", "")], "sample", 1)
    first_orders = len({o.body["member_email"] for o in sample}) / len(sample)
    print("== Setup: everything below shares the same machine")
    print(
        f"  machine   {os.cpu_count()} CPU cores, shared with other users; {platform.platform()}; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    print(
        f"  server    gunicorn arbiter + {args.workers} {kind} workers, Python {platform.python_version()}, "
        f"LEDGER_SEAL_INTERVAL_S={SEAL_INTERVAL_S}, code at commit {git_commit()}"
    )
    print(
        f"  database  PostgreSQL {version} at {PG_SERVER} (synchronous_commit={sync_commit}), "
        f"throw-away database {db_name}"
    )
    keep_alive = "kept alive" if args.threads > 1 else "closed by the sync worker after each response, reopened"
    print(
        f"  clients   {args.clients} processes, one connection each: HTTP over http.client ({keep_alive}), "
        f"or raw SQL over psycopg, one transaction per order"
    )
    print(
        f"  load      {args.orders} orders per measurement after {args.warmup} warm-up orders; "
        f"baskets {BASKET_MIN_CENTS / 100:.2f}-{BASKET_MAX_CENTS / 100:.2f} {CURRENCY}, earning "
        f"{EARN_POINTS} points per full {EARN_PER_AMOUNT_CENTS / 100:.2f} {CURRENCY}"
    )
    print(
        f"  members   drawn from {MEMBER_POOL_SIZE} new emails per measurement: "
        f"{first_orders:.0%} of orders are a member's first"
    )
    print("  CPU/order read from /proc: gunicorn = arbiter and workers; postgres = this database's backends")
    print("            and the shared background processes; clients = the load processes; other users =")
    print("            the rest of the machine, i.e. how noisy the measurement was")


def git_commit() -> str:
    """The commit benchmarked (uncommitted changes in the tree are not shown)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=STOP_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


def run_benchmark(args: argparse.Namespace, server: Server, admin_key: str) -> list[Phase]:
    def create(name: str) -> Merchant:
        return create_merchant(server.port, admin_key, name)

    warmup_merchant, fig1_merchant, one = create("Bench-Warmup"), create("Bench-F1"), create("Bench-F2-One")
    fig3_merchant = create("Bench-F3")
    many = [create(f"Bench-F2-Many-{i:02d}") for i in range(1, MANY_MERCHANTS + 1)]
    print("\n== Warm-up (not measured: first requests of each worker, connection pools, caches)")
    warmup = http_phase("warm-up", plan_orders(args.warmup, [warmup_merchant], "warmup", 0), args.clients, server)
    batch_warmup = plan_orders(args.batch_size * args.clients, [warmup_merchant], "warmup-batch", 6)
    warmup += checked(
        run_phase("warm-up (batches)", http_batch_client, (server.port, args.batch_size), batch_warmup, 2, server)
    )
    checked_flask_cli(server.env, "ledger", "seal")
    http, raw = figure_1(fig1_merchant, args, server)
    one_total, many_total = figure_2(one, many, args, server)
    checked_flask_cli(server.env, "ledger", "seal")
    batched = figure_3(fig3_merchant, raw, args, server)
    print_summary([("http/raw", http, raw), ("one/many", one_total, many_total), ("batched/raw", batched, raw)])
    return [warmup, http, raw, one_total, many_total, batched]


SUMMARY_TARGETS = {"http/raw": TARGET_HTTP_VS_RAW, "one/many": TARGET_ONE_VS_MANY, "batched/raw": TARGET_BATCH_VS_RAW}


def print_summary(ratios: list[tuple[str, Phase, Phase]]) -> None:
    print("\n== Summary")
    for label, fast, slow in ratios:
        ratio, target = fast.rate / slow.rate, SUMMARY_TARGETS[label]
        print(
            f"  {label:<12} {ratio:7.1%}  ({fast.rate:.0f} vs {slow.rate:.0f} orders/s; "
            f"target >= {target:.0%}: {'met' if ratio >= target else 'MISSED'})"
        )


def verify_after_load(server: Server, phases: list[Phase]) -> bool:
    """Seal what is left, run `flask ledger verify`, and compare totals with what was sent."""
    print("\n== Ledger after the load (gunicorn stopped)")
    print("  $ flask --app wsgi ledger seal")
    print(f"    {checked_flask_cli(server.env, 'ledger', 'seal')}")
    print("  $ flask --app wsgi ledger verify")
    verify = flask_cli(server.env, "ledger", "verify")
    for line in (verify.stdout + verify.stderr).strip().splitlines():
        print(f"    {line}")
    print(f"    (exit status {verify.returncode})")
    with psycopg.connect(server.db_url) as conn:
        count, points = conn.execute("SELECT count(*), coalesce(sum(points_earned), 0) FROM orders").fetchone()
        member_points = conn.execute(
            "SELECT coalesce(sum(b.balance), 0) FROM ledger_balances b "
            "JOIN ledger_accounts a ON a.id = b.account_id WHERE a.non_negative"
        ).fetchone()[0]
    sent = sum(p.orders for p in phases)
    expected_points = sum(p.points for p in phases)
    totals_ok = count == sent and points == expected_points == member_points
    print(
        f"  totals: {count} orders (sent {sent}), {points} points earned, {member_points} on member "
        f"balances (expected {expected_points}): {'match' if totals_ok else 'MISMATCH'}"
    )
    return verify.returncode == 0 and totals_ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, help=f"orders per measurement (default {ORDERS_DEFAULT})")
    parser.add_argument("--workers", type=int, default=WORKERS_DEFAULT, help="gunicorn workers")
    parser.add_argument(
        "--threads",
        type=int,
        default=THREADS_DEFAULT,
        help="threads per gunicorn worker; more than 1 selects the gthread worker class",
    )
    parser.add_argument("--clients", type=int, default=CLIENTS_DEFAULT, help="client processes")
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK_ORDERS} orders per measurement")
    parser.add_argument(
        "--batch-size", type=int, help=f"orders per batch in figure 3 (default {BATCH_SIZE_DEFAULT}, at most 500)"
    )
    args = parser.parse_args(argv)
    if args.orders is None:
        args.orders = QUICK_ORDERS if args.quick else ORDERS_DEFAULT
    args.warmup = QUICK_WARMUP_ORDERS if args.quick else WARMUP_ORDERS
    if args.batch_size is None:
        args.batch_size = QUICK_BATCH_SIZE if args.quick else BATCH_SIZE_DEFAULT
    if not 1 <= args.batch_size <= 500:
        parser.error("--batch-size must be 1 to 500")
    if args.orders < 2 or args.workers < 1 or args.threads < 1 or args.clients < 1:
        parser.error("--orders must be at least 2; --workers, --threads and --clients at least 1")
    return args


def run_on_database(args: argparse.Namespace, db_name: str) -> bool:
    admin_key = secrets.token_urlsafe(32)
    server = start_gunicorn(f"postgresql://{PG_SERVER}/{db_name}", args.workers, args.threads, admin_key)
    try:
        print_setup(args, server, db_name)
        phases = run_benchmark(args, server, admin_key)
    finally:
        stop_gunicorn(server)
    verified = verify_after_load(server, phases)
    failures = sum(len(p.failures) for p in phases)
    if failures:
        print(f"\nFAILED: {failures} request(s) failed")
    return verified and not failures


def on_throwaway_database(prefix: str, run) -> int:
    """Run ``run(db_name)`` on a fresh PostgreSQL database, dropped afterwards; the exit status."""
    started_s = time.monotonic()
    db_name = f"{prefix}_{secrets.token_hex(4)}"
    admin_execute(f'CREATE DATABASE "{db_name}"')
    try:
        ok = run(db_name)
    except RuntimeError as exc:
        print(f"\nFAILED: {exc}")
        ok = False
    finally:
        admin_execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    print(
        f"\n== Done in {time.monotonic() - started_s:.0f} s; database {db_name} dropped; "
        f"load average {os.getloadavg()[0]:.2f} at the end"
    )
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return on_throwaway_database("orders_bench", lambda db_name: run_on_database(args, db_name))


if __name__ == "__main__":
    sys.exit(main())
