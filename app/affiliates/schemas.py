from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.constants import (
    AFFILIATE_NAME_LENGTH_MAX,
    AMOUNT_CENTS_MAX,
    ATTRIBUTION_WINDOW_DAYS_DEFAULT,
    ATTRIBUTION_WINDOW_DAYS_MAX,
    COMMISSION_BPS_MAX,
    EMAIL_LENGTH_MAX,
    HOLD_DAYS_DEFAULT,
    HOLD_DAYS_MAX,
    LANDING_URL_LENGTH_MAX,
    NETWORK_FEE_BPS_MAX,
    PROGRAM_NAME_LENGTH_MAX,
)
from app.converters import ID_DIGITS_MAX
from app.members.schemas import EmailField
from app.merchants.schemas import ApiKeySchema
from app.schemas import Id, PageArgsSchema, StrictSchema, page_of


def IdRef(**kwargs) -> ma.fields.Integer:
    """An id sent as a string (as the API shows them) or an integer."""
    return ma.fields.Integer(validate=validate.Range(1, 10**ID_DIGITS_MAX - 1), **kwargs)


def _trimmed(field: str):
    @ma.validates_schema
    def check(self, data, **kwargs):
        if field in data and data[field].strip() != data[field]:
            raise ma.ValidationError("Remove leading or trailing spaces.", field)

    return check


# ----------------------------------------------------------------- affiliates (operator)


class AffiliateCreateSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=validate.Length(1, AFFILIATE_NAME_LENGTH_MAX))
    email = EmailField(required=True, validate=validate.Length(max=EMAIL_LENGTH_MAX))
    website = ma.fields.Url(
        required=True,
        schemes={"http", "https"},
        validate=validate.Length(max=LANDING_URL_LENGTH_MAX),
        metadata={"description": "The affiliate's site; its host counts for the self-referral rule."},
    )
    _name_trimmed = _trimmed("name")


class AffiliateSchema(ma.Schema):
    id = Id()
    name = ma.fields.String()
    email = ma.fields.String()
    website = ma.fields.String()
    active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()


class AffiliateCreatedSchema(AffiliateSchema):
    api_key = ma.fields.String(metadata={"description": "Shown once: store it now."})
    api_key_id = ma.fields.String()


class AffiliateUpdateSchema(StrictSchema):
    active = ma.fields.Boolean(
        required=True, metadata={"description": "An inactive affiliate's keys and links stop working."}
    )


AffiliatePageSchema = page_of(AffiliateSchema, "AffiliatePage")
AffiliateKeyPageSchema = page_of(ApiKeySchema, "AffiliateKeyPage")


# ----------------------------------------------------------------- programs (merchant)


class CommissionRuleSchema(StrictSchema):
    type = ma.fields.String(required=True, validate=validate.OneOf(["percent", "fixed"]))
    basis_points = ma.fields.Integer(
        strict=True,
        validate=validate.Range(1, COMMISSION_BPS_MAX),
        metadata={"description": "With `percent`: share of the order's net amount (800 = 8%)."},
    )
    amount_cents = ma.fields.Integer(
        strict=True,
        validate=validate.Range(1, AMOUNT_CENTS_MAX),
        metadata={"description": "With `fixed`: amount per sale, in minor units."},
    )

    @ma.validates_schema
    def _one_rule(self, data, **kwargs):
        wanted = "basis_points" if data.get("type") == "percent" else "amount_cents"
        other = "amount_cents" if wanted == "basis_points" else "basis_points"
        if wanted not in data:
            raise ma.ValidationError(f"Required with type {data.get('type')!r}.", wanted)
        if other in data:
            raise ma.ValidationError(f"Not used with type {data.get('type')!r}.", other)


class ProgramCreateSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=validate.Length(1, PROGRAM_NAME_LENGTH_MAX))
    commission = ma.fields.Nested(CommissionRuleSchema, required=True)
    lead_amount_cents = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(1, AMOUNT_CENTS_MAX),
        metadata={"description": "Fixed amount per lead; null: leads earn nothing."},
    )
    attribution_window_days = ma.fields.Integer(
        load_default=ATTRIBUTION_WINDOW_DAYS_DEFAULT,
        strict=True,
        validate=validate.Range(1, ATTRIBUTION_WINDOW_DAYS_MAX),
        metadata={"description": "How old a click may be when the order comes."},
    )
    hold_days = ma.fields.Integer(
        load_default=HOLD_DAYS_DEFAULT,
        strict=True,
        validate=validate.Range(0, HOLD_DAYS_MAX),
        metadata={"description": "Days a commission stays pending (your return window) before it auto-approves."},
    )
    network_fee_bps = ma.fields.Integer(
        load_default=0,
        strict=True,
        validate=validate.Range(0, NETWORK_FEE_BPS_MAX),
        metadata={"description": "The platform's fee, on top of the commission, in basis points of it."},
    )
    cap_cents = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(1, AMOUNT_CENTS_MAX),
        metadata={"description": "Largest commission per order."},
    )
    auto_approve_affiliates = ma.fields.Boolean(load_default=False)
    _name_trimmed = _trimmed("name")


class ProgramUpdateSchema(StrictSchema):
    """Fields to change. Terms apply to conversions recorded from now on."""

    name = ma.fields.String(validate=validate.Length(1, PROGRAM_NAME_LENGTH_MAX))
    active = ma.fields.Boolean(metadata={"description": "false pauses the program: links stop, no new commissions."})
    auto_approve_affiliates = ma.fields.Boolean()
    hold_days = ma.fields.Integer(strict=True, validate=validate.Range(0, HOLD_DAYS_MAX))
    attribution_window_days = ma.fields.Integer(strict=True, validate=validate.Range(1, ATTRIBUTION_WINDOW_DAYS_MAX))
    _name_trimmed = _trimmed("name")

    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Send at least one field to change.", "_schema")


def _commission_rule(program) -> dict:
    if program.commission_type == "percent":
        return {"type": "percent", "basis_points": program.commission_bps}
    return {"type": "fixed", "amount_cents": program.commission_cents}


class ProgramSchema(ma.Schema):
    id = Id()
    merchant_id = ma.fields.Function(lambda p: str(p.merchant_id))
    name = ma.fields.String()
    commission = ma.fields.Function(_commission_rule)
    lead_amount_cents = ma.fields.Integer(allow_none=True)
    attribution_window_days = ma.fields.Integer()
    hold_days = ma.fields.Integer()
    network_fee_bps = ma.fields.Integer()
    cap_cents = ma.fields.Integer(allow_none=True)
    auto_approve_affiliates = ma.fields.Boolean()
    active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()


ProgramPageSchema = page_of(ProgramSchema, "ProgramPage")


# ----------------------------------------------------------------- applications


class ApplicationSchema(ma.Schema):
    id = Id()
    program_id = ma.fields.Function(lambda a: str(a.program_id))
    affiliate_id = ma.fields.Function(lambda a: str(a.affiliate_id))
    affiliate_name = ma.fields.String()
    affiliate_website = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending, approved or refused"})
    created_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)


class ApplicationDecisionSchema(StrictSchema):
    status = ma.fields.String(required=True, validate=validate.OneOf(["approved", "refused"]))


class ApplicationArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(["pending", "approved", "refused"]))


ApplicationPageSchema = page_of(ApplicationSchema, "ApplicationPage")


# ----------------------------------------------------------------- links (affiliate)


class LinkCreateSchema(StrictSchema):
    program_id = IdRef(required=True)
    landing_url = ma.fields.String(
        required=True,
        validate=validate.Length(1, LANDING_URL_LENGTH_MAX),
        metadata={"description": "https URL on one of the merchant's domains (or a subdomain), default port."},
    )


class LinkUpdateSchema(StrictSchema):
    active = ma.fields.Boolean(required=True, metadata={"description": "false pauses the link (404 within seconds)."})


class LinkSchema(ma.Schema):
    id = Id()
    code = ma.fields.String()
    url = ma.fields.String(metadata={"description": "The tracking URL to publish."})
    program_id = ma.fields.Function(lambda link: str(link.program_id))
    landing_url = ma.fields.String()
    active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()


LinkPageSchema = page_of(LinkSchema, "LinkPage")
