from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.boutique.models import KINDS, STATUSES
from app.constants import (
    CANCEL_REASON_LENGTH_MAX,
    CATALOG_CATEGORY_LENGTH_MAX,
    CATALOG_DESCRIPTION_LENGTH_MAX,
    CATALOG_TITLE_LENGTH_MAX,
    IMAGE_URL_LENGTH_MAX,
    POINTS_PRICE_MAX,
    STOCK_MAX,
    TRACKING_REFERENCE_LENGTH_MAX,
    VOUCHER_CODE_LENGTH_MAX,
    VOUCHER_CODE_LENGTH_MIN,
    VOUCHER_CODES_PER_REQUEST_MAX,
    WHOLESALE_VALUE_CENTS_MAX,
)
from app.schemas import Id, PageArgsSchema, StrictSchema, Timestamp, page_of

CATEGORY = validate.Regexp(r"^[a-z0-9][a-z0-9-]*$", error="Use lowercase letters, digits and '-' only.")
VOUCHER_CODE_PATTERN = rf"^[A-Za-z0-9-]{{{VOUCHER_CODE_LENGTH_MIN},{VOUCHER_CODE_LENGTH_MAX}}}$"
VOUCHER_CODE = validate.Regexp(VOUCHER_CODE_PATTERN, error="Use 4 to 64 letters, digits or '-'.")


def _title(**kwargs):
    return ma.fields.String(validate=validate.Length(1, CATALOG_TITLE_LENGTH_MAX), **kwargs)


class _ItemFields(StrictSchema):
    title = _title(required=True)
    description = ma.fields.String(load_default="", validate=validate.Length(max=CATALOG_DESCRIPTION_LENGTH_MAX))
    image_url = ma.fields.Url(
        load_default=None,
        allow_none=True,
        schemes={"http", "https"},
        validate=validate.Length(max=IMAGE_URL_LENGTH_MAX),
        metadata={"description": "An absolute http(s) URL of the picture shown in the boutique."},
    )
    category = ma.fields.String(required=True, validate=[validate.Length(1, CATALOG_CATEGORY_LENGTH_MAX), CATEGORY])
    points_price = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, POINTS_PRICE_MAX),
        metadata={"description": "What a member pays, in points."},
    )
    wholesale_value_cents = ma.fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(0, WHOLESALE_VALUE_CENTS_MAX),
        metadata={"description": "What the operator pays you on fulfilment, in minor units of your currency."},
    )
    active_from = Timestamp(load_default=None, allow_none=True)
    active_until = Timestamp(
        load_default=None, allow_none=True, metadata={"description": "Exclusive end of the active window."}
    )

    @ma.validates_schema
    def _window(self, data, **_):
        start, end = data.get("active_from"), data.get("active_until")
        if start is not None and end is not None and end <= start:
            raise ma.ValidationError("Must be after active_from.", "active_until")


class ItemCreateSchema(_ItemFields):
    kind = ma.fields.String(required=True, validate=validate.OneOf(KINDS))
    stock = ma.fields.Integer(
        strict=True,
        validate=validate.Range(0, STOCK_MAX),
        metadata={"description": "Physical items only; a voucher's stock is its number of unused codes."},
    )
    voucher_codes = ma.fields.List(
        ma.fields.String(validate=VOUCHER_CODE),
        validate=validate.Length(max=VOUCHER_CODES_PER_REQUEST_MAX),
        metadata={"description": "Vouchers: your codes, each unique among your codes."},
    )
    generate_codes = ma.fields.Integer(
        strict=True,
        validate=validate.Range(0, VOUCHER_CODES_PER_REQUEST_MAX),
        metadata={"description": "Vouchers: how many codes the platform should generate (shown in the answer)."},
    )

    @ma.validates_schema
    def _kind_fields(self, data, **_):
        if data.get("kind") == "physical":
            if "stock" not in data:
                raise ma.ValidationError("Required for a physical item.", "stock")
            for name in ("voucher_codes", "generate_codes"):
                if name in data:
                    raise ma.ValidationError("Only for vouchers.", name)
        elif data.get("kind") == "voucher" and "stock" in data:
            raise ma.ValidationError("A voucher's stock is its number of codes.", "stock")


