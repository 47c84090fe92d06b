"""Schemas shared by every feature: pagination and common field rules."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.constants import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from app.converters import ID_DIGITS_MAX


class StrictSchema(ma.Schema):
    """Unknown fields are refused, so a typo never passes silently."""

    class Meta:
        unknown = ma.RAISE


class PageArgsSchema(StrictSchema):
    limit = ma.fields.Integer(
        load_default=PAGE_SIZE_DEFAULT,
        validate=validate.Range(1, PAGE_SIZE_MAX),
        metadata={"description": f"Items per page, 1 to {PAGE_SIZE_MAX}."},
    )
    cursor = ma.fields.String(
        load_default=None,
        validate=validate.Regexp(rf"^[0-9]{{1,{ID_DIGITS_MAX}}}$", error="Not a cursor from a previous page."),
        metadata={"description": "The `next_cursor` of the previous page."},
    )


def page_of(schema_cls: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A page of ``schema_cls`` items: ``{"data": [...], "next_cursor": str | null}``."""
    return ma.Schema.from_dict(
        {
            "data": ma.fields.List(ma.fields.Nested(schema_cls), required=True),
            "next_cursor": ma.fields.String(
                allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null on the last."}
            ),
        },
        name=name,
    )


def Id(**kwargs) -> ma.fields.Function:
    """Integer keys are shown as strings, so clients never do arithmetic on them."""
    return ma.fields.Function(lambda obj: str(obj.id), dump_only=True, **kwargs)
