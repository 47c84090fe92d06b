#!/usr/bin/env python3
"""Transparency log benchmark: do the log's costs stay flat as the journal grows?

Run from the repository root:

    .venv/bin/python bench/log_bench.py            # 10,000 vs 1,000,000 entries, a few minutes
    .venv/bin/python bench/log_bench.py --quick    # 10,000 vs 100,000 entries, about a minute

One run creates a throw-away PostgreSQL database, migrates it with the app's
migrations (`flask db upgrade`), and on the same database measures, first at
10,000 entries and again after growing the journal to the large size:

  - the tree head: ``ledger.root_hash(session, size)``;
  - ``ledger.inclusion_proof`` of a random leaf;
  - ``ledger.consistency_proof`` from a random older size;
  - the same three as HTTP answers (``GET /v1/ledger/tree-head``, an entry's
    ``/proof``, ``/consistency``) through the app in process;
  - ``ledger.seal`` (and its commit) of a fixed batch of 1,000 new entries;

each the median of many repetitions, and prints the ratio large/small: the target
is that every ratio stays near 1. At the large size it then checks 1,000 random
inclusion proofs and 200 random consistency proofs with partner_sdk's verifiers,
and the consistency of every pair of successive signed heads.

The journal is written by a bulk loader (``bulk_load``): plain SQL,
``INSERT ... SELECT generate_series(...)``, one entry of kind 'bench' with two
balanced postings between two bench accounts per row. It is a journal for the
log's costs only: the accounts have no balance rows, so ``ledger verify``'s balance
rules are not what it exercises. Everything after the load is the real code:
``ledger.seal`` seals every entry, in its own batches of 5,000, and builds the tree.

Exit status 1 means a proof failed to verify or a seal did not take its batch.
Ratios are reported, never failed: the machine is shared and timings are noisy.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import psycopg  # noqa: E402
from orders_bench import PG_SERVER, checked_flask_cli, git_commit, on_throwaway_database  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import ledger  # noqa: E402
from partner_sdk.transparency import leaf_hash, verify_consistency, verify_inclusion  # noqa: E402

SMALL = 10_000
LARGE = 1_000_000
QUICK_LARGE = 100_000
REPETITIONS = 300
WARMUP_CALLS = 20
SEAL_BATCH = 1_000
SEAL_REPETITIONS = 5
LOAD_CHUNK = 100_000  # entries per bulk INSERT statement
HEAD_STEPS = 4  # signed heads on the way from the small size to the large one
CHECK_LEAVES = 1_000
CHECK_PAIRS = 200
ANSWER_ENTRIES = 64  # random entries whose proof answers are timed
SOURCE, SINK = "bench:log:source", "bench:log:sink"

SQL_ACCOUNTS = (
    "INSERT INTO ledger_accounts (name, asset, non_negative, shards, created_at) "
    "VALUES (:source, 'PTS', false, 1, now()), (:sink, 'PTS', false, 1, now()) RETURNING id"
)
# One entry per generated row and its two postings (-1 from the source, +1 to the sink).
SQL_BULK_LOAD = """
WITH e AS (
    INSERT INTO ledger_entries (kind, idempotency_key, ref, memo, created_at)
    SELECT 'bench', NULL, 'bench:' || g, 'log bench entry ' || g, now()
    FROM generate_series(1, :count) AS g
    RETURNING id
)
INSERT INTO ledger_postings (entry_id, account_id, asset, amount)
SELECT id, :source, 'PTS', -1 FROM e
UNION ALL
SELECT id, :sink, 'PTS', 1 FROM e
"""
SQL_LEAF_ENTRIES = "SELECT seq - 1, entry_id FROM ledger_seals WHERE seq = ANY(:seqs)"
TABLES = ("ledger_entries", "ledger_postings", "ledger_seals", "ledger_tree_nodes")


class BenchFailed(RuntimeError):
    """A seal that did not take its batch; ``on_throwaway_database`` reports it and exits 1."""


# --------------------------------------------------------------------------- building the journal


def bulk_load(session: Session, accounts: tuple[int, int], count: int) -> None:
    """Append ``count`` bench entries, committed, in statements of at most LOAD_CHUNK."""
    while count > 0:
        chunk = min(count, LOAD_CHUNK)
        session.execute(text(SQL_BULK_LOAD), {"count": chunk, "source": accounts[0], "sink": accounts[1]})
        session.commit()
        count -= chunk


def seal_all(session: Session) -> int:
    """The real sealer, batch after batch, until nothing is left; returns how many it sealed."""
    sealed = 0
    while True:
        done = ledger.seal(session)
        session.commit()
        if done == 0:
            return sealed
        sealed += done


def analyze(db_url: str) -> None:
    """What autovacuum would do after a bulk load: fresh statistics and visibility maps."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {', '.join(TABLES)}")


