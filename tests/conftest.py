"""Fixtures shared by every test.

The database is SQLite by default. With LOYALTY_TEST_DATABASE=postgresql the
suite runs against PostgreSQL (TEST_POSTGRES_URL, default the local `test`
database), in a throw-away database created for this run; if PostgreSQL
cannot be reached the run fails instead of skipping.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from tests.factories.merchants import auth, create_merchant

# The session fixture ``stripe_fake`` (localstripe on loopback) for every test.
pytest_plugins = ["tests.stripe_fake"]

ADMIN_KEY = "test-operator-key-0123456789abcdef"
POSTGRES_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKEND = os.environ.get("LOYALTY_TEST_DATABASE", "sqlite")


def _postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", POSTGRES_URL_DEFAULT)


class Databases:
    """Creates migrated throw-away databases and removes them at the end of the run."""

    def __init__(self, tmp_dir):
        self.tmp_dir = tmp_dir
        self.created: list[str] = []
        if BACKEND not in ("sqlite", "postgresql"):
            raise RuntimeError(f"LOYALTY_TEST_DATABASE must be sqlite or postgresql, not {BACKEND!r}")
        if BACKEND == "postgresql":
            self.admin = create_engine(_postgres_admin_url(), isolation_level="AUTOCOMMIT")
            try:
                with self.admin.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception as error:
                raise RuntimeError(f"PostgreSQL was asked for and cannot be reached: {error}") from error

    def new(self, *, migrate: bool = True) -> str:
        name = f"loyalty_test_{uuid.uuid4().hex[:12]}"
        if BACKEND == "postgresql":
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(_postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
        else:
            url = f"sqlite:///{self.tmp_dir / (name + '.sqlite3')}"
        self.created.append(name)
        if migrate:
            upgrade(url)
        return url

    def drop_all(self) -> None:
        if BACKEND != "postgresql":
            return
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def make_app(url: str, **config):
    from app import create_app

    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "LOYALTY_ADMIN_KEY": ADMIN_KEY,
            "LEDGER_SEAL_INTERVAL_S": 0,
            # Tests write buffered clicks with clicks.flush(); no background thread may
            # still be writing when a test disposes of its engine.
            "CLICK_FLUSH_INTERVAL_S": 0,
            # Tests issue statements up to the moment they made their entries.
            "STATEMENT_CLOSE_DELAY_S": 0,
            # Tests make bursts on purpose; the rate-limit tests switch the limits on.
            "RATELIMIT_ENABLED": False,
            **config,
        }
    )


def free_port() -> int:
    """A loopback port nothing listens on (for a server to start on, or to find closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def upgrade(url: str, revision: str = "head") -> None:
    import flask_migrate

    app = make_app(url)
    with app.app_context():
        flask_migrate.upgrade(revision=revision)
        from app.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def db_url(databases) -> str:
    """The run's shared database: tests use fresh merchants and emails, never cleanup."""
    return databases.new()


@pytest.fixture(scope="session")
def app(db_url, stripe_fake):
    # Stripe is localstripe for the shared app too, so a route that reaches Stripe
    # (billing, under the API fuzz test) meets a real peer, not a missing key's 502.
    application = make_app(db_url, STRIPE_API_BASE=stripe_fake.url, STRIPE_API_KEY=stripe_fake.api_key)
    yield application
    application.extensions["stripe_gateway"].close()
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


# The secret Stripe signs webhook events with, for the apps of the webhook tests.
WEBHOOK_SECRET = "whsec_test_collections"


@pytest.fixture(scope="module")
def webhook_app(db_url):
    """An app that verifies Stripe webhooks against ``WEBHOOK_SECRET``."""
    application = make_app(db_url, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    yield application
    application.extensions["stripe_gateway"].close()
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def stripe_client(stripe_fake):
    """The official SDK on localstripe: what the platform did at Stripe, read back."""
    return stripe_fake.client()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def engine(app):
    from app.extensions import db

    with app.app_context():
        return db.engine


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


@pytest.fixture
def db_session(engine) -> Iterator[Session]:
    """A session whose every write is rolled back after the test, commits included.

    As pypi/warehouse does: one connection, an outer transaction begun on it, and a
    Session bound to it with ``join_transaction_mode="create_savepoint"``. Code under
    test that calls ``session.commit()`` only releases a SAVEPOINT and
    ``session.rollback()`` only rolls back to one; the outer transaction is rolled
    back at teardown, so nothing the test wrote is seen by the next test or left in
    the run's shared database.

    Use it for service-level tests that take a session (``ledger.*``, ``services.*``,
    later a unit of work built on it): pass ``db_session`` where the code takes a
    session. Requests through ``client`` run on their own connections and do not see
    its uncommitted rows; on SQLite the outer transaction also holds the database's
    write lock (the engine begins with ``BEGIN IMMEDIATE``), so a test must not write
    through ``client`` or another session while it holds ``db_session``.

    SQLite: pysqlite's own transaction handling breaks SAVEPOINT; app.extensions
    already applies SQLAlchemy's documented workaround (``isolation_level = None`` on
    connect, ``BEGIN`` emitted on the engine's begin event), so savepoints nest
    properly here as on PostgreSQL.
    """
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return auth(ADMIN_KEY)


@pytest.fixture
def new_merchant(client, admin_headers) -> Callable[..., dict]:
    """Create a merchant through the API: returns its JSON plus ready `headers`."""
    return functools.partial(create_merchant, client, admin_headers)


@pytest.fixture
def merchant(new_merchant) -> dict:
    return new_merchant()


@dataclass(frozen=True)
class LiveServer:
    url: str
    admin_key: str


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[LiveServer]:
    """The platform served over real HTTP on a loopback port, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", ADMIN_KEY)
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def api_merchant(app) -> dict:
    """One merchant for generated requests (session-wide: hypothesis calls the test many times)."""
    return create_merchant(app.test_client(), auth(ADMIN_KEY))


@contextmanager
def serve(wsgi_app) -> Iterator[str]:
    """Serve any WSGI app over HTTP on a loopback port, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
