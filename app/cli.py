"""Operator commands: `flask --app wsgi ledger verify|seal`, `jobs run NAME`, `demo seed`."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.orm import Session

import ledger
from app.extensions import db
from ledger.types import utcnow

ledger_cli = AppGroup("ledger", help="Check and seal the points ledger.")
jobs_cli = AppGroup("jobs", help="Run background jobs once (each is idempotent).")
demo_cli = AppGroup("demo", help="Demo data for a first look.")


@ledger_cli.command("verify")
def verify_command():
    """Check every ledger rule and the hash chain; exit 1 on any violation."""
    with Session(db.engine) as session:
        report = ledger.verify(session)
    for violation in report.violations:
        click.echo(f"VIOLATION {violation}", err=True)
    unsealed = report.entries - report.sealed
    click.echo(f"{report.entries} entries, {report.sealed} sealed, {unsealed} awaiting seal")
    if not report.ok:
        click.echo(f"ledger verify: {len(report.violations)} violation(s)", err=True)
        sys.exit(1)
    click.echo("ledger verify: all rules hold")


@ledger_cli.command("seal")
def seal_command():
    """Seal every committed entry into the hash chain."""
    from app.sealing import seal_now

    total = 0
    while sealed := seal_now(wait=True):
        total += sealed
    click.echo(f"sealed {total} entries")


JOBS = {
    "expire-points": lambda session, now: ledger.expire_lots(session, now=now),
    "expire-holds": lambda session, now: ledger.expire_holds(session, now=now),
    "approve-commissions": lambda session, now: _approve_commissions(session, now),
}


def _approve_commissions(session: Session, now) -> int:
    from app.commissions.services import approve_due
    from app.constants import APPROVE_COMMISSIONS_BATCH

    return approve_due(session, now=now, limit=APPROVE_COMMISSIONS_BATCH)


@jobs_cli.command("run")
@click.argument("name", type=click.Choice(sorted(JOBS)))
def run_job(name: str):
    """Run job NAME until it has nothing left to do."""
    job = JOBS[name]
    total = 0
    while True:
        with Session(db.engine) as session:
            done = job(session, utcnow())
            session.commit()
        total += done
        if not done:
            break
    click.echo(f"{name}: {total}")


@demo_cli.command("seed")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True)
def demo_seed(base_url: str):
    """Fill an empty database with two merchants and members with history."""
    from app.demo import seed

    seed(db.session, base_url=base_url, echo=click.echo)


def register(app: Flask) -> None:
    for group in (ledger_cli, jobs_cli, demo_cli):
        app.cli.add_command(group)
