"""Extension objects, created once and bound to the app in create_app()."""

from flask import has_request_context, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event

from ledger import Base

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

db = SQLAlchemy(model_class=Base)
migrate = Migrate()


def configure_sqlite(engine) -> None:
    """Make SQLite safe for concurrent writers: WAL, a busy timeout, and
    BEGIN IMMEDIATE so a write transaction takes the write lock up front
    instead of failing when it upgrades from a read lock. Requests with a
    safe method only read, so they begin deferred and never block writers."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if has_request_context() and request.method in SAFE_METHODS:
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
