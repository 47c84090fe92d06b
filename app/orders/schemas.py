from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.commissions.schemas import attribution_fields, click_token_field
from app.constants import AMOUNT_CENTS_MAX, EMAIL_LENGTH_MAX, ORDER_ID_LENGTH_MAX, SUPPORTED_CURRENCIES
from app.members.schemas import EmailField, MemberPointsSchema
from app.schemas import StrictSchema

# Visible ASCII without '/', so an id is one path segment once URL-quoted.
EXTERNAL_ID = validate.Regexp(r"^[A-Za-z0-9._~:@#+=-]+$", error="Use letters, digits and . _ ~ : @ # + = - only.")


def external_id(description: str) -> ma.fields.String:
    return ma.fields.String(
        required=True,
        validate=[validate.Length(1, ORDER_ID_LENGTH_MAX), EXTERNAL_ID],
        metadata={"description": description},
    )


class OrderCreateSchema(StrictSchema):
    order_id = external_id("Your order reference: also the idempotency key of this call.")
    amount_cents = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, AMOUNT_CENTS_MAX),
        metadata={"description": "Amount paid, in minor units of `currency`."},
    )
    currency = ma.fields.String(required=True, validate=validate.OneOf(SUPPORTED_CURRENCIES))
    member_email = EmailField(required=True, validate=validate.Length(max=EMAIL_LENGTH_MAX))
    click_token = click_token_field()


class OrderSchema(MemberPointsSchema):
    order_id = ma.fields.String()
    member_id = ma.fields.String()
    amount_cents = ma.fields.Integer()
    net_amount_cents = ma.fields.Integer(metadata={"description": "Amount less refunds."})
    currency = ma.fields.String()
    points_earned = ma.fields.Integer(metadata={"description": "Points this order earned when recorded."})
    points_net = ma.fields.Integer(metadata={"description": "Points this order still carries after refunds."})
    created_at = ma.fields.DateTime()
    commission = attribution_fields()["commission"]
    attribution_error = attribution_fields()["attribution_error"]


class RefundCreateSchema(StrictSchema):
    refund_id = external_id("Your refund reference: also the idempotency key of this call.")
    amount_cents = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, AMOUNT_CENTS_MAX),
        metadata={"description": "Amount refunded, in minor units; at most what is left of the order."},
    )


class RefundSchema(MemberPointsSchema):
    refund_id = ma.fields.String()
    order_id = ma.fields.String()
    member_id = ma.fields.String()
    amount_cents = ma.fields.Integer()
    order_net_amount_cents = ma.fields.Integer(metadata={"description": "The order's amount after this refund."})
    points_reversed = ma.fields.Integer(metadata={"description": "Points taken back for this refund."})
    points_from_expired = ma.fields.Integer(
        metadata={"description": "Part of points_reversed that had already expired: taken back from breakage."}
    )
    points_to_debt = ma.fields.Integer(
        metadata={"description": "Part of points_reversed the member had already spent, now owed."}
    )
    created_at = ma.fields.DateTime()
