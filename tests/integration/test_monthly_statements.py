"""The statements job closes the previous calendar month (UTC) for every merchant, once.

It runs on a database of its own: closing a month for every merchant would close
it for the other tests' merchants too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cli import JOBS, run_batches
from app.settlement.models import Statement
from app.unit_of_work import UnitOfWork
from tests.conftest import ADMIN_KEY, make_app
from tests.factories.merchants import auth, create_merchant
from tests.factories.orders import record_order

CLOSE_DELAY_S = 300


@pytest.fixture(scope="module")
def month_app(databases, stripe_fake):
    application = make_app(
        databases.new(),
        STATEMENT_CLOSE_DELAY_S=CLOSE_DELAY_S,
        STRIPE_API_BASE=stripe_fake.url,
        STRIPE_API_KEY=stripe_fake.api_key,
    )
    yield application
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


def next_month_start() -> datetime:
    now = datetime.now(UTC)
    return (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)


def run_statements(app, now: datetime) -> int:
    with app.app_context():
        from app.extensions import db

        with UnitOfWork(Session(db.engine), clock=lambda: now) as uow:
            return run_batches(JOBS["statements"], uow)


def statements(app) -> list[Statement]:
    with app.app_context():
        from app.extensions import db

        with Session(db.engine) as session:
            return list(session.execute(select(Statement).order_by(Statement.merchant_id)).scalars())


def test_the_job_closes_last_month_once_for_every_merchant_after_the_close_delay(month_app):
    client = month_app.test_client()
    shops = [create_merchant(client, auth(ADMIN_KEY)) for _ in range(3)]
    for shop in shops:
        assert record_order(client, shop["headers"], amount_cents=30_000).status_code == 201
    month_end = next_month_start()

    assert run_statements(month_app, month_end + timedelta(seconds=CLOSE_DELAY_S - 1)) == 0
    assert run_statements(month_app, month_end + timedelta(hours=1)) == 3
    assert run_statements(month_app, month_end + timedelta(hours=2)) == 0

    issued = statements(month_app)
    assert [str(s.merchant_id) for s in issued] == [shop["id"] for shop in shops]
    assert {s.period_end for s in issued} == {month_end}
    assert all(s.lines[0].points_bought_cents == 100 and s.lines[0].net_cents == 100 for s in issued)
    assert all(s.collection is not None and s.collection.status == "pending" for s in issued)


def test_a_merchant_that_joined_after_the_month_began_waits_for_the_next_one(month_app):
    client = month_app.test_client()
    create_merchant(client, auth(ADMIN_KEY))
    before = len(statements(month_app))

    assert run_statements(month_app, datetime.now(UTC) + timedelta(seconds=CLOSE_DELAY_S + 1)) == 0
    assert len(statements(month_app)) == before
    result = month_app.test_cli_runner().invoke(args=["jobs", "run", "statements"])
    assert result.exit_code == 0 and result.output.strip() == "statements: 0"
