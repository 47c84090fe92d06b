from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.card.schemas import MemberCardSchema
from app.constants import EMAIL_LENGTH_MAX
from app.programme.schemas import MemberTierSchema
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


_POINTS_FIGURES = {
    "points_balance": "Posted points: available plus held (incoming points are not in it).",
    "points_held": "Points held by redemptions not yet sent: part of the balance, not spendable.",
    "points_available": "Balance minus held: what can be spent now.",
    "points_debt": "Points owed after refunds of spent points; repaid first by later earns.",
    "points_incoming": "Points earned but still in a merchant's return window: not in the balance, not spendable, "
    "not expiring until they arrive.",
}
_NOT_YOUR_CUSTOMER = " Null while the member is not your customer: none of your orders has earned them points yet."


def _points_figures(*, nullable: bool) -> dict[str, ma.fields.Field]:
    suffix = _NOT_YOUR_CUSTOMER if nullable else ""
    return {
        name: ma.fields.Integer(allow_none=nullable, metadata={"description": text + suffix})
        for name, text in _POINTS_FIGURES.items()
    }


MemberPointsSchema = ma.Schema.from_dict(_points_figures(nullable=False), name="MemberPointsSchema")
# In an order's or a refund's answer: a merchant sees a member's coalition-wide
# figures only once the member is its customer.
CustomerPointsSchema = ma.Schema.from_dict(_points_figures(nullable=True), name="CustomerPointsSchema")


class MemberSchema(MemberPointsSchema):
    id = ma.fields.String()
    email = ma.fields.String()
    created_at = ma.fields.DateTime()
    tier = ma.fields.Nested(MemberTierSchema)
    card = ma.fields.Nested(MemberCardSchema, metadata={"description": "The member's paid loyalty card."})


MemberPageSchema = page_of(MemberSchema, "MemberPage")
