"""Rewards in a merchant's catalog, and redemptions placed through the members' pages."""

from __future__ import annotations

import re

from tests.factories.members import csrf_of
from tests.factories.names import unique

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def reward(client, merchant: dict, **overrides) -> dict:
    body = {
        "kind": "physical",
        "title": unique("Lamp"),
        "description": "A warm desk lamp.",
        "category": "home",
        "points_price": 100,
        "wholesale_value_cents": 300,
        "stock": 5,
    }
    body.update(overrides)
    if body["kind"] == "voucher":
        body.pop("stock", None)
    response = client.post("/v1/catalog/items", json=body, headers=merchant["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def redeem(client, item_id: str, *, address: str = "1 Rue Test, Paris", key: str | None = None):
    page = client.get(f"/items/{item_id}/redeem")
    assert page.status_code == 200, page.get_data(as_text=True)
    data = {
        "csrf_token": csrf_of(page),
        "idempotency_key": key or KEY.search(page.get_data(as_text=True)).group(1),
        "shipping_address": address,
    }
    return client.post(f"/items/{item_id}/redeem", data=data)
