"""Operator commands: `flask --app wsgi ledger verify|seal`, `jobs run NAME`, `worker`, `demo seed`."""

from __future__ import annotations

import base64
import logging
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable

import click
from flask import Flask
from flask.cli import AppGroup

import ledger
from app import metrics, unit_of_work
from app.constants import WORKER_JOBS_INTERVAL_S, WORKER_POLL_INTERVAL_S
from app.unit_of_work import UnitOfWork
from app.webhooks.delivery import deliver_due

ledger_cli = AppGroup("ledger", help="Check and seal the points ledger.")
jobs_cli = AppGroup("jobs", help="Run background jobs once (each is idempotent).")
demo_cli = AppGroup("demo", help="Demo data for a first look.")


@ledger_cli.command("verify")
@click.option(
    "--since-last",
    is_flag=True,
    help=(
        "Check only what changed since the last successful verify: the seals after its checkpoint "
        "(each linked to the one before), the new entries' rules, the stored balances of the accounts "
        "they moved. A row older than the checkpoint edited in place is not seen: that is the full "
        "check's job. Without a checkpoint, the full check runs."
    ),
)
def verify_command(since_last: bool):
    """Check every ledger rule and the hash chain; exit 1 on any violation, 2 when the database cannot be read.

    Every successful check (full or --since-last) saves a checkpoint where the next --since-last starts.
    """
    from flask import current_app

    from app.readiness import database_problem

    problem = database_problem(current_app)
    if problem is not None:
        click.echo(f"ledger verify: {problem}", err=True)
        sys.exit(2)
    with unit_of_work.unit(_snapshot_session, read_only=True) as uow:
        report = ledger.verify_since_last(uow.session) if since_last else ledger.verify(uow.session)
    for violation in report.violations:
        click.echo(f"VIOLATION {violation}", err=True)
    if report.since_checkpoint is None:
        unsealed = report.entries - report.sealed
        click.echo(f"{report.entries} entries, {report.sealed} sealed, {unsealed} awaiting seal")
    else:
        click.echo(
            f"since checkpoint {report.since_checkpoint}: {report.sealed} newly sealed entries, "
            f"{report.entries - report.sealed} awaiting seal, {len(report.moved)} accounts moved"
        )
    if not report.ok:
        click.echo(f"ledger verify: {len(report.violations)} violation(s)", err=True)
        sys.exit(1)
    _save_checkpoint(report)
    click.echo("ledger verify: all rules hold")