def grow_to(session: Session, db_url: str, accounts: tuple[int, int], size: int, heads: int) -> float:
    """Load and seal up to ``size`` leaves, signing a head at ``heads`` steps; returns the seconds taken."""
    started_s = time.monotonic()
    signer = ledger.Signer(bytes(32))
    start = ledger.tree_size(session)
    for step in range(1, heads + 1):
        target = start + (size - start) * step // heads
        bulk_load(session, accounts, target - ledger.tree_size(session))
        seal_all(session)
        ledger.sign_tree_head(session, signer, now=ledger.utcnow())
        session.commit()
    if ledger.tree_size(session) != size:
        raise BenchFailed(f"the tree has {ledger.tree_size(session)} leaves, not {size}")
    analyze(db_url)
    return time.monotonic() - started_s


# --------------------------------------------------------------------------- measuring


def p50_ms(call: Callable[[], object], repetitions: int) -> float:
    for _ in range(WARMUP_CALLS):
        call()
    timings = []
    for _ in range(repetitions):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def seal_batch_ms(session: Session, accounts: tuple[int, int]) -> float:
    """Median time of ``ledger.seal`` + commit over SEAL_REPETITIONS fresh batches of SEAL_BATCH."""
    timings = []
    for _ in range(SEAL_REPETITIONS):
        bulk_load(session, accounts, SEAL_BATCH)
        started = time.perf_counter()
        done = ledger.seal(session)
        session.commit()
        timings.append(time.perf_counter() - started)
        if done != SEAL_BATCH:
            raise BenchFailed(f"one seal took {done} entries, not the batch of {SEAL_BATCH}")
    return statistics.median(timings) * 1000


def measure(
    session: Session, accounts: tuple[int, int], rng: random.Random, repetitions: int, client
) -> dict[str, float]:
    """Every operation's p50 at the current size; the seal batches grow the tree afterwards."""
    size = ledger.tree_size(session)
    figures = {
        "root_hash (tree head)": p50_ms(lambda: ledger.root_hash(session, size), repetitions),
        "inclusion_proof": p50_ms(lambda: ledger.inclusion_proof(session, rng.randrange(size), size), repetitions),
        "consistency_proof": p50_ms(lambda: ledger.consistency_proof(session, rng.randint(1, size), size), repetitions),
        **answers(session, client, size, rng, repetitions),
    }
    session.rollback()
    figures[f"seal {SEAL_BATCH:,} entries"] = seal_batch_ms(session, accounts)
    return figures


