from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.card.models import CARD_NAME_LENGTH_MAX, CARD_STATUSES
from app.constants import ORDER_ID_LENGTH_MAX
from app.schemas import StrictSchema

# Card revenue is booked in EUR, and Stripe bills the card yearly.
CARD_CURRENCIES = ("EUR",)
CARD_INTERVALS = ("year",)
# 10001 bp (x1.0001) to 100000 bp (x10): a card that does not raise the earn is not a card.
EARN_MULTIPLIER_BP_MIN = 10_001
EARN_MULTIPLIER_BP_MAX = 100_000
CARD_PRICE_CENTS_MAX = 100_000
VOUCHER_VALUE_CENTS_MAX = 100_000
VOUCHER_PER_SPEND_CENTS_MAX = 10_000_000
_ORDER_REF = validate.Regexp(r"^[A-Za-z0-9._~:@#+=-]+$", error="Use letters, digits and . _ ~ : @ # + = - only.")


class VoucherRuleSchema(StrictSchema):
    value_cents = ma.fields.Integer(
        required=True,
        validate=validate.Range(1, VOUCHER_VALUE_CENTS_MAX),
        metadata={"description": "What one voucher is worth at a coalition merchant, in EUR cents."},
    )
    per_spend_cents = ma.fields.Integer(
        required=True,
        validate=validate.Range(1, VOUCHER_PER_SPEND_CENTS_MAX),
        metadata={"description": "One voucher per full block of this much spend (EUR cents) while the card is active."},
    )

    @ma.validates_schema
    def _worth_less_than_the_spend(self, data, **kwargs):
        if data.get("value_cents", 0) >= data.get("per_spend_cents", 1):
            raise ma.ValidationError("A voucher must be worth less than the spend that earns it.", "value_cents")


class CardTermsInputSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=validate.Length(1, CARD_NAME_LENGTH_MAX))
    price_cents = ma.fields.Integer(
        required=True,
        validate=validate.Range(1, CARD_PRICE_CENTS_MAX),
        metadata={"description": "The yearly price, in EUR cents."},
    )
    currency = ma.fields.String(required=True, validate=validate.OneOf(CARD_CURRENCIES))
    interval = ma.fields.String(required=True, validate=validate.OneOf(CARD_INTERVALS))
    earn_multiplier_bp = ma.fields.Integer(
        required=True,
        validate=validate.Range(EARN_MULTIPLIER_BP_MIN, EARN_MULTIPLIER_BP_MAX),
        metadata={"description": "The card holder's earn, in basis points of the base points (15000: x1.5)."},
    )
    voucher = ma.fields.Nested(VoucherRuleSchema, required=True)


class CardTermsSchema(ma.Schema):
    version = ma.fields.Function(lambda t: str(t.id), metadata={"description": "Changes with every change of terms."})
    name = ma.fields.String()
    price_cents = ma.fields.Integer()
    currency = ma.fields.String()
    interval = ma.fields.String()
    earn_multiplier_bp = ma.fields.Integer()
    voucher = ma.fields.Function(
        lambda t: {"value_cents": t.voucher_value_cents, "per_spend_cents": t.voucher_per_spend_cents},
        metadata={"description": "`{value_cents, per_spend_cents}`"},
    )
    created_at = ma.fields.DateTime()


class MemberCardSchema(ma.Schema):
    """The card in the member answer."""

    status = ma.fields.String(metadata={"description": f"One of {', '.join(CARD_STATUSES)}."})
    renews_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "While active: when the paid year ends (and renews)."}
    )


class VoucherRedeemSchema(StrictSchema):
    order_id = ma.fields.String(
        required=True,
        validate=[validate.Length(1, ORDER_ID_LENGTH_MAX), _ORDER_REF],
        metadata={"description": "Your order the voucher paid part of."},
    )


class CardVoucherSchema(ma.Schema):
    code = ma.fields.String()
    value_cents = ma.fields.Integer()
    currency = ma.fields.String()
    issued_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime()
    redeemed_at = ma.fields.DateTime(allow_none=True)
    order_id = ma.fields.String(attribute="order_ref", allow_none=True)
