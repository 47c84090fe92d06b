"""The merchant catalog API: supply, change, list, withdraw; one merchant never sees another's."""

from __future__ import annotations

import pytest

from tests.factories.boutique import reward


def test_create_get_update_and_deactivate_an_item(client, merchant):
    item = reward(client, merchant, title="Desk lamp", stock=3, image_url="https://cdn.example/lamp.png")

    fetched = client.get(f"/v1/catalog/items/{item['id']}", headers=merchant["headers"]).get_json()
    changed = client.patch(
        f"/v1/catalog/items/{item['id']}", json={"stock": 7, "points_price": 900}, headers=merchant["headers"]
    ).get_json()
    withdrawn = client.post(f"/v1/catalog/items/{item['id']}/deactivate", headers=merchant["headers"]).get_json()

    assert fetched["title"] == "Desk lamp" and fetched["currency"] == "EUR" and fetched["active"] is True
    assert fetched["image_url"] == "https://cdn.example/lamp.png"
    assert (changed["stock"], changed["points_price"]) == (7, 900)
    assert withdrawn["active"] is False


def test_listing_is_paginated_and_only_shows_your_items(client, new_merchant):
    mine, theirs = new_merchant(), new_merchant()
    ids = [reward(client, mine)["id"] for _ in range(3)]
    reward(client, theirs)

    first = client.get("/v1/catalog/items", query_string={"limit": 2}, headers=mine["headers"]).get_json()
    second = client.get(
        "/v1/catalog/items", query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=mine["headers"]
    ).get_json()

    assert [i["id"] for i in first["data"] + second["data"]] == ids
    assert second["next_cursor"] is None


def test_another_merchant_cannot_read_or_change_your_item(client, new_merchant):
    mine, theirs = new_merchant(), new_merchant()
    item = reward(client, mine)

    assert client.get(f"/v1/catalog/items/{item['id']}", headers=theirs["headers"]).status_code == 404
    assert (
        client.patch(f"/v1/catalog/items/{item['id']}", json={"stock": 0}, headers=theirs["headers"]).status_code == 404
    )
    assert client.post(f"/v1/catalog/items/{item['id']}/deactivate", headers=theirs["headers"]).status_code == 404
    assert (
        client.post(
            f"/v1/catalog/items/{item['id']}/codes", json={"generate_codes": 1}, headers=theirs["headers"]
        ).status_code
        == 404
    )


def test_voucher_codes_are_uploaded_or_generated_and_count_as_stock(client, merchant):
    item = reward(client, merchant, kind="voucher", voucher_codes=["UP-0001", "UP-0002"], generate_codes=3)

    added = client.post(
        f"/v1/catalog/items/{item['id']}/codes", json={"voucher_codes": ["UP-0003"]}, headers=merchant["headers"]
    )
    duplicate = client.post(
        f"/v1/catalog/items/{item['id']}/codes", json={"voucher_codes": ["UP-0001"]}, headers=merchant["headers"]
    )

    assert item["stock"] == 5 and len(item["generated_codes"]) == 3
    assert added.status_code == 201 and added.get_json()["stock"] == 6
    assert duplicate.status_code == 409
    assert client.get(f"/v1/catalog/items/{item['id']}", headers=merchant["headers"]).get_json()["stock"] == 6


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "physical"}, "stock"),
        ({"kind": "voucher", "stock": 3}, "stock"),
        ({"kind": "physical", "stock": 1, "voucher_codes": ["AAAA-1"]}, "voucher_codes"),
        ({"kind": "gift", "stock": 1}, "kind"),
        ({"kind": "physical", "stock": -1}, "stock"),
        ({"kind": "physical", "stock": 1, "points_price": 0}, "points_price"),
        ({"kind": "physical", "stock": 1, "category": "Not Valid"}, "category"),
        ({"kind": "physical", "stock": 1, "image_url": "javascript:alert(1)"}, "image_url"),
        (
            {
                "kind": "physical",
                "stock": 1,
                "active_from": "2030-01-02T00:00:00+00:00",
                "active_until": "2030-01-01T00:00:00+00:00",
            },
            "active_until",
        ),
        ({"kind": "physical", "stock": 1, "active_from": "2030-01-02T00:00:00"}, "active_from"),
        ({"kind": "voucher", "voucher_codes": ["no spaces"]}, "voucher_codes"),
    ],
)
def test_bad_items_are_refused_with_the_field_named(client, merchant, body, field):
    full = {"title": "T", "category": "home", "points_price": 10, "wholesale_value_cents": 5, **body}

    response = client.post("/v1/catalog/items", json=full, headers=merchant["headers"])

    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_a_voucher_stock_cannot_be_set_directly(client, merchant):
    item = reward(client, merchant, kind="voucher", generate_codes=1)

    response = client.patch(f"/v1/catalog/items/{item['id']}", json={"stock": 100}, headers=merchant["headers"])

    assert response.status_code == 422


def test_the_catalog_api_needs_a_merchant_key(client, admin_headers):
    assert client.get("/v1/catalog/items").status_code == 401
    assert client.get("/v1/redemptions", headers=admin_headers).status_code == 401
