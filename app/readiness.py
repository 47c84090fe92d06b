"""Whether the database can serve: it answers, and its schema is this release's.

One check for the ``/ready`` probe and for ``flask ledger verify`` (which then says
what is wrong in one line instead of a traceback). A schema *ahead* of this release
(revisions it does not know: a newer release migrated first) serves: taking the old
instances out of service during a rolling deploy would be an outage."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from app.extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    problem: str | None  # None: ready
    migrations: str = ""  # "at head" or "ahead of this release", when ready


def check(app: Flask, *, bound=None) -> Readiness:
    """Call inside an app context; ``bound(connection)`` may limit the statements' time."""
    schema = _schema(app)
    try:
        with db.engine.connect() as connection:
            if bound is not None:
                bound(connection)
            connection.execute(text("SELECT 1"))
            current = _database_revisions(connection)
    except Exception as error:  # any failure to read is "not ready", never a crash of the probe
        log.warning("not ready: the database does not answer", exc_info=True)
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0:1]
        return Readiness(f"the database does not answer ({reason[0] if reason else type(error).__name__})")
    if not current:
        return Readiness("the database has no schema yet: run `flask --app wsgi db upgrade`")
    if current <= schema.known and current != schema.heads:
        shown, expected = ", ".join(sorted(current)), ", ".join(sorted(schema.heads))
        return Readiness(
            f"the database schema is at {shown}, this release needs {expected}: run `flask --app wsgi db upgrade`"
        )
    return Readiness(None, "at head" if current == schema.heads else "ahead of this release")


def database_problem(app: Flask) -> str | None:
    """Why the app's database cannot serve (None: it can)."""
    return check(app).problem


def _database_revisions(connection: Connection) -> set[str]:
    """What ``alembic_version`` says (read directly: alembic's own reader logs every probe)."""
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


class _Schema:
    def __init__(self, directory: str):
        script = ScriptDirectory(directory)
        self.heads = set(script.get_heads())
        self.known = {revision.revision for revision in script.walk_revisions()}


def _schema(app: Flask) -> _Schema:
    """This release's migrations, read once per app (they do not change while it runs)."""
    found = app.extensions.get("readiness.schema")
    if found is None:
        found = app.extensions["readiness.schema"] = _Schema(app.extensions["migrate"].directory)
    return found