def answers(session: Session, client, size: int, rng: random.Random, repetitions: int) -> dict[str, float]:
    """The same three over HTTP (the Flask app in process, operator key): what a counterparty waits for."""
    seqs = [rng.randrange(size) + 1 for _ in range(ANSWER_ENTRIES)]
    entry_ids = [entry_id for _, entry_id in session.execute(text(SQL_LEAF_ENTRIES), {"seqs": seqs})]
    session.rollback()

    def get(path: str) -> None:
        answer = client.get(path)
        if answer.status_code != 200:
            raise SystemExit(f"{path} answered {answer.status_code}: {answer.get_data(as_text=True)}")

    return {
        "GET tree-head": p50_ms(lambda: get("/v1/ledger/tree-head"), repetitions),
        "GET entry proof": p50_ms(
            lambda: get(f"/v1/ledger/entries/{rng.choice(entry_ids)}/proof?tree_size={size}"), repetitions
        ),
        "GET consistency": p50_ms(
            lambda: get(f"/v1/ledger/consistency?first={rng.randint(1, size)}&second={size}"), repetitions
        ),
    }


def platform_client(db_url: str, admin_key: str):
    """A test client of the app on the bench database; it reads, it never seals (LEDGER_SEAL_INTERVAL_S < 0)."""
    from app import create_app

    application = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url.replace("postgresql://", "postgresql+psycopg://", 1),
            "LOYALTY_ADMIN_KEY": admin_key,
            "LEDGER_SEAL_INTERVAL_S": -1,
        }
    )
    client = application.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {admin_key}"
    return client


# --------------------------------------------------------------------------- checking


def check_inclusion(session: Session, size: int, rng: random.Random) -> int:
    """Verify CHECK_LEAVES random leaves' proofs against the root; returns how many verified."""
    root = ledger.root_hash(session, size)
    leaves = rng.sample(range(size), min(CHECK_LEAVES, size))
    entry_of = dict(session.execute(text(SQL_LEAF_ENTRIES), {"seqs": [leaf + 1 for leaf in leaves]}).all())
    verified = 0
    for leaf in leaves:
        logged = ledger.party_entry(session, entry_of[leaf], None)
        if logged is None or logged.leaf_index != leaf:
            print(f"  FAILED: leaf {leaf} (entry {entry_of[leaf]}) is not logged at that index")
            continue
        proof = ledger.inclusion_proof(session, leaf, size)
        if verify_inclusion(leaf, size, leaf_hash(logged.canonical), proof, root):
            verified += 1
        else:
            print(f"  FAILED: the inclusion proof of leaf {leaf} in {size} does not verify")
    return verified


def check_consistency(session: Session, size: int, rng: random.Random) -> tuple[int, int]:
    """Verify CHECK_PAIRS random (first <= second) proofs; returns how many verified, of how many."""
    pairs = [tuple(sorted((rng.randint(1, size), rng.randint(1, size)))) for _ in range(CHECK_PAIRS)]
    heads = sorted(ledger.list_heads(session, limit=100), key=lambda head: head.tree_size)
    head_pairs = list(zip(heads, heads[1:], strict=False))
    verified = 0
    for first, second in pairs:
        proof = ledger.consistency_proof(session, first, second)
        first_root, second_root = ledger.root_hash(session, first), ledger.root_hash(session, second)
        if verify_consistency(first, second, first_root, second_root, proof):
            verified += 1
        else:
            print(f"  FAILED: the consistency proof from {first} to {second} does not verify")
    for older, newer in head_pairs:
        proof = ledger.consistency_proof(session, older.tree_size, newer.tree_size)
        if verify_consistency(older.tree_size, newer.tree_size, older.root_hash, newer.root_hash, proof):
            verified += 1
        else:
            print(f"  FAILED: signed head {newer.tree_size} does not extend signed head {older.tree_size}")
    return verified, len(pairs) + len(head_pairs)


# --------------------------------------------------------------------------- run


