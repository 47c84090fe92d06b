"""Merchants onboarded through the operator's API."""

from __future__ import annotations

from tests.factories.names import unique


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def merchant_body(**overrides) -> dict:
    """A valid onboarding body: EUR, 10 points per full 15 EUR, 5.00 EUR per 1000 points."""
    body = {
        "name": unique("Shop"),
        "domains": ["shop.example"],
        "currency": "EUR",
        "earn_rule": {"points": 10, "per_amount_cents": 1500},
        "price_per_1000_points_cents": 500,
    }
    body.update(overrides)
    return body


def create_merchant(client, admin_headers, **overrides) -> dict:
    """The created merchant's JSON plus ready ``headers`` for its key."""
    response = client.post("/v1/merchants", json=merchant_body(**overrides), headers=admin_headers)
    assert response.status_code == 201, response.get_json()
    merchant = response.get_json()
    merchant["headers"] = auth(merchant["api_key"])
    return merchant
