"""The coalition's list of interests: the operator manages it, every key reads it."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import unit_of_work
from app.audience import services
from app.audience.schemas import InterestCreateSchema, InterestQuerySchema, InterestSchema
from app.extensions import db
from app.identity.auth import any_key_required, operator_required
from app.unit_of_work import idempotent

blp = Blueprint(
    "interests",
    __name__,
    url_prefix="/v1/interests",
    description="Operator: the coalition-wide list of interests members may declare (segments select on them).",
)


@blp.route("")
class Interests(MethodView):
    @any_key_required
    @blp.arguments(InterestQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, InterestSchema(many=True))
    def get(self, args):
        """The list of interests, by slug (any key)"""
        return services.interests(db.session, retired=args["retired"])

    @operator_required
    @blp.arguments(InterestCreateSchema)
    @blp.response(201, InterestSchema)
    @idempotent(blp, InterestSchema, conflicts="An interest with this slug is in the list.")
    def post(self, data):
        """Add an interest to the list

        Members choose from the list on their account page. A retired slug
        comes back with the new label. At most 200 interests are offered.
        """
        return services.add_interest(unit_of_work.current(), data["slug"], data["label"])


@blp.route("/<string:slug>/retire")
class InterestRetire(MethodView):
    @operator_required
    @blp.response(200, InterestSchema)
    def post(self, slug):
        """Retire an interest: no longer offered; members' choices and segments naming it stay"""
        uow = unit_of_work.current()
        retired = services.retire_interest(uow, slug)
        uow.commit(None)
        return retired
