from __future__ import annotations

import re

import marshmallow as ma
from marshmallow import validate

from app.constants import (
    CATEGORY_LENGTH_MAX,
    DOMAINS_PER_MERCHANT_MAX,
    EARN_CATEGORIES_MAX,
    EARN_POINTS_MAX,
    INTEGER_COLUMN_MAX,
    MERCHANT_NAME_LENGTH_MAX,
    POINTS_LIFETIME_DAYS_DEFAULT,
    POINTS_LIFETIME_DAYS_MAX,
    POINTS_PENDING_DAYS_MAX,
    PRICE_PER_1000_POINTS_CENTS_MAX,
    SUPPORTED_CURRENCIES,
)
from app.schemas import Id, StrictSchema, page_of

_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")


class Domain(ma.fields.String):
    """A bare host name (``shop.example``): no scheme, port, path or wildcard."""

    def _deserialize(self, value, attr, data, **kwargs):
        host = super()._deserialize(value, attr, data, **kwargs).strip().lower().rstrip(".")
        if not _HOSTNAME.match(host):
            raise ma.ValidationError("Not a host name (expected e.g. shop.example).")
        return host


def category_field(**kwargs) -> ma.fields.String:
    return ma.fields.String(
        validate=[validate.Length(1, CATEGORY_LENGTH_MAX), validate.Regexp(r"^\S(.*\S)?$", error="Trim the spaces.")],
        metadata={"description": "A product category, as your shop names it (compared exactly)."},
        **kwargs,
    )


class CategoryRateSchema(StrictSchema):
    category = category_field(required=True)
    points = ma.fields.Integer(required=True, strict=True, validate=validate.Range(0, EARN_POINTS_MAX))
    per_amount_cents = ma.fields.Integer(required=True, strict=True, validate=validate.Range(1, INTEGER_COLUMN_MAX))


class EarnRuleSchema(StrictSchema):
    points = ma.fields.Integer(required=True, strict=True, validate=validate.Range(1, EARN_POINTS_MAX))
    per_amount_cents = ma.fields.Integer(required=True, strict=True, validate=validate.Range(1, INTEGER_COLUMN_MAX))
    excluded_categories = ma.fields.List(
        category_field(),
        load_default=list,
        validate=validate.Length(max=EARN_CATEGORIES_MAX),
        metadata={"description": "Lines of these categories earn no points (gift cards, say)."},
    )
    category_rates = ma.fields.List(
        ma.fields.Nested(CategoryRateSchema),
        load_default=list,
        validate=validate.Length(max=EARN_CATEGORIES_MAX),
        metadata={"description": "Lines of these categories earn at their own rate, each category on its own sum."},
    )

    @ma.validates_schema
    def _categories_once(self, data, **kwargs):
        rated = [r["category"] for r in data.get("category_rates", [])]
        excluded = data.get("excluded_categories", [])
        if len(set(rated)) != len(rated) or len(set(excluded)) != len(excluded):
            raise ma.ValidationError("Name each category once.", "category_rates")
        if set(rated) & set(excluded):
            raise ma.ValidationError("A category is either excluded or has a rate, not both.", "category_rates")


POINTS_PENDING_DAYS = {
    "strict": True,
    "validate": validate.Range(0, POINTS_PENDING_DAYS_MAX),
    "metadata": {
        "description": "Days an order's points stay incoming (your return window) before the member can spend "
        "them; 0 makes them available at once. Confirming the order releases them earlier."
    },
}


class MerchantCreateSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=validate.Length(1, MERCHANT_NAME_LENGTH_MAX))
    domains = ma.fields.List(Domain(), required=True, validate=validate.Length(1, DOMAINS_PER_MERCHANT_MAX))
    currency = ma.fields.String(required=True, validate=validate.OneOf(SUPPORTED_CURRENCIES))
    earn_rule = ma.fields.Nested(
        EarnRuleSchema,
        required=True,
        metadata={
            "description": "`points` per *full* `per_amount_cents` of the order's net amount (floor), per rate "
            "group when the order has lines (docs/programme.md)."
        },
    )
    price_per_1000_points_cents = ma.fields.Integer(
        required=True, strict=True, validate=validate.Range(0, PRICE_PER_1000_POINTS_CENTS_MAX)
    )
    points_lifetime_days = ma.fields.Integer(
        load_default=POINTS_LIFETIME_DAYS_DEFAULT, strict=True, validate=validate.Range(1, POINTS_LIFETIME_DAYS_MAX)
    )
    points_pending_days = ma.fields.Integer(load_default=0, **POINTS_PENDING_DAYS)

    @ma.validates_schema
    def _names_trimmed(self, data, **kwargs):
        if data.get("name", "").strip() != data.get("name", ""):
            raise ma.ValidationError("Remove leading or trailing spaces.", "name")


class MerchantUpdateSchema(StrictSchema):
    """Fields to change; the others stay. Currency never changes: balances are kept in it."""

    name = ma.fields.String(validate=validate.Length(1, MERCHANT_NAME_LENGTH_MAX))
    domains = ma.fields.List(Domain(), validate=validate.Length(1, DOMAINS_PER_MERCHANT_MAX))
    earn_rule = ma.fields.Nested(EarnRuleSchema, metadata={"description": "Applies to orders recorded from now on."})
    price_per_1000_points_cents = ma.fields.Integer(
        strict=True, validate=validate.Range(0, PRICE_PER_1000_POINTS_CENTS_MAX)
    )
    points_lifetime_days = ma.fields.Integer(strict=True, validate=validate.Range(1, POINTS_LIFETIME_DAYS_MAX))
    points_pending_days = ma.fields.Integer(**POINTS_PENDING_DAYS)
    active = ma.fields.Boolean(
        metadata={"description": "An inactive merchant's keys are refused; its members keep their points."}
    )

    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Send at least one field to change.", "_schema")


class MerchantSchema(ma.Schema):
    id = Id()
    name = ma.fields.String()
    domains = ma.fields.Function(lambda m: [d.domain for d in m.domains])
    currency = ma.fields.String()
    earn_rule = ma.fields.Function(
        lambda m: {
            "points": m.earn_points,
            "per_amount_cents": m.earn_per_amount_cents,
            "excluded_categories": list(m.earn_excluded_categories),
            "category_rates": list(m.earn_category_rates),
        }
    )
    price_per_1000_points_cents = ma.fields.Integer()
    points_lifetime_days = ma.fields.Integer()
    points_pending_days = ma.fields.Integer()
    active = ma.fields.Boolean()
    deactivated_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "When it left the coalition (null while active): its final statement closes here."},
    )
    created_at = ma.fields.DateTime()


class MerchantCreatedSchema(MerchantSchema):
    api_key = ma.fields.String(metadata={"description": "Shown once: store it now."})
    api_key_id = ma.fields.String()


class ApiKeySchema(ma.Schema):
    id = Id()
    prefix = ma.fields.String(metadata={"description": "The first characters, to recognise a key."})
    created_at = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)


class RevokedSchema(ma.Schema):
    """The empty answer of a revocation (a 204 has no body; its replay is ``{}``)."""


class ApiKeyCreatedSchema(ApiKeySchema):
    api_key = ma.fields.String(metadata={"description": "Shown once: store it now."})


MerchantPageSchema = page_of(MerchantSchema, "MerchantPage")
ApiKeyPageSchema = page_of(ApiKeySchema, "ApiKeyPage")
