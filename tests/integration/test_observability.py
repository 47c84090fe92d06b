"""Request ids, the access line, /metrics and /ready (docs/operations.md#observability)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from app import cli
from app.clicks import services as clicks
from app.extensions import db
from app.logs import REQUEST_ID_LENGTH_MAX
from tests.conftest import ADMIN_KEY, make_app, upgrade
from tests.factories.affiliates import build_world, follow
from tests.factories.merchants import auth, create_merchant
from tests.factories.orders import order_body
from tests.factories.webhooks import register_endpoint

ROOT = Path(__file__).resolve().parents[2]
FRESH_ID = re.compile(r"[0-9a-f]{32}")
METRICS_TOKEN = "metrics-token-for-prometheus-0123456789"


@pytest.fixture
def fresh(databases) -> Iterator:
    """An app on a database of its own (so that the outbox holds only this test's deliveries)."""
    made = []

    def make(url: str | None = None, **config):
        application = make_app(url or databases.new(), **config)
        made.append(application)
        return application

    yield make
    for application in made:
        with application.app_context():
            db.engine.dispose()


def samples(client, **headers) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=headers or auth(ADMIN_KEY))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


# -- request ids ----------------------------------------------------------------------


def test_every_answer_carries_a_fresh_request_id(client):
    first, second = client.get("/health"), client.get("/health")

    assert FRESH_ID.fullmatch(first.headers["X-Request-Id"])
    assert FRESH_ID.fullmatch(second.headers["X-Request-Id"])
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


@pytest.mark.parametrize("given", ["abc-123", "Root=1-67891233-abcdef012345678912345678", "x" * REQUEST_ID_LENGTH_MAX])
def test_a_sane_request_id_from_the_caller_is_kept(client, given):
    response = client.get("/v1/orders/o-1", headers={"X-Request-Id": given})

    assert response.status_code == 401
    assert response.headers["X-Request-Id"] == given


@pytest.mark.parametrize(
    "given",
    ["abc\ninjected: yes", "abc\r\nx", "x" * (REQUEST_ID_LENGTH_MAX + 1), "", "has space", "caf\u00e9", "nul\x00"],
    ids=["newline", "crlf", "too-long", "empty", "space", "non-ascii", "nul"],
)
def test_a_malicious_request_id_is_replaced_by_a_fresh_one(client, given):
    # Through the environ: the test client itself refuses to send some of these headers.
    response = client.get("/health", environ_overrides={"HTTP_X_REQUEST_ID": given})

    assert response.status_code == 200
    assert FRESH_ID.fullmatch(response.headers["X-Request-Id"])


def test_the_access_line_of_a_request_carries_its_id(client, merchant, caplog):
    with caplog.at_level(logging.INFO, logger="app.access"):
        response = client.post(
            "/v1/orders", json=order_body(), headers={**merchant["headers"], "X-Request-Id": "trace-me-1"}
        )

    assert response.status_code == 201
    [line] = [record for record in caplog.records if record.name == "app.access"]
    assert line.request_id == "trace-me-1"
    assert (line.method, line.path, line.status) == ("POST", "/v1/orders", 201)
    assert line.duration_ms >= 0
    assert line.getMessage().startswith("POST /v1/orders 201 ")


def test_a_failure_is_answered_and_logged_with_the_same_request_id(fresh, db_url, caplog):
    application = fresh(db_url)

    @application.get("/v1/test-boom")
    def boom():
        raise RuntimeError("kaboom")

    @application.get("/test-boom-page")
    def boom_page():
        raise RuntimeError("kaboom")

    client = application.test_client()
    with caplog.at_level(logging.INFO):
        answer = client.get("/v1/test-boom", headers={"X-Request-Id": "find-my-traceback"})
        page = client.get("/test-boom-page", headers={"X-Request-Id": "find-my-page"})

    assert answer.status_code == 500 and answer.mimetype == "application/problem+json"
    assert answer.get_json()["request_id"] == "find-my-traceback"
    assert answer.headers["X-Request-Id"] == "find-my-traceback"
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR and r.request_id == "find-my-traceback"]
    assert failure.exc_info and "kaboom" in str(failure.exc_info[1])
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "find-my-page" in page.get_data(as_text=True)


def test_a_refusal_below_500_names_no_request_id_in_its_body(client):
    response = client.get("/v1/orders/o-1")

    assert response.status_code == 401
    assert "request_id" not in response.get_json()


# -- /metrics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, auth("not-the-key"), auth(ADMIN_KEY + "x"), {"Authorization": "Basic abc"}],
    ids=["none", "empty", "unknown", "longer", "basic"],
)
def test_metrics_refuse_anonymous_callers(client, headers):
    response = client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "loyalty_" not in response.get_data(as_text=True)


def test_metrics_refuse_a_merchants_key(client, merchant):
    assert client.get("/metrics", headers=merchant["headers"]).status_code == 401


def test_metrics_take_the_metrics_token_when_one_is_set(fresh, db_url):
    client = fresh(db_url, METRICS_TOKEN=METRICS_TOKEN).test_client()

    assert client.get("/metrics", headers=auth(METRICS_TOKEN)).status_code == 200
    assert client.get("/metrics", headers=auth(ADMIN_KEY)).status_code == 200
    assert client.get("/metrics", headers=auth(METRICS_TOKEN[:-1])).status_code == 401


