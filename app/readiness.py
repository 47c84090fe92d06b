"""Whether the database can serve: reachable, and its schema at the migrations' head.

``flask ledger verify`` says so in one line instead of a traceback; the same check
is what a readiness probe needs."""

from __future__ import annotations

import os

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db


def migrations_head(app: Flask) -> str | None:
    folder = os.path.join(os.path.dirname(app.root_path), "migrations")
    return ScriptDirectory(folder).get_current_head()


def database_problem(app: Flask) -> str | None:
    """Why the app's database cannot serve (None: it can). Call inside an app context."""
    head = migrations_head(app)
    try:
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return f"the database cannot be reached ({reason})"
    if current is None:
        return "the database has no schema yet: run `flask --app wsgi db upgrade`"
    if current != head:
        return f"the database schema is at revision {current}, not {head}: run `flask --app wsgi db upgrade`"
    return None
