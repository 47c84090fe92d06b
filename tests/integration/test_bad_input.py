"""Input that used to reach the database and end in a 500: JSON nested past the
decoder's limit, NUL characters (PostgreSQL refuses them) and lone surrogates (not
UTF-8) in JSON strings, NUL in query strings and form fields, integers larger than
their column, timestamps that no datetime holds once in UTC and days outside the range
the platform takes. Each is a 4xx in the problem shape (an HTML page outside /v1) and
changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.mail import OutboxMail
from tests.factories.affiliates import new_affiliate
from tests.factories.boutique import reward
from tests.factories.members import web_client
from tests.factories.merchants import merchant_body
from tests.factories.names import unique
from tests.factories.orders import order_body

BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1


def merchant_count(client, admin_headers) -> int:
    total, cursor = 0, None
    while True:
        page = client.get(
            "/v1/merchants",
            query_string={"limit": 100, **({"cursor": cursor} if cursor else {})},
            headers=admin_headers,
        )
        body = page.get_json()
        total += len(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return total


def post_raw(client, admin_headers, data: str):
    return client.post("/v1/merchants", data=data, headers={**admin_headers, "Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("name", "status", "field"),
    [
        ("Shop\x00Nul", 422, "name"),
        ("Shop\ud800Half", 422, "name"),
    ],
)
def test_text_a_database_cannot_store_is_a_422_naming_the_field(client, admin_headers, name, status, field):
    before = merchant_count(client, admin_headers)

    response = post_raw(client, admin_headers, json.dumps(merchant_body(name=name)))

    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert merchant_count(client, admin_headers) == before


def test_a_list_item_with_a_nul_is_refused_too(client, admin_headers):
    response = post_raw(client, admin_headers, json.dumps(merchant_body(domains=["shop.example", "a\x00.example"])))

    assert response.status_code == 422 and "domains" in response.get_json()["errors"]


def test_json_nested_past_the_decoders_limit_is_a_400(client, admin_headers):
    before = merchant_count(client, admin_headers)

    response = post_raw(client, admin_headers, "[" * 5_000 + "]" * 5_000)

    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert "nested too deeply" in response.get_json()["detail"]
    assert merchant_count(client, admin_headers) == before


def test_a_nul_in_a_query_string_is_a_400_problem_under_v1_and_a_page_elsewhere(client, admin_headers):
    api = client.get("/v1/merchants?cursor=%00", headers=admin_headers)
    page = client.get("/?q=lamp%00")

    assert (api.status_code, api.mimetype) == (400, "application/problem+json")
    assert (page.status_code, page.mimetype) == (400, "text/html")


def test_a_nul_in_a_form_field_is_a_400_page_and_sends_no_mail(app, engine):
    browser = web_client(app)
    email = f"{unique('nul')}@example.com"
    page = browser.get("/signin")
    assert page.status_code == 200

    response = browser.post("/signin", data={"email": email + "\x00", "csrf_token": "x", "next": "/"})

    assert (response.status_code, response.mimetype) == (400, "text/html")
    with Session(engine) as session:
        assert session.execute(select(OutboxMail).where(OutboxMail.recipient.like(f"{email}%"))).first() is None


def assert_refused(response, field: str, status: int = 422) -> None:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"], response.get_json()


def item_titles(client, merchant) -> list[str]:
    return [i["title"] for i in client.get("/v1/catalog/items", headers=merchant["headers"]).get_json()["data"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("points_price", BIGINT_MAX + 1),
        ("wholesale_value_cents", BIGINT_MAX + 1),
        ("stock", INTEGER_MAX + 1),
        ("stock", -(2**70)),
    ],
)
def test_an_integer_larger_than_its_column_is_a_422_and_creates_no_item(client, merchant, field, value):
    body = {"kind": "physical", "title": unique("Big"), "description": "x", "category": "home"}
    body.update({"points_price": 100, "wholesale_value_cents": 300, "stock": 5, field: value})

    response = client.post("/v1/catalog/items", json=body, headers=merchant["headers"])

    assert_refused(response, field)
    assert body["title"] not in item_titles(client, merchant)


def test_an_order_amount_past_a_bigint_is_a_422_and_records_nothing(client, merchant):
    body = order_body(amount_cents=BIGINT_MAX + 1)

    response = client.post("/v1/orders", json=body, headers=merchant["headers"])

    assert_refused(response, "amount_cents")
    assert client.get(f"/v1/orders/{body['order_id']}", headers=merchant["headers"]).status_code == 404


def test_a_merchant_price_past_a_bigint_is_a_422_and_creates_no_merchant(client, admin_headers):
    before = merchant_count(client, admin_headers)

    response = client.post(
        "/v1/merchants", json=merchant_body(price_per_1000_points_cents=BIGINT_MAX + 1), headers=admin_headers
    )

    assert_refused(response, "price_per_1000_points_cents")
    assert merchant_count(client, admin_headers) == before


@pytest.mark.parametrize(
    ("path", "argument"),
    [
        ("/v1/ledger/entries", "after"),
        ("/v1/commissions", "program_id"),
        ("/v1/merchants", "limit"),
    ],
)
def test_a_query_integer_past_a_bigint_is_a_422(client, merchant, admin_headers, path, argument):
    headers = admin_headers if path == "/v1/merchants" else merchant["headers"]

    response = client.get(path, query_string={argument: str(BIGINT_MAX + 1)}, headers=headers)

    assert_refused(response, argument)


def test_an_id_past_a_bigint_in_a_path_is_a_404(client, merchant):
    response = client.get(f"/v1/catalog/items/{BIGINT_MAX + 1}", headers=merchant["headers"])

    assert response.status_code == 404 and response.mimetype == "application/problem+json"


OUT_OF_RANGE_TIMESTAMPS = [
    "0001-01-01T00:00:00+01:00",  # valid ISO 8601, but before year 1 once in UTC
    "9999-12-31T23:59:59-05:00",  # after year 9999 once in UTC
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "1999-12-31T23:59:59+00:00",
    "9000-01-01T00:00:01+00:00",
]


@pytest.mark.parametrize("when", OUT_OF_RANGE_TIMESTAMPS)
@pytest.mark.parametrize("field", ["active_from", "active_until"])
def test_an_out_of_range_timestamp_is_a_422_and_creates_no_item(client, merchant, field, when):
    body = {"kind": "physical", "title": unique("Dated"), "description": "x", "category": "home"}
    body.update({"points_price": 100, "wholesale_value_cents": 300, "stock": 5, field: when})

    response = client.post("/v1/catalog/items", json=body, headers=merchant["headers"])

    assert_refused(response, field)
    assert body["title"] not in item_titles(client, merchant)


@pytest.mark.parametrize("when", OUT_OF_RANGE_TIMESTAMPS[:2])
@pytest.mark.parametrize("field", ["active_from", "active_until"])
def test_an_out_of_range_timestamp_is_a_422_and_leaves_the_item_as_it_was(client, merchant, field, when):
    item = reward(client, merchant, active_from="2030-01-01T00:00:00+00:00", active_until="2031-01-01T00:00:00+00:00")

    response = client.patch(f"/v1/catalog/items/{item['id']}", json={field: when}, headers=merchant["headers"])

    assert_refused(response, field)
    after = client.get(f"/v1/catalog/items/{item['id']}", headers=merchant["headers"]).get_json()
    assert (after["active_from"], after["active_until"]) == (item["active_from"], item["active_until"])


def test_a_timestamp_with_an_offset_is_kept_as_the_same_instant_in_utc(client, merchant):
    item = reward(client, merchant, active_from="2030-01-01T01:00:00+01:00")

    assert item["active_from"].startswith("2030-01-01T00:00:00")


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "9000-01-02"])
@pytest.mark.parametrize("argument", ["from", "to"])
def test_a_report_day_out_of_range_is_a_422(client, admin_headers, argument, day):
    affiliate = new_affiliate(client, admin_headers)

    response = client.get("/v1/affiliate/report", query_string={argument: day}, headers=affiliate["headers"])

    assert_refused(response, argument)


def _integers(schema: dict, components: dict, where: str, seen: frozenset = frozenset()):
    """Every integer a client may send inside ``schema``, with where it is."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _integers(components[name], components, where, seen | {name})
        return
    if schema.get("type") == "integer" and not schema.get("readOnly"):
        yield where, schema
    for part in schema.get("allOf", []) + schema.get("oneOf", []) + schema.get("anyOf", []):
        yield from _integers(part, components, where, seen)
    for name, inner in schema.get("properties", {}).items():
        yield from _integers(inner, components, f"{where}.{name}", seen)
    if "items" in schema:
        yield from _integers(schema["items"], components, f"{where}[]", seen)


