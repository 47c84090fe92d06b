from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.commissions.schemas import attribution_fields, click_token_field
from app.constants import (
    AMOUNT_CENTS_MAX,
    BATCH_ORDERS_MAX,
    EMAIL_LENGTH_MAX,
    LINE_QUANTITY_MAX,
    ORDER_ID_LENGTH_MAX,
    ORDER_LINES_MAX,
    SKU_LENGTH_MAX,
    SUPPORTED_CURRENCIES,
)
from app.members.schemas import CustomerPointsSchema, EmailField
from app.merchants.schemas import category_field
from app.schemas import StrictSchema

# Visible ASCII without '/', so an id is one path segment once URL-quoted.
EXTERNAL_ID = validate.Regexp(r"^[A-Za-z0-9._~:@#+=-]+$", error="Use letters, digits and . _ ~ : @ # + = - only.")


def external_id(description: str) -> ma.fields.String:
    return ma.fields.String(
        required=True,
        validate=[validate.Length(1, ORDER_ID_LENGTH_MAX), EXTERNAL_ID],
        metadata={"description": description},
    )


class OrderLineSchema(StrictSchema):
    sku = ma.fields.String(required=True, validate=validate.Length(1, SKU_LENGTH_MAX))
    category = category_field(required=True)
    quantity = ma.fields.Integer(required=True, strict=True, validate=validate.Range(1, LINE_QUANTITY_MAX))
    amount_cents = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(0, AMOUNT_CENTS_MAX),
        metadata={"description": "The line's total (all its units), in minor units."},
    )


class OrderBodySchema(StrictSchema):
    """An order as the merchant sends it (recorded, or previewed)."""

    amount_cents = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, AMOUNT_CENTS_MAX),
        metadata={"description": "Amount paid, in minor units of `currency`."},
    )
    currency = ma.fields.String(required=True, validate=validate.OneOf(SUPPORTED_CURRENCIES))
    member_email = EmailField(required=True, validate=validate.Length(max=EMAIL_LENGTH_MAX))
    click_token = click_token_field()
    lines = ma.fields.List(
        ma.fields.Nested(OrderLineSchema),
        validate=validate.Length(1, ORDER_LINES_MAX),
        metadata={
            "description": "Optional: the order's lines. Their amounts must sum to `amount_cents`; categories "
            "decide the rate each line earns at (docs/programme.md)."
        },
    )

    @ma.validates_schema
    def _lines_sum(self, data, **kwargs):
        lines = data.get("lines")
        if lines and "amount_cents" in data and sum(line["amount_cents"] for line in lines) != data["amount_cents"]:
            raise ma.ValidationError("The lines' amount_cents must sum to the order's amount_cents.", "lines")


class OrderCreateSchema(OrderBodySchema):
    order_id = external_id("Your order reference: also the idempotency key of this call.")


class OrderPreviewSchema(OrderBodySchema):
    order_id = ma.fields.String(
        validate=[validate.Length(1, ORDER_ID_LENGTH_MAX), EXTERNAL_ID],
        metadata={"description": "Optional here: nothing is recorded."},
    )


class BonusSchema(ma.Schema):
    campaign_id = ma.fields.String(allow_none=True, metadata={"description": "Null for the tier and card extras."})
    source = ma.fields.String(metadata={"description": "`campaign`, `tier` or `card`."})
    name = ma.fields.String(metadata={"description": "What the member's history says it is."})
    points = ma.fields.Integer(metadata={"description": "Points it earned when the order was recorded."})


class OrderBonusSchema(BonusSchema):
    points_net = ma.fields.Integer(metadata={"description": "Points of it the order still carries after refunds."})


class EarnGroupSchema(ma.Schema):
    category = ma.fields.String(allow_none=True, metadata={"description": "Null for the base group."})
    amount_cents = ma.fields.Integer()
    excluded = ma.fields.Boolean()
    points_per_block = ma.fields.Integer()
    per_amount_cents = ma.fields.Integer(allow_none=True)
    points = ma.fields.Integer()


class OrderPreviewAnswerSchema(ma.Schema):
    points_base = ma.fields.Integer(metadata={"description": "Points of your earn rule, summed over the groups."})
    groups = ma.fields.List(
        ma.fields.Nested(EarnGroupSchema), metadata={"description": "Each rate group: base, own-rate or excluded."}
    )
    bonuses = ma.fields.List(ma.fields.Nested(BonusSchema))
    points_total = ma.fields.Integer(metadata={"description": "Base plus bonuses: what the order would earn now."})
    points_available_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "When the points would become spendable; null: at once."}
    )


class OrderSchema(CustomerPointsSchema):
    order_id = ma.fields.String()
    member_id = ma.fields.String()
    amount_cents = ma.fields.Integer()
    net_amount_cents = ma.fields.Integer(metadata={"description": "Amount less refunds."})
    currency = ma.fields.String()
    points_earned = ma.fields.Integer(metadata={"description": "Points this order earned when recorded."})
    points_net = ma.fields.Integer(metadata={"description": "Points this order still carries after refunds."})
    bonuses = ma.fields.List(
        ma.fields.Nested(OrderBonusSchema),
        metadata={"description": "Campaign bonuses and tier or card extras, each its own ledger entry."},
    )
    points_total = ma.fields.Integer(metadata={"description": "Base and bonuses this order still carries."})
    points_available_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "While the points are incoming: when they become spendable. Null once available."},
    )
    lines = ma.fields.List(ma.fields.Nested(OrderLineSchema), metadata={"description": "As sent; [] without lines."})
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


class RefundSchema(CustomerPointsSchema):
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


class OrderBatchCreateSchema(StrictSchema):
    orders = ma.fields.List(
        ma.fields.Raw(allow_none=True),
        required=True,
        validate=validate.Length(1, BATCH_ORDERS_MAX),
        metadata={
            "description": f"1 to {BATCH_ORDERS_MAX} bodies of `POST /v1/orders`, each validated and "
            "answered on its own."
        },
    )


class OrderBatchResultSchema(ma.Schema):
    order_id = ma.fields.String(
        allow_none=True, metadata={"description": "The order's `order_id` (null when the body has none)."}
    )
    status = ma.fields.Integer(
        metadata={"description": "What `POST /v1/orders` answers for this order alone: 201, 200, 409 or 422."}
    )
    body = ma.fields.Dict(
        metadata={"description": "The order (201, 200), as `POST /v1/orders` answers it, or the problem (409, 422)."}
    )


class OrderBatchSchema(ma.Schema):
    results = ma.fields.List(
        ma.fields.Nested(OrderBatchResultSchema), metadata={"description": "One per order, in request order."}
    )
