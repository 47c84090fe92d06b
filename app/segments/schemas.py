from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.audience.schemas import INTEREST_SLUG
from app.schemas import Id, StrictSchema, Timestamp, page_of
from app.segments.models import BOUGHT

SEGMENT_NAME_LENGTH_MAX = 120
DAYS_MAX = 3650
ORDERS_MAX = 1_000_000
SPEND_CENTS_MAX = 10**12
INTERESTS_PER_RULE_MAX = 50
TIER_LENGTH_MAX = 40


class RulesSchema(StrictSchema):
    dormant_days = ma.fields.Integer(
        validate=validate.Range(1, DAYS_MAX),
        metadata={"description": "The member's last order is at least this many days old (they did order)."},
    )
    min_orders = ma.fields.Integer(
        validate=validate.Range(1, ORDERS_MAX), metadata={"description": "At least this many orders."}
    )
    min_spend_cents = ma.fields.Integer(
        validate=validate.Range(1, SPEND_CENTS_MAX),
        metadata={"description": "Net spend (refunds deducted) of at least this much."},
    )
    tier = ma.fields.String(
        validate=validate.Length(1, TIER_LENGTH_MAX), metadata={"description": "The member holds this tier now."}
    )
    interests = ma.fields.List(
        ma.fields.String(validate=validate.Regexp(INTEREST_SLUG, error="Not an interest slug.")),
        validate=validate.Length(1, INTERESTS_PER_RULE_MAX),
        metadata={"description": "The member declared at least one of these interests."},
    )
    bought = ma.fields.String(
        validate=validate.OneOf(BOUGHT),
        metadata={
            "description": "here: ordered from you; elsewhere_not_here: ordered from another merchant, never "
            "from you; anywhere: ordered in the coalition. Absent: every member, ordered or not."
        },
    )
    first_order_within_days = ma.fields.Integer(
        validate=validate.Range(1, DAYS_MAX),
        metadata={"description": "The member's first order is at most this many days old."},
    )

    @ma.validates("interests")
    def _distinct(self, value, **_kwargs):
        if len(set(value)) != len(value):
            raise ma.ValidationError("Interests must be distinct.")

    @ma.post_load
    def _sorted(self, data, **_kwargs):
        if "interests" in data:
            data["interests"] = sorted(data["interests"])
        return data


class SegmentCreateSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=validate.Length(1, SEGMENT_NAME_LENGTH_MAX))
    rules = ma.fields.Nested(
        RulesSchema,
        load_default=dict,
        metadata={
            "description": "Every rule is optional and all of them must hold. For a merchant the order rules "
            "count orders at your shop when bought is here, in the coalition otherwise."
        },
    )


class SegmentSchema(ma.Schema):
    id = Id()
    name = ma.fields.String()
    owner = ma.fields.Function(
        lambda s: "operator" if s.merchant_id is None else "merchant", metadata={"description": "merchant or operator"}
    )
    rules = ma.fields.Dict()
    size = ma.fields.Integer(metadata={"description": "Members the rules hold for."})
    size_customers = ma.fields.Integer(
        metadata={"description": "Of them, your customers (the operator: members who ordered)."}
    )
    size_others = ma.fields.Integer(
        metadata={"description": "Of them, the others: counted, never named to a merchant."}
    )
    computed_at = Timestamp(metadata={"description": "When the sizes were last brought up to date."})
    created_at = Timestamp()


class SegmentSizeSchema(ma.Schema):
    computed_at = Timestamp()
    size = ma.fields.Integer()
    size_customers = ma.fields.Integer()
    size_others = ma.fields.Integer()
    joined = ma.fields.Integer(metadata={"description": "Members who joined in that run."})
    left = ma.fields.Integer(metadata={"description": "Members who left in that run."})


class SegmentDetailSchema(SegmentSchema):
    history = ma.fields.List(
        ma.fields.Nested(SegmentSizeSchema),
        metadata={"description": "How it moved: the sizes after each run that changed them, newest first (30)."},
    )


class SegmentMemberSchema(ma.Schema):
    member_id = ma.fields.Function(lambda row: str(row.member_id))
    email = ma.fields.String()
    customer = ma.fields.Boolean()
    since = Timestamp(metadata={"description": "In the segment since."})


SegmentPageSchema = page_of(SegmentSchema, "SegmentPage")
SegmentMemberPageSchema = page_of(SegmentMemberSchema, "SegmentMemberPage")
