#!/usr/bin/env python3
"""Segments benchmark: does a pass of the refresh-segments job cost what changed,
not what the platform holds?

Run from the repository root:

    .venv/bin/python bench/segments_bench.py            # 10,000 vs 1,000,000 orders, a few minutes
    .venv/bin/python bench/segments_bench.py --quick    # 10,000 vs 100,000 orders, under a minute

One run creates a throw-away PostgreSQL database, migrates it (`flask db upgrade`)
and bulk-loads members and orders in plain SQL (``INSERT ... SELECT
generate_series``: 1 order per member on average, over the last 400 days, at 3
merchants; the segments job reads members, orders, refunds, tiers and interests,
never the ledger, so the orders carry no ledger entries). ``member_facts`` is then
filled from them by the job's own ``refresh_facts``, and 6 segments are created
through the app's service (every rule kind: bought here, elsewhere, orders, spend,
dormant, first order, interests).

At each size it measures a pass of the real job (``app.segments.services.refresh``
in a unit of work, to the end of its pass): after ``--changed`` new orders for as
many existing members, the median of 3 passes, and the members each pass re-read.
It then grows the orders to the large size and measures again, and prints the
ratio large/small: the target is that it stays near 1 (at most 1.5), because a pass
reads only the members that changed. It also checks that every segment's stored
size equals a full recount of its rules.

Exit status 1 when a stored size differs from the recount. Ratios are reported,
never failed: the machine is shared and timings are noisy.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from orders_bench import PG_SERVER, checked_flask_cli, on_throwaway_database  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

SMALL = 10_000
LARGE = 1_000_000
QUICK_LARGE = 100_000
CHANGED = 1_000
PASSES = 3
MERCHANTS = 3
SEGMENTS = [
    {"bought": "here", "min_orders": 2},
    {"bought": "elsewhere_not_here"},
    {"bought": "here", "min_spend_cents": 5_000},
    {"bought": "here", "dormant_days": 180},
    {"first_order_within_days": 30},
    {"interests": ["rock"]},
]

SQL_MEMBERS = """
INSERT INTO members (id, email, created_at)
SELECT g, 'bench-' || g || '@segments.example', now() - interval '400 days'
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
"""
SQL_ORDERS = """
INSERT INTO orders (merchant_id, order_id, member_id, amount_cents, currency, earn_points,
                    earn_per_amount_cents, points_earned, refunded_cents, points_reversed, created_at)
SELECT CAST(:m0 AS bigint) + (g % 3), 'bench-' || :tag || '-' || g, 1 + ((g * 7919) % CAST(:members AS bigint)), 1000 + (g * 37) % 9000, 'EUR',
       10, 1500, 0, 0, 0, now() - (((g * 104729) % 400) || ' days')::interval - interval '1 hour'
FROM generate_series(1, CAST(:count AS bigint)) AS g
"""
SQL_NEW_ORDERS = """
INSERT INTO orders (merchant_id, order_id, member_id, amount_cents, currency, earn_points,
                    earn_per_amount_cents, points_earned, refunded_cents, points_reversed, created_at)
SELECT CAST(:m0 AS bigint) + (g % 3), 'new-' || :tag || '-' || g, 1 + ((g * 15485863) % CAST(:members AS bigint)), 2500, 'EUR', 10, 1500, 0, 0, 0, :at
FROM generate_series(1, CAST(:count AS bigint)) AS g
"""


def app_for(db_name: str):
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://{PG_SERVER}/{db_name}",
            "LOYALTY_ADMIN_KEY": secrets.token_urlsafe(32),
            "LEDGER_SEAL_INTERVAL_S": -1,
        }
    )


def merchants(app) -> int:
    """Three merchants through the operator's API; the id of the first (they follow)."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {app.config['LOYALTY_ADMIN_KEY']}"}
    ids = []
    for n in range(MERCHANTS):
        body = {
            "name": f"Bench shop {n}",
            "domains": [f"shop{n}.example"],
            "currency": "EUR",
            "earn_rule": {"points": 10, "per_amount_cents": 1500},
            "price_per_1000_points_cents": 500,
        }
        answer = client.post("/v1/merchants", json=body, headers=headers)
        if answer.status_code != 201:
            raise RuntimeError(f"creating a merchant failed: {answer.get_json()}")
        ids.append(int(answer.get_json()["id"]))
    if ids != list(range(ids[0], ids[0] + MERCHANTS)):
        raise RuntimeError(f"merchant ids do not follow each other: {ids}")
    return ids[0]


