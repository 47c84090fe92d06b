"""Each worker keeps the owners of keys it has seen, and still refuses a revoked key
on the very next request: two app instances on one database stand for two workers."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from tests.conftest import make_app
from tests.factories.affiliates import new_affiliate
from tests.factories.merchants import auth

MEMBERS = "/v1/members"
LINKS = "/v1/links"


@pytest.fixture
def other_worker(db_url, app):
    """A second app on the shared database: its own engine and its own key cache."""
    second = make_app(db_url)
    yield second.test_client()
    with second.app_context():
        from app.extensions import db

        db.engine.dispose()


def owner_lookups(app):
    """Count the statements that look a key's owner up (not the version read)."""
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []

    def count(_conn, _cursor, statement, *_args):
        if "JOIN api_keys" in statement or "JOIN affiliate_keys" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen


def test_a_worker_looks_a_live_key_up_once_and_then_reads_only_the_version(app, client, merchant):
    lookups = owner_lookups(app)

    for _ in range(3):
        assert client.get(MEMBERS, headers=merchant["headers"]).status_code == 200

    assert len(lookups) <= 1


def test_a_key_revoked_through_one_worker_is_refused_by_the_other_on_its_next_request(
    client, other_worker, admin_headers, merchant
):
    extra = client.post(f"/v1/merchants/{merchant['id']}/api-keys", headers=admin_headers).get_json()
    for worker in (client, other_worker):
        assert worker.get(MEMBERS, headers=auth(extra["api_key"])).status_code == 200

    revoked = client.delete(f"/v1/merchants/{merchant['id']}/api-keys/{extra['id']}", headers=admin_headers)

    assert revoked.status_code == 204
    assert other_worker.get(MEMBERS, headers=auth(extra["api_key"])).status_code == 401
    assert client.get(MEMBERS, headers=auth(extra["api_key"])).status_code == 401
    assert other_worker.get(MEMBERS, headers=merchant["headers"]).status_code == 200


def test_a_key_rotated_through_one_worker_stops_at_once_in_the_other(client, other_worker, admin_headers, merchant):
    assert other_worker.get(MEMBERS, headers=merchant["headers"]).status_code == 200

    rotated = client.post(
        f"/v1/merchants/{merchant['id']}/api-keys/{merchant['api_key_id']}/rotate", headers=admin_headers
    )

    assert rotated.status_code == 201
    assert other_worker.get(MEMBERS, headers=merchant["headers"]).status_code == 401
    assert other_worker.get(MEMBERS, headers=auth(rotated.get_json()["api_key"])).status_code == 200


def test_a_merchant_deactivated_through_one_worker_is_refused_by_the_other(
    client, other_worker, admin_headers, merchant
):
    assert other_worker.get(MEMBERS, headers=merchant["headers"]).status_code == 200

    changed = client.patch(f"/v1/merchants/{merchant['id']}", json={"active": False}, headers=admin_headers)

    assert changed.status_code == 200
    assert other_worker.get(MEMBERS, headers=merchant["headers"]).status_code == 401


def test_new_terms_reach_the_other_worker_on_its_next_order(client, other_worker, admin_headers, merchant):
    from tests.factories.orders import record_order

    assert record_order(other_worker, merchant["headers"], amount_cents=1500).get_json()["points_earned"] == 10

    changed = client.patch(
        f"/v1/merchants/{merchant['id']}",
        json={"earn_rule": {"points": 20, "per_amount_cents": 1500}},
        headers=admin_headers,
    )

    assert changed.status_code == 200
    assert record_order(other_worker, merchant["headers"], amount_cents=1500).get_json()["points_earned"] == 20


def test_an_affiliate_key_revoked_through_one_worker_is_refused_by_the_other(client, other_worker, admin_headers):
    affiliate = new_affiliate(client, admin_headers)
    assert other_worker.get(LINKS, headers=affiliate["headers"]).status_code == 200

    revoked = client.delete(
        f"/v1/affiliates/{affiliate['id']}/api-keys/{affiliate['api_key_id']}", headers=admin_headers
    )

    assert revoked.status_code == 204
    assert other_worker.get(LINKS, headers=affiliate["headers"]).status_code == 401


def test_a_key_revoked_in_the_database_directly_is_refused_at_once(client, engine, merchant):
    """The version moves by trigger: no code path that changes a key can forget it."""
    assert client.get(MEMBERS, headers=merchant["headers"]).status_code == 200

    with engine.begin() as conn:
        conn.execute(
            text("UPDATE api_keys SET revoked_at = created_at WHERE id = :id"), {"id": int(merchant["api_key_id"])}
        )

    assert client.get(MEMBERS, headers=merchant["headers"]).status_code == 401
