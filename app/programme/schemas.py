from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.constants import AMOUNT_CENTS_MAX
from app.programme.tiers import TIERS_MAX
from app.schemas import StrictSchema

MULTIPLIER_BP_MAX = 100_000


class TierSchema(StrictSchema):
    name = ma.fields.String(
        required=True,
        validate=[validate.Length(1, 40), validate.Regexp(r"^\S(.*\S)?$", error="Trim the spaces.")],
    )
    min_spend_cents = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, AMOUNT_CENTS_MAX),
        metadata={"description": "Rolling 12-month spend (EUR, net of refunds, all merchants) that reaches it."},
    )
    earn_multiplier_bp = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(10_000, MULTIPLIER_BP_MAX),
        metadata={"description": "10000 = 1x; 12500 gives 25% extra points on the base, paid by the operator."},
    )


class TierListSchema(StrictSchema):
    """``PUT /v1/tiers`` takes the list itself; this checks it as a whole."""

    tiers = ma.fields.List(ma.fields.Nested(TierSchema), required=True, validate=validate.Length(0, TIERS_MAX))

    @ma.validates_schema
    def _distinct(self, data, **kwargs):
        levels = data.get("tiers", [])
        if len({t["name"] for t in levels}) != len(levels):
            raise ma.ValidationError("Name each tier once.", "tiers")
        if len({t["min_spend_cents"] for t in levels}) != len(levels):
            raise ma.ValidationError("Give each tier its own min_spend_cents.", "tiers")


class TierNextSchema(ma.Schema):
    name = ma.fields.String()
    min_spend_cents = ma.fields.Integer()
    missing_cents = ma.fields.Integer(metadata={"description": "Spend still needed to reach it."})


class MemberTierSchema(ma.Schema):
    name = ma.fields.String(allow_none=True, metadata={"description": "Null: no tier yet."})
    earn_multiplier_bp = ma.fields.Integer()
    since = ma.fields.DateTime(allow_none=True)
    review_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "The yearly review: a lower spend only takes the tier away then."}
    )
    spend_12m_cents = ma.fields.Integer()
    next = ma.fields.Nested(TierNextSchema, allow_none=True)
