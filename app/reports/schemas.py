from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.schemas import OptionalId, StrictSchema, Timestamp

_COLLECTED_DOC = (
    "The part of value_cents backed by money received: lots earned inside a statement period whose statement "
    "is settled (its collection succeeded, or its net was zero or less)."
)


class LiabilityTotalSchema(ma.Schema):
    currency = ma.fields.String()
    points_outstanding = ma.fields.Integer(metadata={"description": "Points of open lots, not yet spent nor expired."})
    value_cents = ma.fields.Integer(metadata={"description": "What was paid for them: their lots' remaining value."})
    collected_cents = ma.fields.Integer(metadata={"description": _COLLECTED_DOC})
    coverage_bp = ma.fields.Integer(
        metadata={"description": "collected_cents * 10000 // value_cents (10000 when value_cents is 0)."}
    )


class LiabilityRowSchema(LiabilityTotalSchema):
    merchant_id = OptionalId(
        "merchant_id",
        metadata={
            "type": "string",
            "description": "The issuing merchant; null for points the platform issued itself "
            "(never backed by a collection).",
        },
    )


class LiabilityReportSchema(ma.Schema):
    merchants = ma.fields.List(
        ma.fields.Nested(LiabilityRowSchema),
        metadata={"description": "Per issuing merchant and currency, by merchant id (the platform's own last)."},
    )
    total = ma.fields.List(ma.fields.Nested(LiabilityTotalSchema), metadata={"description": "Per currency."})


class LifecycleQuerySchema(StrictSchema):
    dormant_days = ma.fields.Integer(
        load_default=90,
        validate=validate.Range(1, 3650),
        metadata={"description": "A customer whose last order is at least this old counts as dormant."},
    )


class WaitSchema(ma.Schema):
    measured = ma.fields.Integer(metadata={"description": "Customers measured (every customer)."})
    median = ma.fields.Float(allow_none=True, metadata={"description": "Days, to one decimal; null without any."})
    mean = ma.fields.Float(allow_none=True)


class RepeatSchema(ma.Schema):
    eligible = ma.fields.Integer(metadata={"description": "Customers whose first order is at least the window old."})
    repeated = ma.fields.Integer(metadata={"description": "Of them, those who ordered again within the window."})
    rate_bp = ma.fields.Integer(metadata={"description": "repeated × 10000 / eligible, rounded down."})


class LifecycleSchema(ma.Schema):
    scope = ma.fields.String(metadata={"description": "merchant (your orders) or coalition (the operator)."})
    customers = ma.fields.Integer(metadata={"description": "Members with an order (net amount above zero)."})
    days_to_first_purchase = ma.fields.Nested(
        WaitSchema,
        metadata={"description": "From the member's first contact with the coalition to their first order here."},
    )
    repeat_30d = ma.fields.Nested(RepeatSchema)
    repeat_90d = ma.fields.Nested(RepeatSchema)
    dormant_days = ma.fields.Integer()
    dormant = ma.fields.Integer(metadata={"description": "Customers whose last order is dormant_days old or more."})
    active = ma.fields.Integer(metadata={"description": "The other customers."})
    computed_at = Timestamp()