def _save_checkpoint(report: ledger.Report) -> None:
    """Where the next --since-last starts; the books held either way, so a failure to save only warns."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with unit_of_work.unit() as uow:
            saved = ledger.save_verify_checkpoint(uow.session, report, now=uow.now)
            uow.commit(None)
    except SQLAlchemyError as error:
        click.echo(f"ledger verify: the checkpoint could not be saved ({type(error).__name__}: {error})", err=True)
        return
    if not saved:
        click.echo("ledger verify: another verify saved a newer checkpoint meanwhile; this one is not saved")


def _snapshot_session():
    """A session whose every query sees one snapshot of the journal (REPEATABLE READ on PostgreSQL)."""
    from sqlalchemy.orm import Session

    from app.extensions import db

    engine = db.engine
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    return Session(engine)


@ledger_cli.command("seal")
def seal_command():
    """Seal every committed entry into the hash chain and the log (signing a head when one is due)."""
    from app.sealing import seal_now

    total = 0
    while sealed := seal_now(wait=True):
        total += sealed
    click.echo(f"sealed {total} entries")


@ledger_cli.command("sign")
def sign_command():
    """Seal what is left and sign a tree head now (unless the newest covers the whole tree)."""
    from app.transparency.services import head_now

    with unit_of_work.unit() as uow:
        head = uow.commit(head_now(uow))
    click.echo(f"tree head: size {head.tree_size}, root {head.root_hash}, key {head.key_id}")


@ledger_cli.command("keygen")
def keygen_command():
    """Print a new random LEDGER_SIGNING_KEY (base64 of a 32-byte Ed25519 seed) and its key id."""
    seed = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    click.echo(f"LEDGER_SIGNING_KEY={seed}")
    click.echo(f"# key id {ledger.Signer.from_base64(seed).key_id}; keep the seed secret")


# Each job does one batch in the unit at ``uow.now`` and returns how much it did (0: nothing left).
Job = Callable[[UnitOfWork], int]
JOBS: dict[str, Job] = {
    # Before expiry: points whose return window ended are available (and expire from then on).
    "release-points": lambda uow: _orders().release_due(uow),
    "expire-points": lambda uow: ledger.expire_lots(uow.session, now=uow.now),
    # Redemptions first: their holds' timeout also cancels them and returns their stock.
    "expire-holds": lambda uow: _boutique().expire_holds(uow),
    "deliver-webhooks": lambda uow: _deliver_webhooks(uow),
    "send-mail": lambda uow: _send_mail(uow),
    "notify-expiring-points": lambda uow: _members().notify_expiring_points(uow),
    "approve-commissions": lambda uow: _approve_commissions(uow),
    "seal-ledger": lambda uow: _transparency().seal_and_sign(uow, wait=True),
    # Statements first: the month they close is then collected in the same worker round.
    "statements": lambda uow: _statements(uow),
    "collect-statements": lambda uow: _collect_statements(uow),
    # After statements: a month that leaves the operator owing a merchant is paid in the same round.
    "payouts": lambda uow: _payouts(uow),
    # The members' yearly tier review: a lower spend takes a tier away only here.
    "tier-review": lambda uow: _tiers().review_due(uow),
    "expire-card-vouchers": lambda uow: _card().expire_vouchers(uow),
    # After the order-side jobs: segments read orders, refunds and tiers as they are now.
    "refresh-segments": lambda uow: _segments().refresh(uow),
    # After the segments: an offer that starts takes the segment's members as they are now.
    "send-offers": lambda uow: _offers().send_due(uow),
}


def _offers():
    from app.offers import services

    return services


def _segments():
    from app.segments import services

    return services


def _card():
    from app.card import services

    return services


def _orders():
    from app.orders import services

    return services


def _tiers():
    from app.programme import tiers

    return tiers


def _transparency():
    from app.transparency import services

    return services


def _members():
    from app.members import services

    return services


def _boutique():
    from app.boutique import services

    return services


def _send_mail(uow: UnitOfWork) -> int:
    from app import mail
    from app.constants import SEND_MAIL_BATCH

    return mail.send_due(uow, limit=SEND_MAIL_BATCH)


def _deliver_webhooks(uow: UnitOfWork) -> int:
    from flask import current_app

    return deliver_due(uow, allow_insecure=current_app.config["WEBHOOK_ALLOW_INSECURE_URLS"])


def _approve_commissions(uow: UnitOfWork) -> int:
    from app.commissions.services import approve_due
    from app.constants import APPROVE_COMMISSIONS_BATCH

    return approve_due(uow, limit=APPROVE_COMMISSIONS_BATCH)


def _collect_statements(uow: UnitOfWork) -> int:
    from app.constants import COLLECT_STATEMENTS_BATCH
    from app.payments import stripe_gateway
    from app.settlement.collections import collect_due

    return collect_due(uow, stripe_gateway.current(), limit=COLLECT_STATEMENTS_BATCH)


def _payouts(uow: UnitOfWork) -> int:
    from flask import current_app

    from app.constants import PAYOUTS_BATCH
    from app.payments import stripe_gateway
    from app.settlement.payouts import run_payouts

    threshold_cents = current_app.config["AFFILIATE_PAYOUT_THRESHOLD_CENTS"]
    return run_payouts(uow, stripe_gateway.current(), threshold_cents=threshold_cents, limit=PAYOUTS_BATCH)


def _statements(uow: UnitOfWork) -> int:
    from flask import current_app

    from app.constants import STATEMENTS_BATCH
    from app.settlement.services import issue_monthly_statements

    delay_s = current_app.config["STATEMENT_CLOSE_DELAY_S"]
    return issue_monthly_statements(uow, close_delay_s=delay_s, limit=STATEMENTS_BATCH)


def run_batches(job: Job, uow: UnitOfWork, *, stop: threading.Event | None = None) -> int:
    """Run ``job`` batch after batch until it has nothing left (or ``stop`` is set),
    committing through the unit after each batch; returns the total done."""
    total = 0
    while stop is None or not stop.is_set():
        uow.tick()
        done = uow.commit(job(uow))
        total += done
        if not done:
            break
    return total


def run_job_named(name: str, uow: UnitOfWork, *, stop: threading.Event | None = None) -> int:
    """``run_batches`` of job NAME, counted in the job metrics (runs, failures, items)."""
    metrics.job_runs.labels(name).inc()
    try:
        total = run_batches(JOBS[name], uow, stop=stop)
    except Exception:
        metrics.job_failures.labels(name).inc()
        raise
    metrics.job_items.labels(name).inc(total)
    return total


@jobs_cli.command("run")
@click.argument("name", type=click.Choice(sorted(JOBS)))
def run_job(name: str):
    """Run job NAME until it has nothing left to do."""
    with unit_of_work.unit() as uow:
        total = run_job_named(name, uow)
    click.echo(f"{name}: {total}")


@demo_cli.command("seed")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True)
def demo_seed(base_url: str):
    """Fill an empty database with two merchants and members with history."""
    from app.demo import seed

    with unit_of_work.unit() as uow:
        seed(uow, base_url=base_url, echo=click.echo)


@click.command("worker")
@click.option(
    "--poll-interval-s",
    type=float,
    default=WORKER_POLL_INTERVAL_S,
    show_default=True,
    help="Pause when no webhook is due.",
)
@click.option(
    "--jobs-interval-s",
    type=float,
    default=WORKER_JOBS_INTERVAL_S,
    show_default=True,
    help="How often the other jobs run.",
)
def worker_command(poll_interval_s: float, jobs_interval_s: float):
    """Deliver webhooks as they fall due and run the other jobs periodically.

    Stops cleanly on SIGTERM or SIGINT, after the attempt in flight. Run as
    many as you like on PostgreSQL: they share the work without overlap.
    """
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    jobs_due_s = 0.0
    click.echo("worker started")
    try:
        while not stop.is_set():
            if time.monotonic() >= jobs_due_s:
                for name in JOBS:
                    if name not in WORKER_LOOP_JOBS:
                        _drain(name, stop)
                jobs_due_s = time.monotonic() + jobs_interval_s
            if not sum(_drain(name, stop) for name in WORKER_LOOP_JOBS):
                stop.wait(poll_interval_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("worker stopped")


# What the worker runs at every poll, as it falls due: webhooks and mails (a sign-in link cannot wait).
WORKER_LOOP_JOBS = ("deliver-webhooks", "send-mail")


def _drain(name: str, stop: threading.Event) -> int:
    """Run job NAME until it has nothing left or the worker stops; errors are logged, not fatal."""
    try:
        with unit_of_work.unit() as uow:
            return run_job_named(name, uow, stop=stop)
    except Exception:
        logging.getLogger(__name__).exception("job %s failed; the worker carries on", name)
        stop.wait(WORKER_POLL_INTERVAL_S)
    return 0


def register(app: Flask) -> None:
    for group in (ledger_cli, jobs_cli, demo_cli):
        app.cli.add_command(group)
    app.cli.add_command(worker_command)
