from __future__ import annotations

from datetime import UTC

import marshmallow as ma
from marshmallow import validate

from app.converters import ID_DIGITS_MAX
from app.offers.models import BONUS, REWARD_TYPES, VOUCHER
from app.schemas import Id, StrictSchema, Timestamp, check_variant, page_of

ID_PATTERN = rf"^[1-9][0-9]{{0,{ID_DIGITS_MAX - 1}}}$"
SUBJECT_LENGTH_MAX = 200
BODY_LENGTH_MAX = 5000
BONUS_POINTS_MAX = 1_000_000
HOLDOUT_BP_DEFAULT = 1000
HOLDOUT_BP_MAX = 5000


class RewardSchema(StrictSchema):
    type = ma.fields.String(required=True, validate=validate.OneOf(REWARD_TYPES))
    points = ma.fields.Integer(
        validate=validate.Range(1, BONUS_POINTS_MAX),
        metadata={"description": "bonus: the points on the recipient's next order in the window, once each."},
    )
    item_id = ma.fields.String(
        validate=validate.Regexp(ID_PATTERN, error="Not an item id."),
        metadata={"description": "voucher: a voucher item of your catalog."},
    )

    @ma.validates_schema
    def _complete(self, data, **_kwargs):
        check_variant(data, {BONUS: "points", VOUCHER: "item_id"}, "reward")


class OfferCreateSchema(StrictSchema):
    segment_id = ma.fields.String(required=True, validate=validate.Regexp(ID_PATTERN, error="Not a segment id."))
    subject = ma.fields.String(required=True, validate=validate.Length(1, SUBJECT_LENGTH_MAX))
    body = ma.fields.String(
        required=True,
        validate=validate.Length(1, BODY_LENGTH_MAX),
        metadata={"description": "Plain text; blank lines separate paragraphs."},
    )
    reward = ma.fields.Nested(RewardSchema, required=True)
    starts_at = Timestamp(required=True, metadata={"description": "Recipients are chosen and mailed from then on."})
    ends_at = Timestamp(
        required=True, metadata={"description": "After starts_at, in the future, at most 366 days later."}
    )
    holdout_bp = ma.fields.Integer(
        load_default=HOLDOUT_BP_DEFAULT,
        validate=validate.Range(0, HOLDOUT_BP_MAX),
        metadata={"description": "The share of eligible members held out (get nothing), in basis points."},
    )

    @ma.validates_schema
    def _utc(self, data, **_kwargs):
        for name in ("starts_at", "ends_at"):
            if name in data:
                try:
                    data[name].astimezone(UTC)
                except OverflowError:
                    raise ma.ValidationError("Not a time that can be shown in UTC.", name) from None


class OfferSchema(ma.Schema):
    id = Id()
    owner = ma.fields.Function(lambda o: "operator" if o.merchant_id is None else "merchant")
    segment_id = ma.fields.Function(lambda o: str(o.segment_id))
    subject = ma.fields.String()
    body = ma.fields.String()
    reward = ma.fields.Dict()
    starts_at = Timestamp()
    ends_at = Timestamp()
    holdout_bp = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "scheduled, sending, sent or ended."})
    created_at = Timestamp()
    prepared_at = Timestamp(allow_none=True, metadata={"description": "When its recipients were chosen."})
    sent_at = Timestamp(allow_none=True, metadata={"description": "When its last mail was queued."})


class OfferReportSchema(ma.Schema):
    offer_id = ma.fields.String()
    eligible = ma.fields.Integer(metadata={"description": "The segment's members when the offer started."})
    sent = ma.fields.Integer(metadata={"description": "Targeted members mailed (their consent allowed it)."})
    held_out = ma.fields.Integer(metadata={"description": "Members held out: no mail, no reward."})
    opened = ma.fields.Integer(metadata={"description": "Recipients who opened the mail (its HTML part loaded)."})
    clicked = ma.fields.Integer(metadata={"description": "Recipients who followed its link."})
    converted = ma.fields.Integer(metadata={"description": "Recipients sent the offer who ordered in its window."})
    conversion_rate_bp = ma.fields.Integer(metadata={"description": "converted / sent, in basis points."})
    holdout_conversion_rate_bp = ma.fields.Integer(
        metadata={"description": "Held-out members who ordered in the window / held out, in basis points."}
    )
    orders = ma.fields.Integer(metadata={"description": "Orders in the window by those sent."})
    holdout_orders = ma.fields.Integer(metadata={"description": "Orders in the window by those held out."})
    incremental_orders = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "orders - round(holdout_orders × sent / held_out); null without both groups."},
    )
    incremental_sales_cents = ma.fields.Integer(
        allow_none=True, metadata={"description": "The same over net sales (refunds deducted)."}
    )
    points_cost = ma.fields.Integer(metadata={"description": "Bonus points the offer gave."})


OfferPageSchema = page_of(OfferSchema, "OfferPage")