class ItemUpdateSchema(StrictSchema):
    title = _title()
    description = ma.fields.String(validate=validate.Length(max=CATALOG_DESCRIPTION_LENGTH_MAX))
    image_url = ma.fields.Url(
        allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=IMAGE_URL_LENGTH_MAX)
    )
    category = ma.fields.String(validate=[validate.Length(1, CATALOG_CATEGORY_LENGTH_MAX), CATEGORY])
    points_price = ma.fields.Integer(strict=True, validate=validate.Range(1, POINTS_PRICE_MAX))
    wholesale_value_cents = ma.fields.Integer(strict=True, validate=validate.Range(0, WHOLESALE_VALUE_CENTS_MAX))
    stock = ma.fields.Integer(
        strict=True, validate=validate.Range(0, STOCK_MAX), metadata={"description": "Physical items only."}
    )
    active = ma.fields.Boolean()
    active_from = Timestamp(allow_none=True)
    active_until = Timestamp(allow_none=True)


class ItemSchema(ma.Schema):
    id = Id()
    kind = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    image_url = ma.fields.String(allow_none=True)
    category = ma.fields.String()
    points_price = ma.fields.Integer()
    wholesale_value_cents = ma.fields.Integer()
    currency = ma.fields.String()
    stock = ma.fields.Integer(metadata={"description": "Units left; for vouchers, unused codes."})
    active = ma.fields.Boolean()
    active_from = ma.fields.DateTime(allow_none=True)
    active_until = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class ItemCreatedSchema(ItemSchema):
    generated_codes = ma.fields.List(
        ma.fields.String(), metadata={"description": "Codes the platform generated; shown only in this answer."}
    )


class ItemQuerySchema(PageArgsSchema):
    active = ma.fields.Boolean(
        load_default=None, metadata={"description": "Only active (true) or inactive (false) items."}
    )


class CodesAddSchema(StrictSchema):
    voucher_codes = ma.fields.List(
        ma.fields.String(validate=VOUCHER_CODE),
        load_default=list,
        validate=validate.Length(max=VOUCHER_CODES_PER_REQUEST_MAX),
    )
    generate_codes = ma.fields.Integer(
        load_default=0, strict=True, validate=validate.Range(0, VOUCHER_CODES_PER_REQUEST_MAX)
    )

    @ma.validates_schema
    def _some(self, data, **_):
        if not data.get("voucher_codes") and not data.get("generate_codes"):
            raise ma.ValidationError("Send voucher_codes or generate_codes.", "voucher_codes")


class CodesAddedSchema(ma.Schema):
    added = ma.fields.Integer()
    generated_codes = ma.fields.List(ma.fields.String())
    stock = ma.fields.Integer()


class VoucherRedeemedSchema(ma.Schema):
    code = ma.fields.String()
    item_id = ma.fields.String()
    title = ma.fields.String()
    redemption_id = ma.fields.String()
    used_at = ma.fields.DateTime()


class RedemptionSchema(ma.Schema):
    id = Id()
    item_id = ma.fields.Function(lambda r: str(r.item_id))
    kind = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.String(metadata={"description": "placed, fulfilled, cancelled or expired"})
    points = ma.fields.Integer()
    wholesale_value_cents = ma.fields.Integer()
    currency = ma.fields.String()
    prize = ma.fields.Boolean(metadata={"description": "A contest prize: no points spent, nothing owed to you."})
    shipping_address = ma.fields.String(metadata={"description": "Physical items: where to send the reward."})
    voucher_code = ma.fields.String(allow_none=True)
    tracking_reference = ma.fields.String(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime(metadata={"description": "Placed redemptions not fulfilled by then are cancelled."})
    resolved_at = ma.fields.DateTime(allow_none=True)


class RedemptionQuerySchema(PageArgsSchema):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class FulfilSchema(StrictSchema):
    tracking_reference = ma.fields.String(
        load_default=None, allow_none=True, validate=validate.Length(1, TRACKING_REFERENCE_LENGTH_MAX)
    )


class CancelSchema(StrictSchema):
    reason = ma.fields.String(required=True, validate=validate.Length(1, CANCEL_REASON_LENGTH_MAX))


ItemPageSchema = page_of(ItemSchema, "CatalogItemPage")
RedemptionPageSchema = page_of(RedemptionSchema, "RedemptionPage")