def grow(session: Session, m0: int, members: int, orders: int, tag: str) -> float:
    started = time.monotonic()
    have = session.execute(text("SELECT count(*) FROM members")).scalar_one()
    if members > have:
        session.execute(text(SQL_MEMBERS), {"first": have + 1, "last": members})
        session.execute(text("SELECT setval(pg_get_serial_sequence('members', 'id'), :last)"), {"last": members})
    session.execute(text(SQL_ORDERS), {"m0": m0, "tag": tag, "members": members, "count": orders})
    session.commit()
    session.execute(text("ANALYZE"))
    return time.monotonic() - started


def fill_facts(app, members: int) -> None:
    from app.extensions import db
    from app.segments import rules

    with app.app_context(), Session(db.engine) as session:
        for start in range(1, members + 1, 10_000):
            rules.refresh_facts(session, range(start, min(start + 10_000, members + 1)), "EUR")
        # The job's last pass: after every loaded order (the loader dates them in the past).
        session.execute(
            text(
                "UPDATE segment_job_state SET pass_until = NULL, member_cursor = 0, ran_at = "
                "GREATEST(now(), (SELECT max(created_at) FROM orders)) + interval '1 second'"
            )
        )
        session.commit()


def make_segments(app, m0: int) -> list[int]:
    from app import unit_of_work
    from app.audience import services as audience
    from app.extensions import db
    from app.segments import services

    with app.app_context():
        with unit_of_work.unit() as uow:
            for table in ("segment_sizes", "segment_members", "segments", "member_interests", "interests"):
                uow.session.execute(text(f"DELETE FROM {table}"))  # a new size: segments computed afresh
            audience.add_interest(uow, "rock", "Rock")
            uow.session.execute(
                text(
                    "INSERT INTO member_interests (member_id, slug, created_at) SELECT g, 'rock', now() "
                    "FROM generate_series(1, 500) AS g"
                )
            )
            made = [
                services.create_segment(
                    uow, services.Caller(m0 if "bought" in r else None), {"name": f"s{i}", "rules": r}
                ).id
                for i, r in enumerate(SEGMENTS)
            ]
            uow.commit(None)
        db.session.remove()
    return made


def analyzed(session: Session, segment_ids: list[int]) -> list[int]:
    """Statistics of the segments' new rows, as autovacuum would gather them."""
    session.execute(text("ANALYZE"))
    session.commit()
    return segment_ids


def one_pass(app, session: Session, m0: int, members: int, tag: str, changed: int) -> tuple[float, int]:
    """New orders for ``changed`` members, then a whole pass of the job: (seconds, members re-read)."""
    from app.extensions import db
    from app.segments import services
    from app.unit_of_work import UnitOfWork

    state_at = session.execute(text("SELECT ran_at FROM segment_job_state")).scalar_one()
    at = state_at + timedelta(seconds=5)
    session.execute(text(SQL_NEW_ORDERS), {"m0": m0, "tag": tag, "members": members, "count": changed, "at": at})
    session.commit()
    with app.app_context():
        started, reread = time.monotonic(), 0
        now = at + timedelta(seconds=61)
        while True:
            uow = UnitOfWork(Session(db.engine), now=now)
            try:
                done = services.refresh(uow)
            finally:
                uow.close()
            reread += done
            if done < services.REFRESH_BATCH:
                return time.monotonic() - started, reread


STATEMENT_SECONDS: dict[str, float] = {}


def install_timer(app) -> None:
    """Time every statement by its first words (printed after each size: where a pass spends)."""
    from sqlalchemy import event

    from app.extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        key = " ".join(statement.split())[:90]
        STATEMENT_SECONDS[key] = STATEMENT_SECONDS.get(key, 0.0) + time.perf_counter() - conn.info["bench_started"]


def measure(app, session: Session, m0: int, members: int, label: str, changed: int = CHANGED) -> tuple[float, int]:
    STATEMENT_SECONDS.clear()
    runs = [one_pass(app, session, m0, members, f"{label}{n}", changed) for n in range(PASSES)]
    for key, spent in sorted(STATEMENT_SECONDS.items(), key=lambda kv: -kv[1])[:4]:
        print(f"     {spent * 1000 / PASSES:7.0f} ms/pass  {key}")
    seconds = statistics.median(r[0] for r in runs)
    reread = int(statistics.median(r[1] for r in runs))
    print(
        f"   pass after {CHANGED:,} new orders: {seconds * 1000:.0f} ms (median of {PASSES}), {reread:,} members re-read"
    )
    return seconds, reread


