"""Input that used to reach the database and end in a 500: JSON nested past the
decoder's limit, NUL characters (PostgreSQL refuses them) and lone surrogates (not
UTF-8) in JSON strings, NUL in query strings and form fields. Each is a 4xx in the
problem shape (an HTML page outside /v1) and changes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.mail import OutboxMail
from tests.factories.members import web_client
from tests.factories.merchants import merchant_body
from tests.factories.names import unique


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
