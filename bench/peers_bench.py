#!/usr/bin/env python3
"""Peers benchmark: the ledger core against django-hordak on the same PostgreSQL, in one run.

Run from the repository root, with the bench extra installed (`pip install -e .[bench]`):

    .venv/bin/python bench/peers_bench.py            # defaults, about 2 minutes
    .venv/bin/python bench/peers_bench.py --quick    # smoke test, well under a minute

Both sides run in this process, with the same number of threads, each thread on its
own database connection, on two throw-away databases of the same server (the
ledger's migrated by `flask db upgrade`, hordak's by Django's `migrate`):

  one per transaction   `ledger.earn` + commit   vs. `Account.transfer_to` in `atomic()`
  batched               `ledger.earn_many` of BATCH earns + commit
                                                 vs. BATCH transfers in one `atomic()`

and prints the ratio ledger/hordak of each. Then it seals and verifies the ledger
(`ledger.verify`), checks hordak's legs balance and both sides' counts, and drops
both databases.

What each side writes per operation (docs/benchmarks.md, "The peers"):
  ledger.earn    1 entry, 4 postings (points and money), 1 lot, 4 stored running
                 balances updated; the member's balance row locked (FOR UPDATE) first
  transfer_to    1 transaction, 2 legs; no stored balance (hordak sums legs on read),
                 its triggers check each leg's currency and, at commit, the balance

Exit status 1 if a write fails or a check after the load fails; a missed target is
reported, not failed: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ledger  # noqa: E402 (the repository root is on the path first)
from ledger.models import Entry  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_SERVER = PG_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
PG_HOST, _, PG_PORT = PG_SERVER.rpartition("@")[2].partition(":")

THREADS_DEFAULT = 4
OPERATIONS_DEFAULT = 4000
QUICK_OPERATIONS = 400
BATCH_DEFAULT = 50
MEMBERS_PER_THREAD = 200
WARMUP_PER_THREAD = 50  # MEMBERS_PER_THREAD is a multiple of it
TIMEOUT_S = 600.0

POINTS = 200  # what a 300 EUR basket earns at 10 points per full 15 EUR
PRICE_PER_1000_POINTS_CENTS = 500
VALUE_CENTS = POINTS * PRICE_PER_1000_POINTS_CENTS // 1000
LIFETIME_DAYS = 365
# One merchant and one currency per thread: a batch then shares no row with another
# thread's batch (a batch of earns holds its hot balance shards until it commits).
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN")

TARGET_ONE = 1.5
TARGET_BATCHED = 10.0


@dataclass
class Phase:
    name: str
    operations: int
    seconds: float
    cpu_s: float
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return (self.operations - len(self.failures)) / self.seconds

    def __add__(self, other: Phase) -> Phase:
        return Phase(
            self.name,
            self.operations + other.operations,
            self.seconds + other.seconds,
            self.cpu_s + other.cpu_s,
            self.failures + other.failures,
        )


# A thread's work: ``work(thread_index, count)`` performs ``count`` operations in one transaction.
Work = Callable[[int, int], None]


class Workers:
    """The same ``threads`` threads for every phase and both sides, so each keeps its
    connections (SQLAlchemy's pool, Django's per-thread connection) for the whole run."""

    def __init__(self, threads: int):
        self.threads = threads
        self.tasks: list[queue.Queue] = [queue.Queue() for _ in range(threads)]
        self.done: queue.Queue = queue.Queue()
        self.pool = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(threads)]
        for thread in self.pool:
            thread.start()

    def _loop(self, index: int) -> None:
        while True:
            task = self.tasks[index].get()
            if task is None:
                return
            work, batches, batch, barrier = task
            failures = []
            barrier.wait()
            try:
                for _ in range(batches):
                    work(index, batch)
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                failures.append(f"thread {index}: {exc!r}")
            self.done.put(failures)

    def run(self, name: str, operations: int, work: Work, batch: int) -> Phase:
        """``operations`` spread over the threads, started together, in transactions of ``batch``."""
        batches = operations // self.threads // batch
        barrier = threading.Barrier(self.threads + 1)
        for tasks in self.tasks:
            tasks.put((work, batches, batch, barrier))
        barrier.wait(timeout=TIMEOUT_S)
        started_s, cpu_before_s = time.monotonic(), time.process_time()
        failures = [f for _ in self.pool for f in self.done.get(timeout=TIMEOUT_S)]
        seconds, cpu_s = time.monotonic() - started_s, time.process_time() - cpu_before_s
        phase = Phase(name, batches * batch * self.threads, seconds, cpu_s, failures)
        print_phase(phase)
        return phase

    def each(self, work: Callable[[int], None]) -> None:
        """Run ``work(thread_index)`` once in every thread (closing its connections, say)."""
        self.run("", self.threads, lambda index, _count: work(index), 1)

    def stop(self) -> None:
        for tasks in self.tasks:
            tasks.put(None)


# --------------------------------------------------------------------------- the ledger


class LedgerSide:
    """``ledger.earn`` in-process on SQLAlchemy sessions, one per thread."""

    def __init__(self, url: str, threads: int):
        self.engine = create_engine(url, pool_size=threads + 1, max_overflow=0)
        self.sessions = [Session(self.engine) for _ in range(threads)]
        self.issuers = [ledger.Issuer(str(i + 1), CURRENCIES[i], PRICE_PER_1000_POINTS_CENTS) for i in range(threads)]
        self.next_member = [0] * threads
        self.earned = 0

    def member_of(self, index: int) -> str:
        n = self.next_member[index] = (self.next_member[index] + 1) % MEMBERS_PER_THREAD
        return f"t{index}m{n}"

    def earn_batch(self, session: Session, index: int, count: int) -> None:
        """``count`` earns in the session's transaction: one ``ledger.earn`` when ``count``
        is 1, else one bulk ``ledger.earn_many`` (multi-row statements for the batch)."""
        now = datetime.now(UTC)
        requests = []
        for _ in range(count):
            key = secrets.token_hex(8)
            requests.append(
                ledger.EarnRequest(
                    member_key=self.member_of(index),
                    issuer=self.issuers[index],
                    points=POINTS,
                    idempotency_key=f"earn:{key}",
                    ref=f"order:{self.issuers[index].key}:{key}",
                    memo="peers bench",
                    lifetime_days=LIFETIME_DAYS,
                )
            )
        if count == 1:
            [one] = requests
            ledger.earn(session, **vars(one), now=now)
        else:
            ledger.earn_many(session, requests, now=now)

    def work(self, index: int, count: int) -> None:
        """One transaction of ``count`` earns."""
        session = self.sessions[index]
        try:
            self.earn_batch(session, index, count)
            session.commit()
        except BaseException:
            session.rollback()
            raise

    def warm_up(self, threads: int) -> None:
        """Every member's accounts exist before the timing (hordak's are created up front too)."""
        for index in range(threads):
            for _ in range(MEMBERS_PER_THREAD // WARMUP_PER_THREAD):
                self.work(index, WARMUP_PER_THREAD)

    def check(self, expected_entries: int) -> list[str]:
        with Session(self.engine) as session:
            while ledger.seal(session):
                session.commit()
            session.commit()
            report = ledger.verify(session)
            entries = session.execute(select(func.count(Entry.id)).where(Entry.kind == "earn")).scalar_one()
        problems = [f"ledger: {v}" for v in report.violations[:5]]
        if entries != expected_entries:
            problems.append(f"ledger: {entries} earn entries, expected {expected_entries}")
        return problems

    def close(self) -> None:
        for session in self.sessions:
            session.close()
        self.engine.dispose()


# --------------------------------------------------------------------------- django-hordak


def configure_django(db_name: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "mptt", "djmoney", "hordak"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": db_name,
                "USER": "postgres",
                "HOST": PG_HOST or "127.0.0.1",
                "PORT": PG_PORT or "5432",
                "CONN_MAX_AGE": None,  # one connection per thread for the whole run, like the ledger's
            }
        },
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        CURRENCIES=CURRENCIES,
        HORDAK_CURRENCIES=CURRENCIES,
        DEFAULT_CURRENCY="EUR",
    )
    django.setup()


class HordakSide:
    """``Account.transfer_to`` inside ``transaction.atomic()``, Django's connection per thread."""

    def __init__(self, threads: int):
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from hordak.models import Account

        self.merchants, self.members = [], []
        for index in range(threads):
            currency = CURRENCIES[index]
            self.merchants.append(
                Account.objects.create(name=f"merchant {index}", type=Account.TYPES.income, currencies=[currency])
            )
            self.members.append(
                [
                    Account.objects.create(name=f"t{index}m{n}", type=Account.TYPES.liability, currencies=[currency])
                    for n in range(MEMBERS_PER_THREAD)
                ]
            )
        self.next_member = [0] * threads

    def work(self, index: int, count: int) -> None:
        """One transaction of ``count`` transfers."""
        from django.db import transaction
        from djmoney.money import Money

        amount = Money(Decimal(VALUE_CENTS) / 100, CURRENCIES[index])
        with transaction.atomic():
            for _ in range(count):
                n = self.next_member[index] = (self.next_member[index] + 1) % MEMBERS_PER_THREAD
                self.merchants[index].transfer_to(self.members[index][n], amount, description="peers bench")

    def check(self, expected: int) -> list[str]:
        from django.db import connection
        from hordak.models import Leg, Transaction

        problems = []
        transactions, legs = Transaction.objects.count(), Leg.objects.count()
        if transactions != expected or legs != 2 * expected:
            problems.append(
                f"hordak: {transactions} transactions and {legs} legs, expected {expected} and {2 * expected}"
            )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM (SELECT transaction_id FROM hordak_leg GROUP BY transaction_id "
                "HAVING sum(coalesce(debit, 0)) <> sum(coalesce(credit, 0))) unbalanced"
            )
            unbalanced = cursor.fetchone()[0]
        if unbalanced:
            problems.append(f"hordak: {unbalanced} unbalanced transactions")
        return problems

    @staticmethod
    def close_thread_connection() -> None:
        from django.db import connection

        connection.close()


