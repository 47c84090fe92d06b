"""What the member pages accept: query strings and form fields."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.audience.schemas import INTEREST_SLUG, INTERESTS_MAX
from app.constants import (
    CATALOG_CATEGORY_LENGTH_MAX,
    EMAIL_LENGTH_MAX,
    SEARCH_QUERY_LENGTH_MAX,
    SHIPPING_ADDRESS_LENGTH_MAX,
)
from app.converters import ID_DIGITS_MAX
from app.members.schemas import EmailField

CURSOR = validate.Regexp(rf"^[0-9]{{1,{ID_DIGITS_MAX}}}$", error="Not a page of this list.")


class _Form(ma.Schema):
    class Meta:
        # Forms carry csrf_token and buttons; only the named fields are read.
        unknown = ma.EXCLUDE


class SignInForm(_Form):
    email = EmailField(required=True, validate=validate.Length(max=EMAIL_LENGTH_MAX))


class CatalogArgs(_Form):
    q = ma.fields.String(load_default="", validate=validate.Length(max=SEARCH_QUERY_LENGTH_MAX))
    category = ma.fields.String(
        load_default="",
        validate=validate.Regexp(
            rf"^([a-z0-9][a-z0-9-]{{0,{CATALOG_CATEGORY_LENGTH_MAX - 1}}})?$", error="Not a category."
        ),
    )
    affordable = ma.fields.Boolean(load_default=False, truthy={"1", "on", "true"}, falsy={"", "0", "off", "false"})
    cursor = ma.fields.String(load_default=None, validate=CURSOR)


class MovementArgs(_Form):
    before = ma.fields.String(load_default=None, validate=CURSOR)


class RedeemForm(_Form):
    idempotency_key = ma.fields.String(
        required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{16,64}$", error="Reload the page and try again.")
    )
    shipping_address = ma.fields.String(load_default="", validate=validate.Length(max=SHIPPING_ADDRESS_LENGTH_MAX))

    @ma.post_load
    def _trimmed(self, data, **_):
        # The redemption's key is claimed for the loaded form: spaces around the address are the same request.
        return {**data, "shipping_address": data["shipping_address"].strip()}


_CHECKBOX = {"load_default": False, "truthy": {"1", "on", "true"}, "falsy": {"", "0", "off", "false"}}


class PreferencesForm(_Form):
    offers_merchants = ma.fields.Boolean(**_CHECKBOX)
    offers_coalition = ma.fields.Boolean(**_CHECKBOX)
    interests = ma.fields.List(
        ma.fields.String(validate=validate.Regexp(INTEREST_SLUG, error="Not an interest.")),
        load_default=list,
        validate=validate.Length(max=INTERESTS_MAX),
    )

    @classmethod
    def fields_of(cls, form) -> dict:
        """The form's fields, the interests as the list of checked boxes."""
        return {
            "offers_merchants": form.get("offers_merchants", ""),
            "offers_coalition": form.get("offers_coalition", ""),
            "interests": form.getlist("interests"),
        }


class DeleteForm(_Form):
    confirm = ma.fields.String(required=True, validate=validate.Equal("DELETE", error="Type DELETE to confirm."))
