#!/usr/bin/env python3
"""Scale benchmark: do reads, pages, statements and jobs stay flat as the journal grows?

Run from the repository root:

    .venv/bin/python bench/scale_bench.py              # 10k, 100k, 1M postings (tens of minutes)
    .venv/bin/python bench/scale_bench.py --max 10m    # and 10M (hours)
    .venv/bin/python bench/scale_bench.py --quick      # 10k and 100k, fewer repetitions (a few minutes)

One run creates a throw-away PostgreSQL database, migrates it, and sets up
through the API (the Flask app in process, no sealer thread): a merchant, an
affiliate with an approved program and a link, and PROBE_ORDERS orders in the
current month (half through a click, so the affiliate has commissions). It then
grows the journal to each size with the bulk loader (bench/journal_loader.py:
earn entries exactly as ``ledger.earn`` writes them, 4 postings and a lot each,
for new members; ``ledger.seal`` seals them all) and measures at each size:

  - a balance read (``ledger.member_points``) and a member lookup
    (``GET /v1/members?email=``, the merchant's checkout call): p50 and p99;
  - the member's history page (``app.members.history.movements``, what the
    page and the export show), a monthly statement of the merchant
    (``app.settlement.lines.statement_rows`` for the current month), the
    affiliate report (``GET /v1/affiliate/report``): p50 and p99;
  - an expiry run (``ledger.expire_lots``) over EXPIRY_LOTS due lots;
  - sealing (``ledger.seal``) of SEAL_ENTRIES new entries;
  - ``ledger verify``: the full check, then ``--since-last`` after
    SINCE_ENTRIES new entries (both with their checkpoint saved, as the
    command does).

Each read is timed in ROUNDS rounds (p50 and p99 of its calls) and each job run
ROUNDS times on fresh work (the full verify once); the best round is kept, so a
round slowed by other work on the shared cores does not pass for growth. It
prints each figure with its ratio to the 10k figure. Targets: reads, pages,
statement and report within 1.5x from 10k to the largest size; jobs (expiry,
sealing, --since-last) do fixed work, so they should stay flat too; the full
verify reads everything and grows with the journal by design. Ratios are
printed, never failed on (a shared machine). Exit status 1 means something is
broken: a verify found a violation, an answer was not 200, an expiry or a seal
did not do its work, or the closing ``flask ledger verify --since-last`` failed.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import journal_loader  # noqa: E402
from log_bench import analyze, seal_all  # noqa: E402
from orders_bench import PG_SERVER, checked_flask_cli, git_commit, on_throwaway_database  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import ledger  # noqa: E402

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
PROBE_ORDERS = 40
PROBE_MEMBERS = 5
REPETITIONS = 300
QUICK_REPETITIONS = 60
SLOW_REPETITIONS = 30  # statement and report: heavier calls
WARMUP_CALLS = 10
# Each read and job is measured in ROUNDS rounds and its best round kept: on shared
# cores a round slowed by someone else's work says nothing about the journal.
ROUNDS = 3
EXPIRY_LOTS = 200
SEAL_ENTRIES = 1_000
SINCE_ENTRIES = 1_000
HISTORY_PAGE = 20
SAMPLE_MEMBERS = 200
READ_TARGET = 1.5
EXTRA_TABLES = ("ledger_lots", "ledger_accounts", "ledger_balances", "members", "merchant_members")
READS = ("balance read", "member lookup", "history page", "monthly statement", "affiliate report")


class BenchFailed(RuntimeError):
    """Something broken (not slow): ``on_throwaway_database`` reports it and exits 1."""


@dataclass
class World:
    app: object
    client: object
    merchant_id: int
    merchant_key: str
    affiliate_key: str
    issuer: ledger.Issuer
    loader: journal_loader.Issuers
    month_start: datetime
    loads: int = 0


# --------------------------------------------------------------------------- set-up through the API


def make_app(db_url: str, admin_key: str):
    import logging

    from app import create_app

    logging.getLogger("app.access").setLevel(logging.WARNING)
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url.replace("postgresql://", "postgresql+psycopg://", 1),
            "LOYALTY_ADMIN_KEY": admin_key,
            "LEDGER_SEAL_INTERVAL_S": -1,
        }
    )


def call(client, method: str, path: str, key: str, body: dict | None = None, want: int = 200) -> dict:
    answer = getattr(client, method)(path, json=body, headers={"Authorization": f"Bearer {key}"})
    if answer.status_code != want:
        raise BenchFailed(
            f"{method.upper()} {path} answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}"
        )
    return answer.get_json() if answer.is_json else {}


def set_up(session: Session, db_url: str, admin_key: str) -> World:
    """The merchant, affiliate, program and link, and the probe orders of this month."""
    application = make_app(db_url, admin_key)
    client = application.test_client()
    merchant = call(
        client,
        "post",
        "/v1/merchants",
        admin_key,
        {
            "name": "Scale Shop",
            "domains": ["shop.example"],
            "currency": "EUR",
            "earn_rule": {"points": 10, "per_amount_cents": 1500},
            "price_per_1000_points_cents": journal_loader.PRICE_PER_1000_POINTS_CENTS,
        },
        want=201,
    )
    affiliate = call(
        client,
        "post",
        "/v1/affiliates",
        admin_key,
        {"name": "Scale Blog", "email": "blog@bench.example", "website": "https://blog.example/"},
        want=201,
    )
    body = {"name": "Scale", "commission": {"type": "percent", "basis_points": 800}, "auto_approve_affiliates": True}
    program = call(client, "post", "/v1/programs", merchant["api_key"], body, want=201)
    call(client, "post", f"/v1/programs/{program['id']}/applications", affiliate["api_key"], want=201)
    link = call(
        client,
        "post",
        "/v1/links",
        affiliate["api_key"],
        {"program_id": program["id"], "landing_url": "https://shop.example/"},
        want=201,
    )
    for i in range(PROBE_ORDERS):
        order = {
            "order_id": f"probe-{i}",
            "amount_cents": 4500 + 100 * i,
            "currency": "EUR",
            "member_email": f"probe-{i % PROBE_MEMBERS}@bench.example",
        }
        if i % 2 == 0:
            order["click_token"] = click_token(client, link["code"])
        call(client, "post", "/v1/orders", merchant["api_key"], order, want=201)
    now = ledger.utcnow()
    key = str(merchant["id"])
    loader = journal_loader.issuers(session, [key, *(f"bench-{i}" for i in range(1, 5))])
    return World(
        application,
        client,
        int(merchant["id"]),
        merchant["api_key"],
        affiliate["api_key"],
        ledger.Issuer(key, "EUR", journal_loader.PRICE_PER_1000_POINTS_CENTS),
        loader,
        now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
    )


def click_token(client, code: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    answer = client.get(f"/c/{code}", headers={"User-Agent": browser}, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    if answer.status_code != 302:
        raise BenchFailed(f"the click on {code} answered {answer.status_code}")
    return parse_qs(urlsplit(answer.headers["Location"]).query)["lp_click"][0]


# --------------------------------------------------------------------------- growing the journal


def postings(session: Session) -> int:
    count = session.execute(text("SELECT count(*) FROM ledger_postings")).scalar_one()
    session.rollback()
    return int(count)


def load(session: Session, world: World, entries: int) -> None:
    world.loads += 1
    journal_loader.load_earns(
        session,
        world.loader,
        world.merchant_id,
        entries,
        tag=f"l{world.loads}",
        now=ledger.utcnow(),
        month_start=world.month_start,
    )


def grow_to(session: Session, world: World, db_url: str, size: int) -> float:
    started_s = time.monotonic()
    missing = size - postings(session)
    if missing > 0:
        load(session, world, -(-missing // 4))
    seal_all(session)
    analyze_all(db_url)
    return time.monotonic() - started_s


def analyze_all(db_url: str) -> None:
    import psycopg

    analyze(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {', '.join(EXTRA_TABLES)}")


# --------------------------------------------------------------------------- measuring


def timed(call_: Callable[[], object], repetitions: int) -> tuple[float, float]:
    """(p50, p99) in milliseconds of ``call_`` after WARMUP_CALLS."""
    for _ in range(WARMUP_CALLS):
        call_()
    timings = []
    for _ in range(repetitions):
        started = time.perf_counter()
        call_()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[min(len(timings) - 1, int(len(timings) * 0.99))]


def sample_members(session: Session, rng: random.Random) -> list[tuple[int, str]]:
    rows = session.execute(
        text("SELECT id, email FROM members WHERE email LIKE 'bulk-%' ORDER BY random() LIMIT :n"),
        {"n": SAMPLE_MEMBERS},
    ).all()
    session.rollback()
    return [(int(i), e) for i, e in rows]


def reads(session: Session, world: World, rng: random.Random, repetitions: int) -> dict[str, tuple[float, float]]:
    from app.members.history import movements
    from app.settlement.lines import statement_rows

    members = sample_members(session, rng)
    next_month = (world.month_start + timedelta(days=32)).replace(day=1)

    def balance() -> None:
        ledger.member_points(session, str(rng.choice(members)[0]))
        session.rollback()

    def lookup() -> None:
        email = rng.choice(members)[1]
        found = call(world.client, "get", f"/v1/members?email={quote(email)}", world.merchant_key)
        if len(found["data"]) != 1:
            raise BenchFailed(f"member {email} is not found by its merchant")

    def history() -> None:
        shown, _ = movements(session, rng.choice(members)[0], before=None, limit=HISTORY_PAGE)
        session.rollback()
        if not shown:
            raise BenchFailed("a bulk member has no history")

    def statement() -> None:
        rows = statement_rows(session, world.merchant_id, world.month_start, next_month)
        session.rollback()
        if not rows:
            raise BenchFailed("the merchant's statement of this month is empty")

    def report() -> None:
        found = call(world.client, "get", "/v1/affiliate/report?group_by=program", world.affiliate_key)
        if not found["rows"]:
            raise BenchFailed("the affiliate report has no rows")

    slow = max(1, min(repetitions, SLOW_REPETITIONS))
    calls = {"balance read": balance, "member lookup": lookup, "history page": history}
    heavy = {"monthly statement": statement, "affiliate report": report}
    best: dict[str, tuple[float, float]] = {}
    with world.app.app_context():
        for _ in range(ROUNDS):
            for name, call_ in [*calls.items(), *heavy.items()]:
                figure = timed(call_, repetitions if name in calls else slow)
                if name not in best or figure[0] < best[name][0]:
                    best[name] = figure
    return best


def expiry_ms(session: Session, world: World, rng: random.Random) -> float:
    """Make EXPIRY_LOTS lots that are due (earned 400 days ago, one day to live), then time one expiry run."""
    members = sample_members(session, rng)
    earned_at = ledger.utcnow() - timedelta(days=400)
    due = 0
    for i in range(EXPIRY_LOTS):
        done = ledger.earn(
            session,
            member_key=str(members[i % len(members)][0]),
            issuer=world.issuer,
            points=20,
            idempotency_key=f"bench-expiry-{world.loads}-{i}",
            ref=ledger.order_ref(world.issuer.key, f"expiry-{world.loads}-{i}"),
            now=earned_at,
            lifetime_days=1,
        )
        due += done.points_to_balance
    session.commit()
    world.loads += 1
    started = time.perf_counter()
    expired = ledger.expire_lots(session, now=ledger.utcnow())
    session.commit()
    elapsed = (time.perf_counter() - started) * 1000
    if expired != due:
        raise BenchFailed(f"the expiry run expired {expired} points, not the {due} due")
    return elapsed


def seal_ms(session: Session, world: World) -> float:
    seal_all(session)
    load(session, world, SEAL_ENTRIES)
    started = time.perf_counter()
    sealed = seal_all(session)
    elapsed = (time.perf_counter() - started) * 1000
    if sealed != SEAL_ENTRIES:
        raise BenchFailed(f"sealing took {sealed} entries, not {SEAL_ENTRIES}")
    return elapsed


def verify_ms(engine, check: Callable[[Session], ledger.Report]) -> float:
    """One verify in a REPEATABLE READ snapshot and its checkpoint saved, as ``flask ledger verify`` does."""
    started = time.perf_counter()
    with Session(engine.execution_options(isolation_level="REPEATABLE READ")) as snapshot:
        report = check(snapshot)
        snapshot.rollback()
    if not report.ok:
        raise BenchFailed("ledger verify: " + "; ".join(str(v) for v in report.violations[:5]))
    with Session(engine) as writer:
        if not ledger.save_verify_checkpoint(writer, report, now=ledger.utcnow()):
            raise BenchFailed("the verify checkpoint was not saved")
        writer.commit()
    return (time.perf_counter() - started) * 1000


def jobs(session: Session, engine, world: World, rng: random.Random) -> dict[str, float]:
    """Each job's best of ROUNDS runs on fresh work, but the full verify: once."""

    def since_last() -> float:
        load(session, world, SINCE_ENTRIES)
        seal_all(session)
        return verify_ms(engine, ledger.verify_since_last)

    figures = {
        f"expiry ({EXPIRY_LOTS} due lots)": min(expiry_ms(session, world, rng) for _ in range(ROUNDS)),
        f"seal ({SEAL_ENTRIES:,} entries)": min(seal_ms(session, world) for _ in range(ROUNDS)),
        "verify (full)": verify_ms(engine, ledger.verify),
    }
    figures[f"verify --since-last ({SINCE_ENTRIES:,} new)"] = min(since_last() for _ in range(ROUNDS))
    return figures