# --------------------------------------------------------------------------- figures


def print_phase(phase: Phase) -> None:
    if not phase.name:
        return
    failed = f"  FAILED {len(phase.failures)}" if phase.failures else ""
    print(
        f"  {phase.name:<34} {phase.operations:>6} ops {phase.seconds:6.2f} s {phase.rate:8.1f} ops/s"
        f"  in-process CPU {phase.cpu_s * 1000 / max(phase.operations, 1):.2f} ms/op{failed}"
    )
    for failure in phase.failures[:3]:
        print(f"    failure: {failure}")


def figure(title: str, args, workers: Workers, ledger_side: LedgerSide, hordak: HordakSide, batch: int, target: float):
    """Halves in the order ledger, hordak, hordak, ledger, so drift weighs on both alike."""
    print(f"\n== {title}")
    half = args.operations // 2

    def phase(name: str, work: Work) -> Phase:
        return workers.run(name, half, work, batch)

    ours = "ledger.earn" if batch == 1 else "ledger.earn_many"
    first = phase(f"{ours} (1st half)", ledger_side.work)
    hordak_a = phase("hordak transfer_to (1st half)", hordak.work)
    hordak_b = phase("hordak transfer_to (2nd half)", hordak.work)
    second = phase(f"{ours} (2nd half)", ledger_side.work)
    core, peer = first + second, hordak_a + hordak_b
    core.name, peer.name = ours, "hordak transfer_to"
    print_phase(core)
    print_phase(peer)
    ratio = core.rate / peer.rate
    verdict = "met" if ratio >= target else "MISSED"
    print(f"  ratio ledger/hordak = {ratio:.2f}x   (target >= {target:.1f}x: {verdict})")
    return core, peer


