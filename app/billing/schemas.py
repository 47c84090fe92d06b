from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.constants import STRIPE_ID_LENGTH_MAX
from app.schemas import StrictSchema


class PaymentMethodChoiceSchema(StrictSchema):
    payment_method = ma.fields.String(
        required=True,
        validate=[
            validate.Length(4, STRIPE_ID_LENGTH_MAX),
            validate.Regexp(r"^pm_[A-Za-z0-9_]+$", error="Not a Stripe payment method id (pm_...)."),
        ],
        metadata={"description": "The payment method the merchant confirmed with the SetupIntent (`pm_...`)."},
    )


class BillingSchema(ma.Schema):
    merchant_id = ma.fields.Function(lambda b: str(b.merchant_id))
    stripe_customer_id = ma.fields.String()
    status = ma.fields.String(
        metadata={"description": "`setup_required` until a default payment method is saved, then `ready`."}
    )
    setup_intent_id = ma.fields.String(allow_none=True, metadata={"description": "The latest SetupIntent."})
    default_payment_method = ma.fields.String(attribute="default_payment_method_id", allow_none=True)
    payment_method_kind = ma.fields.String(allow_none=True, metadata={"description": "`card` or `sepa_debit`."})
    payment_method_last4 = ma.fields.String(allow_none=True)
    payment_method_brand = ma.fields.String(allow_none=True, metadata={"description": "A card's brand (`visa`)."})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class BillingSetupSchema(BillingSchema):
    setup_intent_client_secret = ma.fields.String(
        metadata={
            "description": "Give it to the merchant's browser (Stripe.js `confirmSetup`) to save a payment method; "
            "it is not stored and not shown again by GET."
        }
    )