def print_setup(session: Session, args: argparse.Namespace, db_name: str) -> None:
    version = session.execute(text("SHOW server_version")).scalar_one().split()[0]
    print("== Setup: everything below shares the same machine")
    print(
        f"  machine   {os.cpu_count()} CPU cores, shared with other users; {platform.platform()}; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    print(f"  code      commit {git_commit()}, Python {platform.python_version()}, in this one process")
    print(f"  database  PostgreSQL {version} at {PG_SERVER}, throw-away database {db_name}")
    print(
        f"  sizes     {SMALL:,} then {args.large:,} entries (bulk loaded, sealed by ledger.seal); "
        f"p50 of {args.repetitions} calls after {WARMUP_CALLS} warm-up calls, seal: median of "
        f"{SEAL_REPETITIONS} batches"
    )


def print_table(small: dict[str, float], large: dict[str, float], large_size: int) -> None:
    print(f"\n  {'operation':<24} {f'p50 at {SMALL:,}':>16} {f'p50 at {large_size:,}':>18} {'large/small':>12}")
    for name, small_ms in small.items():
        print(f"  {name:<24} {small_ms:13.3f} ms {large[name]:15.3f} ms {large[name] / small_ms:11.2f}x")
    depths = [math.ceil(math.log2(n)) for n in (SMALL, large_size)]
    print(
        f"  a proof holds up to log2(n) hashes, {depths[0]} at {SMALL:,} and {depths[1]} at {large_size:,} "
        f"({depths[1] / depths[0]:.2f}x): the bound for the three reads"
    )
    print("  target: every ratio near 1 (within noise); none is failed on, the machine is shared")


def run(args: argparse.Namespace, db_name: str) -> bool:
    db_url = f"postgresql://{PG_SERVER}/{db_name}"
    env = {**os.environ, "DATABASE_URL": db_url, "LOYALTY_ADMIN_KEY": secrets.token_urlsafe(32)}
    checked_flask_cli(env, "db", "upgrade")
    engine = create_engine(f"postgresql+psycopg://{PG_SERVER}/{db_name}")
    rng = random.Random(args.seed)
    try:
        with Session(engine) as session:
            print_setup(session, args, db_name)
            ids = session.execute(text(SQL_ACCOUNTS), {"source": SOURCE, "sink": SINK}).scalars().all()
            session.commit()
            accounts = (ids[0], ids[1])
            print(f"\n== Building {SMALL:,} entries: {grow_to(session, db_url, accounts, SMALL, 1):.1f} s")
            client = platform_client(db_url, env["LOYALTY_ADMIN_KEY"])
            small = measure(session, accounts, rng, args.repetitions, client)
            seconds = grow_to(session, db_url, accounts, args.large, HEAD_STEPS)
            print(f"== Growing to {args.large:,} entries (bulk load + ledger.seal): {seconds:.1f} s")
            large = measure(session, accounts, rng, args.repetitions, client)
            print_table(small, large, args.large)
            return check_at_large(session, args.large, rng)
    finally:
        engine.dispose()


def check_at_large(session: Session, size: int, rng: random.Random) -> bool:
    print(f"\n== Proofs checked with partner_sdk.transparency at {size:,} leaves")
    included = check_inclusion(session, size, rng)
    consistent, pairs = check_consistency(session, size, rng)
    wanted = min(CHECK_LEAVES, size)
    print(f"  inclusion:   {included} of {wanted} random leaves verified against root_hash({size})")
    print(f"  consistency: {consistent} of {pairs} pairs verified (random pairs and successive signed heads)")
    return included == wanted and consistent == pairs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK_LARGE:,} entries at the large size")
    parser.add_argument("--large", type=int, help=f"entries at the large size (default {LARGE:,})")
    parser.add_argument("--repetitions", type=int, default=REPETITIONS, help="calls per read measurement")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random leaves and sizes")
    args = parser.parse_args(argv)
    if args.large is None:
        args.large = QUICK_LARGE if args.quick else LARGE
    if args.large < 2 * SMALL or args.repetitions < 1:
        parser.error(f"--large must be at least {2 * SMALL:,} and --repetitions at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return on_throwaway_database("log_bench", lambda db_name: run(args, db_name))


if __name__ == "__main__":
    sys.exit(main())