def explain(app, session: Session, members: int) -> None:
    """The plan of one segment's rules applied to 1,000 changed members (``--explain``)."""
    from app.extensions import db
    from app.members.models import Member
    from app.segments import rules
    from app.segments.models import Segment

    with app.app_context():
        segment = Session(db.engine).execute(select(Segment).order_by(Segment.id.desc()).limit(1)).scalar_one()
        ids = [1 + (g * 15485863) % members for g in range(1, CHANGED + 1)]
        query = rules._query(segment.merchant_id, segment.rules, segment.computed_at).where(Member.id.in_(ids))
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    for (line,) in session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).all():
        print(f"     {line[:160]}")


def recount_ok(app, segment_ids: list[int]) -> bool:
    from app.extensions import db
    from app.segments import rules
    from app.segments.models import Segment

    ok = True
    with app.app_context(), Session(db.engine) as session:
        for segment_id in segment_ids:
            segment = session.get(Segment, segment_id)
            found = rules.matching(session, segment.merchant_id, segment.rules, segment.computed_at)
            same = (segment.size, segment.size_customers) == (len(found), sum(found.values()))
            ok &= same
            print(
                f"   segment {segment_id} {segment.rules}: stored {segment.size:,}, recount {len(found):,}"
                + ("" if same else "  MISMATCH")
            )
    return ok


def run(args: argparse.Namespace, db_name: str) -> bool:
    env = {**os.environ, "DATABASE_URL": f"postgresql://{PG_SERVER}/{db_name}"}
    checked_flask_cli(env, "db", "upgrade")
    app = app_for(db_name)
    from app.extensions import db

    with app.app_context():
        session = Session(db.engine)
    try:
        m0 = merchants(app)
        print(f"== Loading {SMALL:,} orders: {grow(session, m0, SMALL, SMALL, 's'):.1f} s")
        install_timer(app)
        fill_facts(app, SMALL)
        segment_ids = analyzed(session, make_segments(app, m0))
        small = measure(app, session, m0, SMALL, "small")
        if args.explain:
            explain(app, session, SMALL)
        print(f"== Growing to {args.large:,} orders: {grow(session, m0, args.large, args.large - SMALL, 'l'):.1f} s")
        fill_facts(app, args.large)
        segment_ids = analyzed(session, make_segments(app, m0))
        large = measure(app, session, m0, args.large, "large")
        if args.explain:
            explain(app, session, args.large)
        more = measure(app, session, m0, args.large, "more", changed=4 * CHANGED)
        ratio = large[0] / small[0]
        verdict = "met" if ratio <= 1.5 else "MISSED"
        print("\n| orders | new orders | pass | members re-read |")
        print("| --- | --- | --- | --- |")
        print(f"| {SMALL:,} | {CHANGED:,} | {small[0] * 1000:.0f} ms | {small[1]:,} |")
        print(f"| {args.large:,} | {CHANGED:,} | {large[0] * 1000:.0f} ms | {large[1]:,} |")
        print(f"| {args.large:,} | {4 * CHANGED:,} | {more[0] * 1000:.0f} ms | {more[1]:,} |")
        print(f"\n{args.large // SMALL}x the orders, same change: {ratio:.2f}x the time (target <= 1.5x: {verdict})")
        print(f"same orders, 4x the change: {more[0] / large[0]:.2f}x the time (a pass costs what changed)")
        print("== Stored sizes against a full recount")
        return recount_ok(app, segment_ids)
    finally:
        session.close()
        with app.app_context():
            db.engine.dispose()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK_LARGE:,} orders at the large size")
    parser.add_argument("--large", type=int, help=f"orders at the large size (default {LARGE:,})")
    parser.add_argument("--explain", action="store_true", help="print the plan of one segment's re-read at each size")
    args = parser.parse_args(argv)
    args.large = args.large or (QUICK_LARGE if args.quick else LARGE)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return on_throwaway_database("segments_bench", lambda db_name: run(args, db_name))


if __name__ == "__main__":
    sys.exit(main())
