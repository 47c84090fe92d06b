from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.schemas import StrictSchema, Timestamp

INTEREST_SLUG = r"^[a-z0-9][a-z0-9-]{0,39}$"
INTEREST_LABEL_LENGTH_MAX = 80
INTERESTS_MAX = 200


class InterestCreateSchema(StrictSchema):
    slug = ma.fields.String(
        required=True,
        validate=validate.Regexp(INTEREST_SLUG, error="1 to 40 of a-z, 0-9 and '-', starting with a letter or digit."),
        metadata={"description": "How segments and members' choices name it, e.g. `rock`."},
    )
    label = ma.fields.String(
        required=True,
        validate=validate.Length(1, INTEREST_LABEL_LENGTH_MAX),
        metadata={"description": "What members read on their account page, e.g. `Rock music`."},
    )


class InterestSchema(ma.Schema):
    slug = ma.fields.String()
    label = ma.fields.String()
    created_at = Timestamp()
    retired_at = Timestamp(allow_none=True, metadata={"description": "Set once retired: no longer offered."})


class InterestQuerySchema(StrictSchema):
    retired = ma.fields.Boolean(load_default=False, metadata={"description": "true: include retired interests."})
