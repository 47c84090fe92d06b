from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.card.schemas import MemberCardSchema
from app.constants import EMAIL_LENGTH_MAX
from app.schemas import PageArgsSchema, page_of


def normalize_email(value: str) -> str:
    """Members are one person per address: trimmed and case-insensitive."""
    return value.strip().lower()


class EmailField(ma.fields.Email):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = normalize_email(value)
        return super()._deserialize(value, attr, data, **kwargs)


class MemberQuerySchema(PageArgsSchema):
    email = EmailField(
        load_default=None,
        validate=validate.Length(max=EMAIL_LENGTH_MAX),
        metadata={"description": "Find one member by email (trimmed, case-insensitive)."},
    )


class MemberPointsSchema(ma.Schema):
    points_balance = ma.fields.Integer(metadata={"description": "Posted points."})
    points_held = ma.fields.Integer(
        metadata={"description": "Points held by redemptions not yet sent: part of the balance, not spendable."}
    )
    points_available = ma.fields.Integer(metadata={"description": "Balance minus held: what can be spent now."})
    points_debt = ma.fields.Integer(
        metadata={"description": "Points owed after refunds of spent points; repaid first by later earns."}
    )


class MemberSchema(MemberPointsSchema):
    id = ma.fields.String()
    email = ma.fields.String()
    created_at = ma.fields.DateTime()
    card = ma.fields.Nested(MemberCardSchema, metadata={"description": "The member's paid loyalty card."})


MemberPageSchema = page_of(MemberSchema, "MemberPage")
