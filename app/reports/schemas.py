from __future__ import annotations

import marshmallow as ma

from app.schemas import OptionalId

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
