"""Merchant billing through the operator's API, and what a merchant's browser does at Stripe."""

from __future__ import annotations

VISA = "4242424242424242"
# localstripe declines these when they are attached (or a SetupIntent is confirmed with them).
DECLINED_CARD = "4000000000000002"
IBAN = "DE89370400440532013000"


def billing_path(merchant_id: str) -> str:
    return f"/v1/merchants/{merchant_id}/billing"


def set_up(client, admin_headers, merchant_id: str):
    return client.post(billing_path(merchant_id), headers=admin_headers)


def card(stripe_client, number: str = VISA):
    """A card payment method at Stripe, not yet attached to anyone."""
    return stripe_client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )


def sepa_debit(stripe_client, iban: str = IBAN):
    return stripe_client.v1.payment_methods.create(params={"type": "sepa_debit", "sepa_debit": {"iban": iban}})


def confirmed(stripe_client, setup_intent_id: str, payment_method) -> str:
    """Confirm the SetupIntent with the payment method, as Stripe.js does in the merchant's browser."""
    intent = stripe_client.v1.setup_intents.confirm(setup_intent_id, params={"payment_method": payment_method.id})
    assert intent.status == "succeeded", intent.status
    return payment_method.id
