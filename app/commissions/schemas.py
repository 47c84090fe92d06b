from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.commissions.models import COMMISSION_STATUSES
from app.constants import (
    BULK_COMMISSIONS_MAX,
    CLICK_TOKEN_LENGTH_MAX,
    ORDER_ID_LENGTH_MAX,
    REJECT_REASON_LENGTH_MAX,
    REPORT_DAYS_MAX,
)
from app.schemas import Day, Id, OptionalId, PageArgsSchema, StrictSchema, page_of
from app.transparency.schemas import LogPointerSchema


def click_token_field(**kwargs) -> ma.fields.String:
    return ma.fields.String(
        validate=validate.Length(1, CLICK_TOKEN_LENGTH_MAX),
        metadata={"description": "The `lp_click` value the visitor arrived with (keep it in a first-party cookie)."},
        **kwargs,
    )


class CommissionBriefSchema(ma.Schema):
    id = ma.fields.String()
    status = ma.fields.String()
    amount_cents = ma.fields.Integer()
    currency = ma.fields.String()
    affiliate_id = ma.fields.String()
    suspicious = ma.fields.Boolean(metadata={"description": "Click to conversion took under 10 seconds."})


ATTRIBUTION_ERROR_DESCRIPTION = (
    "Why the click token earned no commission: invalid_token, expired, foreign_program, program_paused, "
    "affiliate_not_approved, self_referral, duplicate, no_lead_commission; null when it did."
)


def attribution_fields() -> dict:
    return {
        "commission": ma.fields.Nested(
            CommissionBriefSchema,
            allow_none=True,
            metadata={"description": "The commission created for the click token sent, or null."},
        ),
        "attribution_error": ma.fields.String(allow_none=True, metadata={"description": ATTRIBUTION_ERROR_DESCRIPTION}),
    }


class LeadCreateSchema(StrictSchema):
    # The same characters as order ids (app/orders/schemas.py), which import this module.
    lead_id = ma.fields.String(
        required=True,
        validate=[
            validate.Length(1, ORDER_ID_LENGTH_MAX),
            validate.Regexp(r"^[A-Za-z0-9._~:@#+=-]+$", error="Use letters, digits and . _ ~ : @ # + = - only."),
        ],
        metadata={"description": "Your lead reference: also the idempotency key of this call."},
    )
    click_token = click_token_field(required=True)


LeadSchema = ma.Schema.from_dict({"lead_id": ma.fields.String(), **attribution_fields()}, name="Lead")


def _conversion(kind: str):
    def get(commission):
        ref = commission.conversion_ref or ""
        prefix = f"{kind}:"
        return ref[len(prefix) :] if ref.startswith(prefix) else None

    return get


class CommissionSchema(ma.Schema):
    id = Id()
    kind = ma.fields.String(metadata={"description": "sale, lead or adjustment (negative, after a refund)"})
    program_id = ma.fields.Function(lambda c: str(c.program_id))
    affiliate_id = ma.fields.Function(lambda c: str(c.affiliate_id))
    link_id = OptionalId("link_id")
    order_id = ma.fields.Function(_conversion("order"), allow_none=True)
    lead_id = ma.fields.Function(_conversion("lead"), allow_none=True)
    adjusts_commission_id = OptionalId("adjusts_commission_id")
    currency = ma.fields.String()
    base_amount_cents = ma.fields.Integer(metadata={"description": "The order's net amount the commission is on."})
    amount_cents = ma.fields.Integer()
    fee_cents = ma.fields.Integer(metadata={"description": "The network fee you pay on top."})
    status = ma.fields.String(metadata={"description": "pending, approved, rejected or paid"})
    suspicious = ma.fields.Boolean()
    reason = ma.fields.String(allow_none=True)
    clicked_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    hold_until = ma.fields.DateTime(metadata={"description": "When a pending commission approves by itself."})
    decided_at = ma.fields.DateTime(allow_none=True)
    payout_id = OptionalId(
        "payout_id", metadata={"description": "The operator's payout that paid it (status paid), else null."}
    )


CommissionPageSchema = page_of(CommissionSchema, "CommissionPage")


class CommissionArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(COMMISSION_STATUSES))
    program_id = ma.fields.Integer(validate=validate.Range(1, 10**18 - 1))
    suspicious = ma.fields.Boolean()


class RejectSchema(StrictSchema):
    reason = ma.fields.String(required=True, validate=validate.Length(1, REJECT_REASON_LENGTH_MAX))


class BulkItemSchema(StrictSchema):
    id = ma.fields.Integer(required=True, validate=validate.Range(1, 10**18 - 1))
    action = ma.fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(1, REJECT_REASON_LENGTH_MAX))

    @ma.validates_schema
    def _reason_with_reject(self, data, **kwargs):
        if data.get("action") == "reject" and not data.get("reason"):
            raise ma.ValidationError("A rejection needs a reason.", "reason")


class BulkSchema(StrictSchema):
    items = ma.fields.List(
        ma.fields.Nested(BulkItemSchema), required=True, validate=validate.Length(1, BULK_COMMISSIONS_MAX)
    )


class BulkResultSchema(ma.Schema):
    data = ma.fields.List(ma.fields.Nested(CommissionSchema))


class AttributionErrorSchema(ma.Schema):
    id = Id()
    code = ma.fields.String(metadata={"description": ATTRIBUTION_ERROR_DESCRIPTION})
    order_id = ma.fields.Function(_conversion("order"), allow_none=True)
    lead_id = ma.fields.Function(_conversion("lead"), allow_none=True)
    program_id = OptionalId("program_id")
    affiliate_id = OptionalId("affiliate_id")
    created_at = ma.fields.DateTime()


AttributionErrorPageSchema = page_of(AttributionErrorSchema, "AttributionErrorPage")


class AttributionErrorArgsSchema(PageArgsSchema):
    code = ma.fields.String(validate=validate.Length(1, 32))


class ReportArgsSchema(StrictSchema):
    from_ = Day(data_key="from", metadata={"description": "First day (UTC), default 30 days ago."})
    to = Day(metadata={"description": "Last day (UTC), included; default today."})
    group_by = ma.fields.String(load_default="day", validate=validate.OneOf(["day", "program", "link"]))

    @ma.validates_schema
    def _range(self, data, **kwargs):
        start, end = data.get("from_"), data.get("to")
        if start and end and start > end:
            raise ma.ValidationError("Must not be after `to`.", "from")
        if start and end and (end - start).days >= REPORT_DAYS_MAX:
            raise ma.ValidationError(f"At most {REPORT_DAYS_MAX} days.", "to")


class ReportRowSchema(ma.Schema):
    key = ma.fields.String(metadata={"description": "The day (YYYY-MM-DD), program id or link id."})
    currency = ma.fields.String()
    clicks = ma.fields.Integer()
    unique_clicks = ma.fields.Integer()
    orders = ma.fields.Integer()
    leads = ma.fields.Integer()
    conversion_rate = ma.fields.Float(
        metadata={"description": "(orders + leads) / clicks, 4 decimals; 0 without clicks."}
    )
    commission_pending_cents = ma.fields.Integer()
    commission_approved_cents = ma.fields.Integer(metadata={"description": "Includes negative adjustments."})
    commission_rejected_cents = ma.fields.Integer()
    commission_paid_cents = ma.fields.Integer()
    earnings_per_click_cents = ma.fields.Integer(
        metadata={"description": "(pending + approved + paid) / clicks, rounded down; 0 without clicks."}
    )


class ReportSchema(ma.Schema):
    from_ = ma.fields.Date(data_key="from")
    to = ma.fields.Date()
    group_by = ma.fields.String()
    rows = ma.fields.List(ma.fields.Nested(ReportRowSchema))
    totals = ma.fields.List(ma.fields.Nested(ReportRowSchema), metadata={"description": "One row per currency."})
    log = ma.fields.Nested(
        LogPointerSchema,
        metadata={
            "description": "The newest signed tree head, and the leaf indexes in its tree of the ledger entries of "
            "the period's approved and paid commissions (a commission approved after that head is not listed yet)."
        },
    )
