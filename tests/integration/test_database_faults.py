"""The database down or restarting: a prompt 503 with Retry-After (never a 500), and
after a restart no failed request at all (the pool checks connections before use).

The restart test runs a PostgreSQL cluster of its own (``initdb`` in a temporary
folder, another port), never the shared server: it is stopped with ``-m immediate``
as a crash would stop it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.constants import DATABASE_RETRY_AFTER_S
from tests.conftest import ADMIN_KEY, BACKEND, free_port, make_app, upgrade
from tests.factories.merchants import auth
from tests.pg_cluster import Cluster, missing_binaries, own_cluster

ADMIN = auth(ADMIN_KEY)


def assert_unavailable(response, mimetype: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.mimetype == mimetype
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER_S)


def test_an_unreachable_database_is_a_503_with_retry_after_on_the_api_and_the_pages():
    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere")
    client = app.test_client()

    api = client.get("/v1/merchants", headers=ADMIN)
    page = client.get("/")

    assert_unavailable(api, "application/problem+json")
    assert api.get_json()["type"] == "/problems/service-unavailable"
    assert "nothing was changed" in api.get_json()["detail"]
    assert_unavailable(page, "text/html")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if BACKEND == "sqlite":
        pytest.skip("restarts a PostgreSQL cluster: runs with LOYALTY_TEST_DATABASE=postgresql")
    if (missing := missing_binaries()) is not None:
        pytest.fail(missing)
    with own_cluster(free_port(), prefix="pg-restart-") as found:
        yield found


def test_a_restarted_postgresql_costs_no_failed_request_and_a_stopped_one_is_a_503(cluster):
    upgrade(cluster.url)
    app = make_app(cluster.url)
    client = app.test_client()
    assert client.get("/v1/merchants", headers=ADMIN).status_code == 200  # the pool now holds a connection

    cluster.stop()
    cluster.start()
    after_restart = client.get("/v1/merchants", headers=ADMIN)
    cluster.stop()
    while_down = client.get("/v1/merchants", headers=ADMIN)
    cluster.start()
    back = client.get("/v1/merchants", headers=ADMIN)

    assert after_restart.status_code == 200, after_restart.get_json()
    assert_unavailable(while_down, "application/problem+json")
    assert back.status_code == 200, back.get_json()
    with app.app_context():
        from app.extensions import db

        db.engine.dispose()
