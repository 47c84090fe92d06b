"""The statements job closes the previous calendar month (UTC) for every merchant, once.

It runs on a database of its own: closing a month for every merchant would close
it for the other tests' merchants too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.cli import JOBS, run_batches
from app.settlement import services
from app.settlement.models import Collection, Statement
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


def set_collection(app, statement_id: int, status: str) -> None:
    """What the collect-statements job records once Stripe answered."""
    with app.app_context():
        from app.extensions import db

        with Session(db.engine) as session:
            session.execute(update(Collection).where(Collection.statement_id == statement_id).values(status=status))
            session.commit()


def issue_now(app, merchant_id: str) -> int:
    """A statement up to now, issued as if the close delay had passed."""
    with app.app_context():
        from app.extensions import db

        end = datetime.now(UTC)
        with UnitOfWork(Session(db.engine), clock=lambda: end + timedelta(seconds=CLOSE_DELAY_S)) as uow:
            statement_id = services.issue_statement(uow, int(merchant_id), end, close_delay_s=CLOSE_DELAY_S).id
            uow.commit(None)
            return statement_id


def test_a_merchant_that_leaves_gets_a_final_statement_with_its_outstanding_points(month_app):
    client = month_app.test_client()
    shop = create_merchant(client, auth(ADMIN_KEY))
    # 200 points (1 EUR) in a statement collected, then 100 points (0.50 EUR) in the final one.
    assert record_order(client, shop["headers"], amount_cents=30_000).status_code == 201
    first = issue_now(month_app, shop["id"])
    set_collection(month_app, first, "succeeded")
    assert record_order(client, shop["headers"], amount_cents=15_000).status_code == 201
    left = client.patch(f"/v1/merchants/{shop['id']}", json={"active": False}, headers=auth(ADMIN_KEY)).get_json()
    deactivated_at = datetime.fromisoformat(left["deactivated_at"])

    assert run_statements(month_app, deactivated_at + timedelta(seconds=CLOSE_DELAY_S - 1)) == 0
    assert run_statements(month_app, deactivated_at + timedelta(seconds=CLOSE_DELAY_S)) == 1
    assert run_statements(month_app, deactivated_at + timedelta(seconds=CLOSE_DELAY_S + 60)) == 0

    path = f"/v1/merchants/{shop['id']}/statements"
    listed = client.get(path, headers=auth(ADMIN_KEY)).get_json()["data"]
    assert [s["final"] for s in listed] == [False, True]
    final = listed[1]
    assert (final["period_start"], final["period_end"]) == (listed[0]["period_end"], left["deactivated_at"])
    assert final["lines"][0]["points_bought_cents"] == 50 and final["collection"]["status"] == "pending"
    assert final["liability"] == {
        "points_outstanding": 300,
        "value_cents": 150,
        "collected_cents": 100,
        "coverage_bp": 6_666,
    }
    assert listed[0]["liability"] is None
    reported = client.get("/v1/reports/liability", headers=auth(ADMIN_KEY)).get_json()["merchants"]
    mine = next(row for row in reported if row["merchant_id"] == shop["id"])
    assert {k: mine[k] for k in final["liability"]} == final["liability"]
    assert client.get(f"{path}/{final['id']}", headers=auth(ADMIN_KEY)).get_json() == final

    # Monthly closing goes on after the final statement, from where it ended.
    month_end = next_month_start()
    run_statements(month_app, month_end + timedelta(hours=1))
    after = client.get(path, headers=auth(ADMIN_KEY)).get_json()["data"]
    assert [(s["final"], s["period_start"], s["liability"]) for s in after[2:]] == [(False, final["period_end"], None)]


def test_a_merchant_that_comes_back_before_the_job_gets_no_final_statement(month_app):
    client = month_app.test_client()
    shop = create_merchant(client, auth(ADMIN_KEY))
    path = f"/v1/merchants/{shop['id']}"
    assert client.patch(path, json={"active": False}, headers=auth(ADMIN_KEY)).get_json()["deactivated_at"]

    back = client.patch(path, json={"active": True}, headers=auth(ADMIN_KEY)).get_json()

    assert (back["active"], back["deactivated_at"]) == (True, None)
    assert run_statements(month_app, datetime.now(UTC) + timedelta(seconds=CLOSE_DELAY_S + 1)) == 0
    assert client.get(f"{path}/statements", headers=auth(ADMIN_KEY)).get_json()["data"] == []