def git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


def print_setup(args, ledger_db: str, hordak_db: str) -> None:
    with psycopg.connect(PG_ADMIN_URL) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        sync_commit = conn.execute("SHOW synchronous_commit").fetchone()[0]
    import django
    import hordak

    print("== Setup: both sides in this process, on the same machine and server")
    print(
        f"  machine   {os.cpu_count()} CPU cores, shared with other users; {platform.platform()}; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    print(
        f"  database  PostgreSQL {version} at {PG_SERVER} (synchronous_commit={sync_commit}); "
        f"throw-away databases {ledger_db} (ledger) and {hordak_db} (hordak)"
    )
    print(
        f"  code      ledger at commit {git_commit()} (SQLAlchemy, psycopg 3); django-hordak "
        f"{getattr(hordak, '__version__', '2.x')} on Django {django.get_version()}; Python {platform.python_version()}"
    )
    print(
        f"  load      {args.threads} threads per side, each its own connection, merchant and currency, "
        f"{MEMBERS_PER_THREAD} members each (accounts made before the timing); {args.operations} operations "
        f"per figure and side; batches of {args.batch}"
    )
    print(f"  one op    ledger: earn {POINTS} points ({VALUE_CENTS} cents); hordak: transfer {VALUE_CENTS} cents")
    print("  batched   ledger: one ledger.earn_many of the batch per transaction (multi-row statements)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, help=f"operations per figure and side (default {OPERATIONS_DEFAULT})")
    parser.add_argument("--threads", type=int, default=THREADS_DEFAULT, help="threads per side")
    parser.add_argument("--batch", type=int, default=BATCH_DEFAULT, help="operations per transaction when batched")
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK_OPERATIONS} operations")
    args = parser.parse_args(argv)
    if args.operations is None:
        args.operations = QUICK_OPERATIONS if args.quick else OPERATIONS_DEFAULT
    if not 1 <= args.threads <= len(CURRENCIES):
        parser.error(f"--threads must be 1 to {len(CURRENCIES)} (one currency per thread)")
    if args.batch < 1 or args.operations < 2 * args.threads * args.batch:
        parser.error("--operations must be at least 2 x threads x batch")
    return args


