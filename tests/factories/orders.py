"""Orders recorded through the merchant API: the one way tests record an order."""

from __future__ import annotations

from tests.factories.names import unique, unique_email

ORDER_AMOUNT_CENTS = 4599  # 30 points under merchant_body's earn rule


def order_body(
    *,
    order_id: str | None = None,
    amount_cents: int = ORDER_AMOUNT_CENTS,
    member_email: str | None = None,
    currency: str = "EUR",
    click_token: str | None = None,
    **extra,
) -> dict:
    body = {
        "order_id": order_id or unique("o"),
        "amount_cents": amount_cents,
        "currency": currency,
        "member_email": member_email or unique_email(),
        **extra,
    }
    if click_token is not None:
        body["click_token"] = click_token
    return body


def record_order(client, headers: dict, **fields):
    """POST /v1/orders with a valid body (``fields`` override it); the response, unchecked."""
    return client.post("/v1/orders", json=order_body(**fields), headers=headers)
