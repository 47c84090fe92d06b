"""Schemas shared by every feature: pagination and common field rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import marshmallow as ma
from marshmallow import validate

from app.constants import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from app.converters import ID_DIGITS_MAX


class StrictSchema(ma.Schema):
    """Unknown fields are refused, so a typo never passes silently; and JSON's own
    types are taken at their word: ``1.5`` is not an integer (marshmallow would make
    it 1) and ``0`` or ``1`` is not a boolean. Strings (query arguments, form fields)
    are parsed as before."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _json_types(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        errors = {}
        for name, value in data.items():
            field = self.fields.get(name)
            inner = field.inner if isinstance(field, ma.fields.List) else None
            values = value if inner is not None and isinstance(value, list) else [value]
            message = _wrong_json_type(inner or field, values)
            if message:
                errors[name] = [message]
        if errors:
            raise ma.ValidationError(errors)
        return data


# Dates and timestamps a client may send: this century onwards, and far enough below
# Python's year 9999 that a window or an offset added to one cannot overflow.
DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(9000, 1, 1)
TIMESTAMP_MIN = datetime(2000, 1, 1, tzinfo=UTC)
TIMESTAMP_MAX = datetime(9000, 1, 1, tzinfo=UTC)
DATE_RANGE_ERROR = f"Out of range: from {DATE_MIN.isoformat()} to {DATE_MAX.isoformat()}."


class Day(ma.fields.Date):
    """A calendar day between DATE_MIN and DATE_MAX."""

    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(value, attr, data, **kwargs)
        if not DATE_MIN <= day <= DATE_MAX:
            raise ma.ValidationError(DATE_RANGE_ERROR)
        return day


class Timestamp(ma.fields.AwareDateTime):
    """A timestamp with its UTC offset, loaded as UTC, between TIMESTAMP_MIN and
    TIMESTAMP_MAX: ``0001-01-01T00:00:00+01:00`` is a valid ISO 8601 string that no
    datetime can hold once in UTC, so it is refused here, not in the database."""

    def _deserialize(self, value, attr, data, **kwargs):
        when = super()._deserialize(value, attr, data, **kwargs)
        try:
            when = when.astimezone(UTC)
        except OverflowError:
            raise ma.ValidationError(DATE_RANGE_ERROR) from None
        if not TIMESTAMP_MIN <= when <= TIMESTAMP_MAX:
            raise ma.ValidationError(DATE_RANGE_ERROR)
        return when


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


def OptionalId(attribute: str, **kwargs) -> ma.fields.Function:
    """An integer key that may be missing (``attribute`` of the object), as a string or null."""

    def shown(obj) -> str | None:
        value = getattr(obj, attribute)
        return None if value is None else str(value)

    return ma.fields.Function(shown, allow_none=True, **kwargs)


def _wrong_json_type(field, values: list) -> str | None:
    """Why one of ``values`` is not what ``field`` takes in JSON, if it is not."""
    if any(isinstance(v, str) and not text_storable(v) for v in values):
        return "Text may not contain NUL characters or lone surrogates."
    if isinstance(field, ma.fields.Integer):
        if any(isinstance(v, float) for v in values):
            return "Not a valid integer."
    elif isinstance(field, ma.fields.Boolean):
        if any(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return "Not a valid boolean: use true or false."
    return None


def text_storable(value: str) -> bool:
    """Text every database stores as sent: no NUL (PostgreSQL refuses it) and valid UTF-8 (no lone surrogate)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_variant(data: dict, field_of: dict[str, str], noun: str) -> None:
    """A body tagged by ``type``: the field ``field_of[type]`` is required, the other
    variants' fields are refused (a ``type`` outside ``field_of`` is its own field's error)."""
    kind = data.get("type")
    if kind not in field_of:
        return
    wanted = field_of[kind]
    errors = {}
    if wanted not in data:
        errors[wanted] = [f"Required for a {kind} {noun}."]
    for other in field_of.values():
        if other != wanted and other in data:
            errors[other] = [f"Not part of a {kind} {noun}."]
    if errors:
        raise ma.ValidationError(errors)