def test_metrics_count_what_committed_and_not_the_replays(fresh, monkeypatch):
    application = fresh()
    client, admin = application.test_client(), auth(ADMIN_KEY)
    world = build_world(client, admin, lambda **kw: create_merchant(client, admin, **kw))
    merchant = world.merchant
    assert register_endpoint(client, merchant["headers"]).status_code == 201
    before = samples(client)

    order = order_body()
    assert client.post("/v1/orders", json=order, headers=merchant["headers"]).status_code == 201
    assert client.post("/v1/orders", json=order, headers=merchant["headers"]).status_code == 200
    refund = {"refund_id": "r-metrics", "amount_cents": 100}
    refund_path = f"/v1/orders/{order['order_id']}/refunds"
    assert client.post(refund_path, json=refund, headers=merchant["headers"]).status_code == 201
    assert client.post(refund_path, json=refund, headers=merchant["headers"]).status_code == 200
    assert follow(client, world.link["code"]).status_code == 302
    assert follow(client, world.link["code"], method="head").status_code == 302  # not a click
    assert clicks.flush(application) == 1
    runner = application.test_cli_runner()
    assert runner.invoke(args=["jobs", "run", "expire-points"]).exit_code == 0
    monkeypatch.setitem(cli.JOBS, "expire-points", _failing_job)
    assert runner.invoke(args=["jobs", "run", "expire-points"]).exit_code != 0
    after = samples(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("loyalty_orders_recorded_total") == 1
    assert delta("loyalty_refunds_recorded_total") == 1
    assert delta("loyalty_clicks_counted_total") == 1
    assert delta("loyalty_click_flushes_total") == 1
    assert delta("loyalty_click_flush_rows_total") == 1
    assert delta("loyalty_job_runs_total", job="expire-points") == 2
    assert delta("loyalty_job_failures_total", job="expire-points") == 1
    latency = "loyalty_http_request_duration_seconds_count"
    assert delta(latency, method="POST", route="/v1/orders", status="201") == 1
    assert delta(latency, method="POST", route="/v1/orders", status="200") == 1
    assert delta(latency, method="POST", route="/v1/orders/<string:order_id>/refunds", status="201") == 1
    assert delta(latency, method="HEAD", route="/c/<path:code>", status="302") == 1
    assert not [key for key in after if order["order_id"] in str(key) or world.link["code"] in str(key)]
    # The order's order.points_awarded (and nothing else) waits for the endpoint.
    assert value(after, "loyalty_outbox_pending_deliveries") == 1
    assert value(after, "loyalty_outbox_oldest_pending_age_seconds") > 0


def _failing_job(_uow) -> int:
    raise RuntimeError("this job fails on purpose")


def test_an_unknown_path_or_method_does_not_grow_the_route_labels(client):
    before = samples(client)

    assert client.get("/no/such/path/12345").status_code == 404
    assert client.open("/health", method="BREW").status_code == 405

    after = samples(client)
    latency = "loyalty_http_request_duration_seconds_count"
    assert (
        value(after, latency, method="GET", route="unmatched", status="404")
        - value(before, latency, method="GET", route="unmatched", status="404")
        == 1
    )
    assert not [key for key in after if "12345" in str(key) or "BREW" in str(key)]


def test_metrics_leave_the_outbox_out_when_the_database_does_not_answer(fresh, tmp_path):
    client = fresh(f"sqlite:///{tmp_path}/missing/dir/db.sqlite3").test_client()

    found = samples(client)

    assert ("loyalty_outbox_pending_deliveries", frozenset()) not in found
    assert any(name == "loyalty_orders_recorded_total" for name, _ in found)


# -- /health and /ready -----------------------------------------------------------------


def test_health_is_a_cheap_process_check(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_on_a_migrated_database(client):
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "database": "ok", "migrations": "at head"}


def assert_not_ready(response, detail: str) -> None:
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"].isdigit()
    body = response.get_json()
    assert body["type"] == "/problems/service-unavailable"
    assert detail in body["detail"], body
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_not_ready_on_a_database_that_is_not_migrated(fresh, databases):
    response = fresh(databases.new(migrate=False)).test_client().get("/ready")

    assert_not_ready(response, "no schema")


def test_not_ready_on_a_database_behind_this_release(fresh, databases):
    url = databases.new(migrate=False)
    upgrade(url, revision="0001")

    response = fresh(url).test_client().get("/ready")

    assert_not_ready(response, "at 0001")


def test_not_ready_when_the_database_does_not_answer(fresh, tmp_path):
    response = fresh(f"sqlite:///{tmp_path}/missing/dir/db.sqlite3").test_client().get("/ready")

    assert_not_ready(response, "does not answer")


def test_ready_on_a_schema_a_newer_release_migrated(fresh, databases):
    url = databases.new(migrate=False)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('9999_from_the_future')"))
    engine.dispose()

    response = fresh(url).test_client().get("/ready")

    assert response.status_code == 200
    assert response.get_json()["migrations"] == "ahead of this release"


MULTIPROCESS_CHILD = """
import sys
from tests.conftest import ADMIN_KEY, make_app
client = make_app(sys.argv[1]).test_client()
for _ in range(int(sys.argv[2])):
    assert client.get("/health").status_code == 200
if sys.argv[3] == "scrape":
    print(client.get("/metrics", headers={"Authorization": "Bearer " + ADMIN_KEY}).get_data(as_text=True))
"""


def test_metrics_add_up_the_processes_sharing_a_multiprocess_dir(db_url, tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def child(requests: int, then: str) -> str:
        ran = subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_CHILD, db_url, str(requests), then],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        return ran.stdout

    child(3, "exit")  # a worker that served three requests, then died
    scraped = child(2, "scrape")

    found = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
    }
    health = frozenset({"method": "GET", "route": "/health", "status": "200"}.items())
    assert found[("loyalty_http_request_duration_seconds_count", health)] == 5
