"""The transparency log's HTTP contract (docs/ledger.md): any API key may read heads and
consistency proofs; entries and their inclusion proofs only where the caller is party."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

import ledger
from app import unit_of_work
from app.extensions import db
from app.identity.auth import any_key_required, operator_required
from app.schemas import PageArgsSchema
from app.transparency import services
from app.transparency.schemas import (
    ConsistencyArgsSchema,
    ConsistencySchema,
    EntryProofArgsSchema,
    EntryProofSchema,
    LogEntriesArgsSchema,
    LogEntriesPageSchema,
    PublicKeysSchema,
    TreeHeadPageSchema,
    TreeHeadSchema,
)

blp = Blueprint(
    "transparency",
    __name__,
    url_prefix="/v1/ledger",
    description="The signed, append-only log over the ledger's journal (RFC 9162): heads, proofs, your entries.",
)


@blp.route("/tree-head")
class NewestTreeHead(MethodView):
    decorators = [any_key_required]

    @blp.response(200, TreeHeadSchema)
    def get(self):
        """The newest signed tree head

        Its `signature` is the base64 Ed25519 signature of the ASCII bytes
        `v1:<tree_size>:<timestamp>:<root_hash>` by the key `key_id`. Before the
        first head, the empty tree's head (size 0, time 0).
        """
        return services.newest_head(db.session)


@blp.route("/tree-heads")
class TreeHeads(MethodView):
    decorators = [any_key_required]

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, TreeHeadPageSchema)
    def get(self, args):
        """Every signed tree head, newest first"""
        return services.tree_heads(db.session, **args)

    @operator_required
    @blp.response(201, TreeHeadSchema)
    def post(self):
        """Sign a tree head now (operator)

        Seals every committed entry first, then signs the tree; when the newest
        head already covers the whole tree, answers that head.
        """
        uow = unit_of_work.current()
        return uow.commit(services.head_now(uow))


@blp.route("/public-keys")
class PublicKeys(MethodView):
    decorators = [any_key_required]

    @blp.response(200, PublicKeysSchema)
    def get(self):
        """The keys that sign tree heads, current and retired"""
        return {"data": ledger.public_keys(db.session)}


@blp.route("/consistency")
class Consistency(MethodView):
    decorators = [any_key_required]

    @blp.arguments(ConsistencyArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ConsistencySchema)
    def get(self, args):
        """Prove that the tree of `second` leaves extends the tree of `first`

        RFC 9162 consistency proof; `first` 0 or equal to `second` gives `[]`.
        """
        return services.consistency(db.session, args["first"], args["second"])


@blp.route("/entries/<id:entry_id>/proof")
class EntryProof(MethodView):
    decorators = [any_key_required]

    @blp.arguments(EntryProofArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, EntryProofSchema)
    def get(self, args, entry_id):
        """Prove that one of your entries is in the log

        `canonical` is the base64 of the bytes the leaf hashes, so
        `leaf_hash = SHA-256(0x00 || canonical)`; `proof` is the RFC 9162
        inclusion proof against the head of `tree_size` (the newest by default).
        An entry that does not post to one of your accounts is a 404.
        """
        return services.entry_proof(db.session, entry_id, args["tree_size"])


@blp.route("/entries")
class OwnEntries(MethodView):
    decorators = [any_key_required]

    @blp.arguments(LogEntriesArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, LogEntriesPageSchema)
    def get(self, args):
        """Your entries in the log, by leaf index

        Pass the previous page's `next_cursor` as `after` to go on; mirror them
        to check your numbers against the log.
        """
        return services.own_entries(db.session, after=args["after"], limit=args["limit"])
