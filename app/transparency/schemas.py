"""The log's answers, as docs/ledger.md describes them."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.constants import LOG_ENTRIES_PAGE_MAX, PAGE_SIZE_DEFAULT
from app.converters import ID_DIGITS_MAX
from app.schemas import StrictSchema, page_of

LEAF_INDEX_MAX = 10**ID_DIGITS_MAX - 1


class TreeHeadSchema(ma.Schema):
    tree_size = ma.fields.Integer(metadata={"description": "Leaves (sealed entries) the head covers."})
    root_hash = ma.fields.String(metadata={"description": "RFC 9162 root of those leaves, hex."})
    timestamp = ma.fields.Integer(
        attribute="timestamp_ms", metadata={"description": "When it was signed, Unix milliseconds."}
    )
    key_id = ma.fields.String(metadata={"description": "The key that signed it (see /v1/ledger/public-keys)."})
    signature = ma.fields.String(
        metadata={"description": "Base64 Ed25519 signature of the ASCII `v1:<tree_size>:<timestamp>:<root_hash>`."}
    )


TreeHeadPageSchema = page_of(TreeHeadSchema, "TreeHeadPage")


class PublicKeySchema(ma.Schema):
    key_id = ma.fields.String()
    public_key = ma.fields.String(metadata={"description": "Base64 of the 32 raw bytes of the Ed25519 public key."})
    retired_at = ma.fields.DateTime(allow_none=True, metadata={"description": "Null for the key signing now."})


class PublicKeysSchema(ma.Schema):
    data = ma.fields.List(ma.fields.Nested(PublicKeySchema))


class ConsistencyArgsSchema(StrictSchema):
    first = ma.fields.Integer(required=True, validate=validate.Range(0, LEAF_INDEX_MAX))
    second = ma.fields.Integer(required=True, validate=validate.Range(0, LEAF_INDEX_MAX))


class ConsistencySchema(ma.Schema):
    first = ma.fields.Integer()
    second = ma.fields.Integer()
    proof = ma.fields.List(ma.fields.String(), metadata={"description": "RFC 9162 consistency proof, hex hashes."})


class PostingSchema(ma.Schema):
    account = ma.fields.String()
    asset = ma.fields.String()
    amount = ma.fields.Integer(metadata={"description": "Signed: points for PTS, minor units for a currency."})


class LogEntrySchema(ma.Schema):
    id = ma.fields.String()
    kind = ma.fields.String()
    ref = ma.fields.String()
    memo = ma.fields.String()
    created_at = ma.fields.String(metadata={"description": "UTC, as in the canonical bytes."})
    reverses_entry_id = ma.fields.String(allow_none=True)
    postings = ma.fields.List(ma.fields.Nested(PostingSchema))


class LoggedEntrySchema(ma.Schema):
    leaf_index = ma.fields.Integer()
    leaf_hash = ma.fields.String(metadata={"description": "SHA-256(0x00 || canonical), hex."})
    canonical = ma.fields.String(
        metadata={"description": "Base64 of the exact bytes the leaf hashes (docs/ledger.md)."}
    )
    entry = ma.fields.Nested(LogEntrySchema)


class EntryProofArgsSchema(StrictSchema):
    tree_size = ma.fields.Integer(
        load_default=None,
        validate=validate.Range(1, LEAF_INDEX_MAX),
        metadata={"description": "The head's size to prove against; the newest signed head by default."},
    )


class EntryProofSchema(LoggedEntrySchema):
    tree_size = ma.fields.Integer()
    proof = ma.fields.List(ma.fields.String(), metadata={"description": "RFC 9162 inclusion proof, hex hashes."})


class LogEntriesArgsSchema(StrictSchema):
    after = ma.fields.Integer(
        load_default=-1,
        validate=validate.Range(-1, LEAF_INDEX_MAX),
        metadata={"description": "Entries after this leaf index (the previous page's `next_cursor`)."},
    )
    limit = ma.fields.Integer(
        load_default=PAGE_SIZE_DEFAULT,
        validate=validate.Range(1, LOG_ENTRIES_PAGE_MAX),
        metadata={"description": f"Entries per page, 1 to {LOG_ENTRIES_PAGE_MAX}."},
    )


LogEntriesPageSchema = page_of(LoggedEntrySchema, "LogEntryPage")


class LogPointerSchema(ma.Schema):
    """Where a statement's, a payout's or a report's entries are in the log."""

    tree_head = ma.fields.Nested(TreeHeadSchema, allow_none=True)
    leaf_indexes = ma.fields.List(
        ma.fields.Integer(), metadata={"description": "Leaf indexes of the entries it sums, in that head's tree."}
    )
