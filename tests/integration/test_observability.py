"""Request ids, the access line, /metrics and /ready (docs/operations.md#observability)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from app.extensions import db
from app.logs import REQUEST_ID_LENGTH_MAX
from tests.conftest import make_app
from tests.factories.orders import order_body

FRESH_ID = re.compile(r"[0-9a-f]{32}")


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