# --------------------------------------------------------------------------- output


def print_setup(session: Session, args: argparse.Namespace, db_name: str) -> None:
    version = session.execute(text("SHOW server_version")).scalar_one().split()[0]
    session.rollback()
    print("== Setup: everything below shares the same machine")
    print(
        f"  machine   {os.cpu_count()} CPU cores, shared with other users; {platform.platform()}; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    print(f"  code      commit {git_commit()}, Python {platform.python_version()}, in this one process")
    print(f"  database  PostgreSQL {version} at {PG_SERVER}, throw-away database {db_name}")
    print(
        f"  sizes     {', '.join(args.sizes)} postings; reads: p50/p99 of {args.repetitions} calls "
        f"({min(args.repetitions, SLOW_REPETITIONS)} for statement and report), best of {ROUNDS} rounds; "
        f"jobs: best of {ROUNDS} runs (the full verify: one)"
    )


def print_table(sizes: list[str], figures: dict[str, dict[str, object]]) -> list[str]:
    """The table of every figure at every size with its ratio to the first size; returns the missed targets."""
    first = sizes[0]
    head = "".join(f"{f'at {s}':>24}" for s in sizes)
    print(f"\n  {'figure':<34}{head}")
    missed = []
    for name, by_size in figures.items():
        cells = []
        for size in sizes:
            value = by_size[size]
            base = by_size[first]
            if isinstance(value, tuple):
                ratio = value[0] / base[0]  # type: ignore[index]
                cell = f"{value[0]:.2f}/{value[1]:.2f} ms ({ratio:.2f}x)"
            else:
                ratio = float(value) / float(base)  # type: ignore[arg-type]
                cell = f"{value:.0f} ms ({ratio:.2f}x)"
            cells.append(f"{cell:>24}")
        print(f"  {name:<34}{''.join(cells)}")
        if name in READS and ratio > READ_TARGET:
            missed.append(f"{name}: {ratio:.2f}x from {first} to {sizes[-1]} (target {READ_TARGET}x)")
    print(f"  reads: p50/p99 (ratio of the p50s); jobs: best of {ROUNDS} runs. Ratios to the first size.")
    return missed


def run(args: argparse.Namespace, db_name: str) -> bool:
    db_url = f"postgresql://{PG_SERVER}/{db_name}"
    admin_key = secrets.token_urlsafe(32)
    env = {**os.environ, "DATABASE_URL": db_url, "LOYALTY_ADMIN_KEY": admin_key}
    checked_flask_cli(env, "db", "upgrade")
    engine = create_engine(f"postgresql+psycopg://{PG_SERVER}/{db_name}")
    rng = random.Random(args.seed)
    figures: dict[str, dict[str, object]] = {}
    try:
        with Session(engine) as session:
            print_setup(session, args, db_name)
            world = set_up(session, db_url, admin_key)
            for size_name in args.sizes:
                seconds = grow_to(session, world, db_url, SIZES[size_name])
                print(f"\n== {postings(session):,} postings ({seconds:.0f} s to build and seal)", flush=True)
                if args.explain:
                    explain_statement(session, world)
                measured: dict[str, object] = {**reads(session, world, rng, args.repetitions)}
                measured.update(jobs(session, engine, world, rng))
                for name, value in measured.items():
                    figures.setdefault(name, {})[size_name] = value
                    shown = (
                        f"{value[0]:.2f} ms p50, {value[1]:.2f} ms p99"
                        if isinstance(value, tuple)
                        else f"{value:.0f} ms"
                    )
                    print(f"  {name:<34} {shown}", flush=True)
    finally:
        engine.dispose()
    missed = print_table(args.sizes, figures)
    for line in missed:
        print(f"  MISSED: {line}")
    print(f"\n== flask ledger verify --since-last: {checked_flask_cli(env, 'ledger', 'verify', '--since-last')}")
    return True


def explain_statement(session: Session, world: World) -> None:
    """The plan of the statement's read (``ledger.entry_movements``) at this size, with ``--explain``."""
    from sqlalchemy.dialects import postgresql

    from ledger.reads import entry_movements

    captured: list = []

    class Capture(Exception):
        pass

    def grab(_conn, _cursor, statement, parameters, _context, _many):
        captured.append((statement, parameters))
        raise Capture

    from sqlalchemy import event

    next_month = (world.month_start + timedelta(days=32)).replace(day=1)
    names = [ledger.receivable_account(str(world.merchant_id)), ledger.payable_account(str(world.merchant_id))]
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", grab)
    try:
        entry_movements(session, names, world.month_start, next_month)
    except Capture:
        pass
    finally:
        event.remove(engine, "before_cursor_execute", grab)
        session.rollback()
    statement, parameters = captured[-1]
    del postgresql
    with session.connection().connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        print("\n".join("    " + row[0] for row in cursor.fetchall()))
    session.rollback()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 10k and 100k postings, fewer repetitions")
    parser.add_argument("--max", choices=["100k", "1m", "10m"], help="the largest size (default 1m; 100k with --quick)")
    parser.add_argument(
        "--repetitions", type=int, help=f"calls per read (default {REPETITIONS}, quick {QUICK_REPETITIONS})"
    )
    parser.add_argument("--explain", action="store_true", help="print the statement read's plan at each size")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random members")
    args = parser.parse_args(argv)
    largest = args.max or ("100k" if args.quick else "1m")
    names = list(SIZES)
    args.sizes = names[: names.index(largest) + 1]
    if args.repetitions is None:
        args.repetitions = QUICK_REPETITIONS if args.quick else REPETITIONS
    if args.repetitions < 1:
        parser.error("--repetitions must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return on_throwaway_database("scale_bench", lambda db_name: run(args, db_name))


if __name__ == "__main__":
    sys.exit(main())
