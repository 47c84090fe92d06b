"""Outside /v1 every error is an HTML page, never JSON; under /v1 it is problem+json."""

from __future__ import annotations

import pytest

from tests.factories.boutique import redeem, reward
from tests.factories.members import csrf_of, member_with_points, web_client


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/items/abc", 404),
        ("GET", "/nope", 404),
        ("GET", "/items/999999999", 404),
        ("DELETE", "/account", 405),
        ("PUT", "/signin", 405),
    ],
)
def test_an_unknown_page_or_a_wrong_method_answers_an_html_page(client, method, path, status):
    response = client.open(path, method=method)

    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert "<html" in response.get_data(as_text=True).lower()


@pytest.mark.parametrize("method, path, status", [("GET", "/v1/nope", 404), ("DELETE", "/v1/orders", 405)])
def test_an_unknown_api_path_answers_problem_json(client, method, path, status):
    response = client.open(path, method=method)

    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == status


def test_a_refused_redemption_is_an_html_page_with_the_form_again(app, client, engine, merchant):
    item = reward(client, merchant, points_price=10, stock=1)
    _, _, member = member_with_points(app, engine, client, merchant)
    _, _, other = member_with_points(app, engine, client, merchant)
    page = other.get(f"/items/{item['id']}/redeem")
    assert redeem(member, item["id"]).status_code == 303

    refused = other.post(
        f"/items/{item['id']}/redeem",
        data={"csrf_token": csrf_of(page), "idempotency_key": "k" * 20, "shipping_address": "1 Rue Test"},
    )

    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and refused.mimetype == "text/html"
    assert "out of stock" in html and 'name="idempotency_key"' in html


def test_a_refused_sign_in_link_is_an_html_page(app):
    client = web_client(app)
    page = client.get("/signin/link?token=forged")

    refused = client.post("/signin/link", data={"token": "forged", "csrf_token": csrf_of(page), "next": "/"})

    assert refused.status_code == 400 and refused.mimetype == "text/html"
    assert "not valid" in refused.get_data(as_text=True)
