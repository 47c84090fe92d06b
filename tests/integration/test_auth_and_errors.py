"""Keys, tenant boundaries and the one error shape."""

from __future__ import annotations

import pytest

from tests.factories.merchants import auth, merchant_body
from tests.factories.names import unique, unique_email
from tests.factories.orders import order_body, record_order


def assert_problem(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


def test_a_created_merchant_shows_its_key_once_and_stores_only_a_hash(client, admin_headers, merchant, session):
    from app.identity.models import ApiKey

    stored = session.query(ApiKey.key_hash, ApiKey.prefix).filter_by(merchant_id=int(merchant["id"])).one()
    session.rollback()
    assert merchant["api_key"] not in stored
    listed = client.get(f"/v1/merchants/{merchant['id']}/api-keys", headers=admin_headers).get_json()
    assert "api_key" not in listed["data"][0]
    shown = client.get(f"/v1/merchants/{merchant['id']}", headers=admin_headers).get_json()
    assert "api_key" not in shown
    assert shown["earn_rule"] == {
        "points": 10,
        "per_amount_cents": 1500,
        "excluded_categories": [],
        "category_rates": [],
    }


def test_rotating_a_key_stops_the_old_one_at_once(client, admin_headers, merchant):
    key_id = merchant["api_key_id"]

    rotated = client.post(f"/v1/merchants/{merchant['id']}/api-keys/{key_id}/rotate", headers=admin_headers)

    assert rotated.status_code == 201
    assert_problem(record_order(client, merchant["headers"], amount_cents=1500), 401)
    assert record_order(client, auth(rotated.get_json()["api_key"]), amount_cents=1500).status_code == 201


def test_an_extra_key_works_beside_the_first_until_revoked(client, admin_headers, merchant):
    extra = client.post(f"/v1/merchants/{merchant['id']}/api-keys", headers=admin_headers).get_json()
    assert record_order(client, auth(extra["api_key"]), amount_cents=1500).status_code == 201
    assert record_order(client, merchant["headers"], amount_cents=1500).status_code == 201

    revoked = client.delete(f"/v1/merchants/{merchant['id']}/api-keys/{extra['id']}", headers=admin_headers)

    assert revoked.status_code == 204
    assert_problem(record_order(client, auth(extra["api_key"]), amount_cents=1500), 401)
    assert record_order(client, merchant["headers"], amount_cents=1500).status_code == 201
    again = client.delete(f"/v1/merchants/{merchant['id']}/api-keys/{extra['id']}", headers=admin_headers)
    assert_problem(again, 404)


def test_a_key_of_one_merchant_cannot_be_managed_through_another(client, admin_headers, new_merchant):
    first, second = new_merchant(), new_merchant()

    response = client.delete(f"/v1/merchants/{second['id']}/api-keys/{first['api_key_id']}", headers=admin_headers)

    assert_problem(response, 404)
    assert record_order(client, first["headers"], amount_cents=1500).status_code == 201


def test_merchants_are_listed_a_page_at_a_time(client, admin_headers, new_merchant):
    created = {new_merchant()["id"] for _ in range(3)}

    seen, cursor = set(), None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/merchants", headers=admin_headers, query_string=query).get_json()
        seen |= {m["id"] for m in page["data"]}
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert created <= seen


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"domains": ["https://shop.example/path"]}, "domains"),
        ({"domains": []}, "domains"),
        ({"currency": "XXX"}, "currency"),
        ({"earn_rule": {"points": 0, "per_amount_cents": 1500}}, "earn_rule"),
        ({"earn_rule": {"points": 10}}, "earn_rule"),
        ({"price_per_1000_points_cents": -1}, "price_per_1000_points_cents"),
        ({"price_per_1000_points_cents": 1.5}, "price_per_1000_points_cents"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_a_bad_merchant_is_refused_field_by_field(client, admin_headers, change, field):
    response = client.post("/v1/merchants", json=merchant_body(**change), headers=admin_headers)

    body = assert_problem(response, 422)
    assert field in body["errors"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_cents": -5}, "amount_cents"),
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": 15.5}, "amount_cents"),
        ({"amount_cents": "1500"}, "amount_cents"),
        ({"amount_cents": True}, "amount_cents"),
        ({"amount_cents": 10**15}, "amount_cents"),
        ({"member_email": "not-an-email"}, "member_email"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "a/b"}, "order_id"),
        ({"order_id": "x" * 121}, "order_id"),
        ({"currency": None}, "currency"),
        ({"points": 100}, "points"),
    ],
)
def test_a_bad_order_is_refused_field_by_field_and_records_nothing(client, merchant, change, field):
    email = unique_email()
    body = {**order_body(amount_cents=1500, member_email=email), **change}

    response = client.post("/v1/orders", json=body, headers=merchant["headers"])

    problem = assert_problem(response, 422)
    assert field in problem["errors"]
    lookup = client.get("/v1/members", query_string={"email": email}, headers=merchant["headers"])
    assert lookup.get_json()["data"] == []


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 422),
        ("order_id=1", "application/x-www-form-urlencoded", 422),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(client, merchant, data, content_type, status):
    response = client.post("/v1/orders", data=data, content_type=content_type, headers=merchant["headers"])

    assert_problem(response, status)


