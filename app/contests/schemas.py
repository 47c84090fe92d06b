from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.constants import EMAIL_LENGTH_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from app.contests.draw import ALGORITHM
from app.members.schemas import EmailField
from app.schemas import Id, StrictSchema, Timestamp, page_of

CONTEST_NAME_LENGTH_MAX = 120
WINNERS_MAX = 1000


class PrizeSchema(StrictSchema):
    item_id = ma.fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9]{1,18}$", error="Not an item id."),
        metadata={"description": "A voucher item of your catalog (the operator: of any merchant's)."},
    )


class EligibilitySchema(StrictSchema):
    segment_id = ma.fields.String(
        validate=validate.Regexp(r"^[0-9]{1,18}$", error="Not a segment id."),
        metadata={"description": "Existing customers only: members of this segment of yours who are your customers."},
    )
    free_entry = ma.fields.Boolean(
        validate=validate.Equal(True, error="Only true: leave it out for a segment."),
        metadata={"description": "Open to every member, no purchase required."},
    )

    @ma.validates_schema
    def _one_of(self, data, **_kwargs):
        if ("segment_id" in data) == ("free_entry" in data):
            raise ma.ValidationError("Give either segment_id or free_entry: true.", "_schema")


class ContestCreateSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=validate.Length(1, CONTEST_NAME_LENGTH_MAX))
    prize = ma.fields.Nested(PrizeSchema, required=True)
    winners = ma.fields.Integer(
        required=True,
        validate=validate.Range(1, WINNERS_MAX),
        metadata={"description": "1 to 1000, and no more than the prize item's stock: that many are set aside."},
    )
    entries_open_at = Timestamp(
        required=True, metadata={"description": "Not in the past: the commitment is published before entries open."}
    )
    entries_close_at = Timestamp(required=True, metadata={"description": "After entries_open_at, at most 366 days."})
    eligibility = ma.fields.Nested(EligibilitySchema, required=True)


class ContestSchema(ma.Schema):
    id = Id()
    owner = ma.fields.Function(
        lambda c: "operator" if c.merchant_id is None else "merchant", metadata={"description": "merchant or operator"}
    )
    name = ma.fields.String()
    prize = ma.fields.Function(lambda c: {"item_id": str(c.item_id)})
    winners_count = ma.fields.Integer(metadata={"description": "How many prizes (winners asked at creation)."})
    entries_open_at = Timestamp()
    entries_close_at = Timestamp()
    eligibility = ma.fields.Function(
        lambda c: {"free_entry": True} if c.free_entry else {"segment_id": str(c.segment_id)}
    )
    status = ma.fields.String(metadata={"description": "scheduled, open, closed (not drawn yet) or drawn"})
    entries_count = ma.fields.Integer(
        attribute="entries_shown", metadata={"description": "Entries so far (fixed once drawn)."}
    )
    seed_commitment = ma.fields.String(metadata={"description": "SHA-256 (hex) of the secret seed's 32 bytes."})
    seed = ma.fields.String(
        attribute="seed_shown", allow_none=True, metadata={"description": "Hex; null until the draw."}
    )
    entries_hash = ma.fields.String(allow_none=True, metadata={"description": "Null until the draw."})
    winners = ma.fields.List(
        ma.fields.String(),
        allow_none=True,
        metadata={"description": "The winning entries' ids in draw order; null until the draw."},
    )
    algorithm = ma.fields.String(allow_none=True, metadata={"description": f"{ALGORITHM}; null until the draw."})
    drawn_at = Timestamp(allow_none=True)
    created_at = Timestamp()


class DrawSchema(ma.Schema):
    seed = ma.fields.String(metadata={"description": "The secret seed, hex: its SHA-256 is seed_commitment."})
    entries_hash = ma.fields.String(metadata={"description": "SHA-256 (hex) of the entry ids ascending joined by \\n."})
    winners = ma.fields.List(ma.fields.String(), metadata={"description": "The winning entries' ids, in draw order."})
    algorithm = ma.fields.String(metadata={"description": ALGORITHM})
    seed_commitment = ma.fields.String()
    entries_count = ma.fields.Integer()


class EntryCreateSchema(StrictSchema):
    member_email = EmailField(required=True, validate=validate.Length(max=EMAIL_LENGTH_MAX))


class EntrySchema(ma.Schema):
    contest_id = ma.fields.Function(lambda e: str(e.contest_id))
    entry_id = ma.fields.String(
        metadata={"description": "The entry's public id, as the entry list and winners show it."}
    )
    member_id = ma.fields.Function(lambda e: str(e.member_id), metadata={"description": "Your customer who entered."})
    source = ma.fields.String(metadata={"description": "boutique (the member entered) or api"})
    created_at = Timestamp()


class EntryIdSchema(ma.Schema):
    entry_id = ma.fields.String(
        metadata={"description": "An entry's public id: random, it names no member (each member sees their own)."}
    )


class EntryListArgsSchema(StrictSchema):
    limit = ma.fields.Integer(load_default=PAGE_SIZE_DEFAULT, validate=validate.Range(1, PAGE_SIZE_MAX))
    cursor = ma.fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[0-9a-f]{32}$", error="Not a cursor from a previous page."),
        metadata={"description": "The `next_cursor` of the previous page."},
    )


ContestPageSchema = page_of(ContestSchema, "ContestPage")
EntryPageSchema = page_of(EntryIdSchema, "ContestEntryPage")
