from __future__ import annotations

from datetime import UTC, timedelta

import marshmallow as ma
from marshmallow import validate

from app.campaigns.models import BONUS, EFFECT_TYPES, MULTIPLIER, STATUSES
from app.converters import ID_DIGITS_MAX
from app.schemas import Id, OptionalId, PageArgsSchema, StrictSchema, check_variant, page_of

CAMPAIGN_NAME_LENGTH_MAX = 120
CAMPAIGN_DURATION_MAX = timedelta(days=366)
# 1.0001x to 10x: a factor of 1x would award nothing, and beyond 10x is a typo more often than a plan.
FACTOR_BP_MIN = 10_001
FACTOR_BP_MAX = 100_000
BONUS_POINTS_MAX = 1_000_000
BUDGET_POINTS_MAX = 10**12
MIN_AMOUNT_CENTS_MAX = 10**12
CATEGORIES_MAX = 50
CATEGORY_LENGTH_MAX = 40
TIER_LENGTH_MAX = 40


class EffectSchema(StrictSchema):
    type = ma.fields.String(required=True, validate=validate.OneOf(EFFECT_TYPES))
    factor_bp = ma.fields.Integer(
        validate=validate.Range(FACTOR_BP_MIN, FACTOR_BP_MAX),
        metadata={
            "description": f"multiplier only: the factor in basis points ({FACTOR_BP_MIN} to {FACTOR_BP_MAX}, "
            "20000 is double points). The campaign awards the extra points, "
            "floor(base × (factor_bp − 10000) / 10000)."
        },
    )
    points = ma.fields.Integer(
        validate=validate.Range(1, BONUS_POINTS_MAX),
        metadata={"description": f"bonus only: fixed points per matching order (1 to {BONUS_POINTS_MAX})."},
    )

    @ma.validates_schema
    def _complete(self, data, **_kwargs):
        check_variant(data, {MULTIPLIER: "factor_bp", BONUS: "points"}, "effect")


class ConditionsSchema(StrictSchema):
    first_order = ma.fields.Boolean(
        metadata={
            "description": "true: only the member's first order at this merchant (merchant campaign) "
            "or in the coalition (operator campaign). false or absent: no condition."
        }
    )
    min_amount_cents = ma.fields.Integer(validate=validate.Range(0, MIN_AMOUNT_CENTS_MAX))
    categories = ma.fields.List(
        ma.fields.String(validate=validate.Length(1, CATEGORY_LENGTH_MAX)),
        validate=validate.Length(1, CATEGORIES_MAX),
        metadata={"description": "The order must have a line in at least one of these categories."},
    )
    tier = ma.fields.String(
        validate=validate.Length(1, TIER_LENGTH_MAX),
        metadata={"description": "The member's tier when the order is recorded must be this one."},
    )
    segment_id = ma.fields.String(
        validate=validate.Regexp(rf"^[1-9][0-9]{{0,{ID_DIGITS_MAX - 1}}}$", error="Not a segment id."),
        metadata={
            "description": "Only members of this segment of yours (the operator: of its own segments), "
            "as the refresh-segments job last brought it up to date."
        },
    )

    @ma.validates("categories")
    def _distinct(self, value, **_kwargs):
        if len(set(value)) != len(value):
            raise ma.ValidationError("Categories must be distinct.")


class CampaignCreateSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=validate.Length(1, CAMPAIGN_NAME_LENGTH_MAX))
    starts_at = ma.fields.AwareDateTime(required=True)
    ends_at = ma.fields.AwareDateTime(
        required=True,
        metadata={"description": f"After starts_at, in the future, at most {CAMPAIGN_DURATION_MAX.days} days later."},
    )
    effect = ma.fields.Nested(EffectSchema, required=True)
    conditions = ma.fields.Nested(ConditionsSchema, load_default=dict)
    budget_points = ma.fields.Integer(
        required=True,
        validate=validate.Range(1, BUDGET_POINTS_MAX),
        metadata={"description": "A hard cap on the points the campaign awards in total, whatever the concurrency."},
    )

    @ma.validates_schema
    def _window(self, data, **_kwargs):
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at is None or ends_at is None:
            return
        for name in ("starts_at", "ends_at"):
            try:
                data[name].astimezone(UTC)
            except OverflowError:
                raise ma.ValidationError("Not a time that can be shown in UTC.", name) from None
        if ends_at <= starts_at:
            raise ma.ValidationError("Must be after starts_at.", "ends_at")
        if ends_at - starts_at > CAMPAIGN_DURATION_MAX:
            raise ma.ValidationError(f"A campaign lasts at most {CAMPAIGN_DURATION_MAX.days} days.", "ends_at")


class CampaignQuerySchema(PageArgsSchema):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class EffectAnswerSchema(ma.Schema):
    type = ma.fields.String(metadata={"description": f"{MULTIPLIER} or {BONUS}."})
    factor_bp = ma.fields.Integer()
    points = ma.fields.Integer()


class ConditionsAnswerSchema(ma.Schema):
    first_order = ma.fields.Boolean()
    min_amount_cents = ma.fields.Integer()
    categories = ma.fields.List(ma.fields.String())
    tier = ma.fields.String()
    segment_id = ma.fields.String()


class CampaignSchema(ma.Schema):
    id = Id()
    owner = ma.fields.String(
        metadata={"description": "merchant (pays at its point price) or operator (coalition-wide, paid by us)."}
    )
    merchant_id = OptionalId("merchant_id", metadata={"description": "null for an operator campaign."})
    offer_id = OptionalId("offer_id", metadata={"description": "The offer whose bonus this campaign gives; else null."})
    name = ma.fields.String()
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()
    effect = ma.fields.Nested(EffectAnswerSchema)
    conditions = ma.fields.Nested(ConditionsAnswerSchema, metadata={"description": "The conditions given."})
    budget_points = ma.fields.Integer()
    points_awarded = ma.fields.Integer()
    points_remaining = ma.fields.Integer()
    status = ma.fields.String(
        metadata={
            "description": "Derived: ended (ended, or past ends_at), paused, scheduled (before starts_at), active."
        }
    )
    created_at = ma.fields.DateTime()
    paused_at = ma.fields.DateTime(allow_none=True)
    ended_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "When it was ended early; null if it ran (or runs) to ends_at."}
    )


CampaignPageSchema = page_of(CampaignSchema, "CampaignPage")