def test_an_oversized_body_is_refused(client, merchant):
    response = client.post(
        "/v1/orders", data="{" + " " * 70_000 + "}", content_type="application/json", headers=merchant["headers"]
    )

    assert_problem(response, 413)


def test_a_bad_cursor_or_limit_is_refused(client, merchant):
    assert_problem(client.get("/v1/members?limit=0", headers=merchant["headers"]), 422)
    assert_problem(client.get("/v1/members?limit=100000", headers=merchant["headers"]), 422)
    assert_problem(client.get("/v1/members?cursor=abc", headers=merchant["headers"]), 422)
    assert_problem(client.get("/v1/members?cursor=" + "9" * 19, headers=merchant["headers"]), 422)


def test_unknown_paths_and_methods_answer_with_the_problem_shape(client, merchant):
    assert_problem(client.get("/v1/nothing-here", headers=merchant["headers"]), 404)
    assert_problem(client.put("/v1/orders", headers=merchant["headers"]), 405)


def test_a_new_earn_rule_applies_to_new_orders_and_refunds_keep_the_old_one(client, admin_headers, merchant):
    first = record_order(client, merchant["headers"], amount_cents=1500).get_json()

    changed = client.patch(
        f"/v1/merchants/{merchant['id']}",
        json={"earn_rule": {"points": 20, "per_amount_cents": 1500}},
        headers=admin_headers,
    )
    second = record_order(client, merchant["headers"], amount_cents=1500).get_json()
    refunded = client.post(
        f"/v1/orders/{first['order_id']}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 1500},
        headers=merchant["headers"],
    ).get_json()

    assert changed.status_code == 200
    assert changed.get_json()["earn_rule"] == {
        "points": 20,
        "per_amount_cents": 1500,
        "excluded_categories": [],
        "category_rates": [],
    }
    assert (first["points_earned"], second["points_earned"]) == (10, 20)
    assert refunded["points_reversed"] == 10


def test_a_deactivated_merchants_keys_are_refused(client, admin_headers, merchant):
    response = client.patch(f"/v1/merchants/{merchant['id']}", json={"active": False}, headers=admin_headers)

    assert response.get_json()["active"] is False
    assert_problem(record_order(client, merchant["headers"], amount_cents=1500), 401)


@pytest.mark.parametrize(
    "body", [{}, {"currency": "USD"}, {"domains": []}, {"active": "maybe"}, {"active": 0}, {"active": 1}]
)
def test_a_bad_merchant_change_is_refused(client, admin_headers, merchant, body):
    response = client.patch(f"/v1/merchants/{merchant['id']}", json=body, headers=admin_headers)

    assert_problem(response, 422)
    shown = client.get(f"/v1/merchants/{merchant['id']}", headers=admin_headers).get_json()
    assert (shown["currency"], shown["domains"], shown["active"]) == ("EUR", ["shop.example"], True)


def test_a_unique_key_refusing_a_concurrent_twin_answers_409_and_other_constraints_500(db_url):
    from sqlalchemy import insert

    from app.extensions import db
    from app.members.models import Member, MerchantMember
    from ledger.types import utcnow
    from tests.conftest import make_app

    application = make_app(db_url)
    email = unique_email()

    @application.post("/v1/test-twin")
    def twin():
        # What two concurrent requests do when both pass a service's check before inserting.
        for _ in range(2):
            db.session.execute(insert(Member), {"email": email, "created_at": utcnow()})
        return {}

    @application.post("/v1/test-dangling")
    def dangling():
        db.session.execute(
            insert(MerchantMember), {"merchant_id": 10**15, "member_id": 10**15, "first_order_at": utcnow()}
        )
        return {}

    client = application.test_client()
    twin_answer = client.post("/v1/test-twin")
    assert (twin_answer.status_code, twin_answer.mimetype) == (409, "application/problem+json")
    assert twin_answer.get_json()["type"].endswith("/conflict")
    assert client.post("/v1/test-dangling").status_code == 500
    with application.app_context():
        assert db.session.query(Member).filter_by(email=email).count() == 0
        db.session.remove()
        db.engine.dispose()


def test_concurrent_key_requests_never_pass_the_live_key_limit(app, admin_headers, merchant):
    import threading

    from app.constants import ACTIVE_KEYS_PER_MERCHANT_MAX

    attempts = ACTIVE_KEYS_PER_MERCHANT_MAX + 6  # the merchant holds one live key already
    start = threading.Barrier(attempts)
    statuses: list[int] = []

    def one() -> None:
        client = app.test_client()
        start.wait()
        statuses.append(client.post(f"/v1/merchants/{merchant['id']}/api-keys", headers=admin_headers).status_code)

    threads = [threading.Thread(target=one) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] * (ACTIVE_KEYS_PER_MERCHANT_MAX - 1) + [422] * 7