def test_every_integer_a_client_sends_is_bounded_within_a_bigint_in_the_contract():
    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
    components = spec["components"]["schemas"]
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                found += _integers(parameter.get("schema", {}), components, f"{method} {path} {parameter['name']}")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                found += _integers(content["schema"], components, f"{method} {path} body")

    unbounded = [where for where, schema in found if not -BIGINT_MAX - 1 <= schema.get("minimum", -(2**64))]
    unbounded += [where for where, schema in found if not schema.get("maximum", 2**64) <= BIGINT_MAX]
    assert len([where for where, _ in found if " body" in where]) > 20  # the walk reaches into the bodies
    assert unbounded == []


def test_errors_on_list_items_beside_a_list_error_answer_422_with_text_keys(client, merchant):
    # marshmallow keys the items' errors by index (int) next to the list's own "_schema".
    body = {
        "name": "Spring",
        "starts_at": "2026-01-01T00:00:00+00:00",
        "ends_at": "2099-01-01T00:00:00+00:00",
        "effect": {"type": "bonus", "points": 10},
        "conditions": {"categories": ["", "a", "a", 5]},
        "budget_points": 100,
    }

    response = client.post("/v1/campaigns", json=body, headers=merchant["headers"])

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    categories = response.get_json()["errors"]["conditions"]["categories"]
    assert "_schema" in categories and "0" in categories
