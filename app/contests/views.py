"""Contests over HTTP: a merchant's (prizes from its own vouchers) or the operator's."""

from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import unit_of_work
from app.contests import services
from app.contests.schemas import (
    ContestCreateSchema,
    ContestPageSchema,
    ContestSchema,
    DrawSchema,
    EntryCreateSchema,
    EntryListArgsSchema,
    EntryPageSchema,
    EntrySchema,
)
from app.errors import conflict
from app.extensions import db
from app.identity.auth import operator_or_merchant_required
from app.identity.callers import current_caller
from app.schemas import PageArgsSchema
from app.unit_of_work import idempotent

blp = Blueprint(
    "contests",
    __name__,
    url_prefix="/v1/contests",
    description="Merchant or operator: contests with boutique vouchers as prizes and a draw anyone can "
    "recompute (docs/audience.md, Contests; partner_sdk.verify_draw).",
)
_ENTRY = EntrySchema()


@blp.route("")
class Contests(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.arguments(ContestCreateSchema)
    @blp.response(201, ContestSchema)
    @idempotent(blp, ContestSchema, conflicts="You have as many contests not drawn yet as there may be.")
    def post(self, data):
        """Create a contest

        `winners` units of the prize item are set aside at once (its stock must hold
        them). The seed is drawn now and kept secret: `seed_commitment`, its SHA-256,
        is published here, before entries open. A segment contest is for your
        existing customers in that segment; `free_entry` is open to every member.
        """
        return services.create_contest(unit_of_work.current(), current_caller(), data)

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ContestPageSchema)
    def get(self, args):
        """List your contests, oldest first"""
        return services.list_contests(db.session, current_caller(), now=unit_of_work.current().now, **args)


@blp.route("/<id:contest_id>")
class ContestById(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.response(200, ContestSchema)
    def get(self, contest_id):
        """One contest: once drawn, with the seed, the entries' hash and the winners"""
        session = db.session
        contest = services.readable(session, current_caller(), contest_id)
        return services.view(session, contest, unit_of_work.current().now)


@blp.route("/<id:contest_id>/entries")
class ContestEntries(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.arguments(EntryCreateSchema)
    @blp.response(201, EntrySchema)
    @blp.alt_response(200, schema=EntrySchema, description="The member had entered already: the same entry.")
    @blp.alt_response(409, **conflict("Entries are not open now."))
    def post(self, data, contest_id):
        """Enter one of your customers

        Between `entries_open_at` and `entries_close_at` only; a member who is not
        your customer, or not eligible, is refused and nothing is written.
        """
        uow = unit_of_work.current()
        entry, new = services.enter_customer(uow, current_caller(), contest_id, data["member_email"])
        return jsonify(uow.commit(_ENTRY.dump(entry))), 201 if new else 200

    @blp.arguments(EntryListArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, EntryPageSchema)
    def get(self, args, contest_id):
        """The entry list in draw order (entry ids ascending), for checking the draw"""
        return services.entry_list(db.session, current_caller(), contest_id, **args)


@blp.route("/<id:contest_id>/draw")
class ContestDraw(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.response(200, DrawSchema)
    @blp.alt_response(409, **conflict("Entries have not closed yet."))
    def post(self, contest_id):
        """Draw the winners

        After `entries_close_at`. Publishes the seed, the SHA-256 of the ordered
        entries and the winners (`hmac-sha256-rejection-v1`); each winner gets the
        prize voucher in their boutique orders. Drawing again answers the same result.
        """
        uow = unit_of_work.current()
        answer = _drawn(services.draw_contest(uow, current_caller(), contest_id))
        uow.commit(None)
        return answer


def _drawn(contest) -> dict:
    return {
        "seed": contest.seed,
        "entries_hash": contest.entries_hash,
        "winners": contest.winners,
        "algorithm": contest.algorithm,
        "seed_commitment": contest.seed_commitment,
        "entries_count": contest.entries_count,
    }