def admin_execute(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def migrate_ledger(db_name: str) -> str:
    url = f"postgresql://{PG_SERVER}/{db_name}"
    env = {**os.environ, "DATABASE_URL": url, "LOYALTY_ADMIN_KEY": secrets.token_urlsafe(32)}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    return f"postgresql+psycopg://{PG_SERVER}/{db_name}"


def run(args: argparse.Namespace, ledger_db: str, hordak_db: str) -> bool:
    configure_django(hordak_db)
    print_setup(args, ledger_db, hordak_db)
    ledger_side = LedgerSide(migrate_ledger(ledger_db), args.threads)
    workers = Workers(args.threads)
    try:
        hordak = HordakSide(args.threads)
        print("\n== Warm-up (not measured): every member's accounts, connections, caches")
        ledger_side.warm_up(args.threads)
        warm = workers.run("hordak (warm-up)", WARMUP_PER_THREAD * args.threads, hordak.work, WARMUP_PER_THREAD)
        one = figure("One operation per transaction", args, workers, ledger_side, hordak, 1, TARGET_ONE)
        batched = figure(
            f"Batched: {args.batch} per transaction", args, workers, ledger_side, hordak, args.batch, TARGET_BATCHED
        )
        phases = [*one, *batched]
        ledger_ops = sum(p.operations for p in phases[0::2]) + MEMBERS_PER_THREAD * args.threads
        hordak_ops = sum(p.operations for p in phases[1::2]) + warm.operations
        print("\n== After the load")
        problems = ledger_side.check(ledger_ops) + hordak.check(hordak_ops)
        failures = [f for p in [*phases, warm] for f in p.failures]
        print(f"  ledger: {ledger_ops} earns, sealed, ledger.verify {'clean' if not problems else 'see below'}")
        print(f"  hordak: {hordak_ops} transfers, every transaction balanced")
        for problem in problems + failures:
            print(f"  FAILED {problem}")
        return not problems and not failures
    finally:
        workers.each(lambda _index: HordakSide.close_thread_connection())
        workers.stop()
        ledger_side.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started_s = time.monotonic()
    suffix = secrets.token_hex(4)
    ledger_db, hordak_db = f"peers_ledger_{suffix}", f"peers_hordak_{suffix}"
    admin_execute(f'CREATE DATABASE "{ledger_db}"')
    admin_execute(f'CREATE DATABASE "{hordak_db}"')
    try:
        ok = run(args, ledger_db, hordak_db)
    finally:
        for name in (ledger_db, hordak_db):
            admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        f"\n== Done in {time.monotonic() - started_s:.0f} s; databases dropped; load average {os.getloadavg()[0]:.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
