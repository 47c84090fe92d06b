"""Segments over HTTP: a merchant's, over what the platform knows of members, and the operator's."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import unit_of_work
from app.extensions import db
from app.identity.auth import operator_or_merchant_required
from app.identity.callers import current_caller
from app.schemas import PageArgsSchema
from app.segments import services
from app.segments.schemas import (
    SegmentCreateSchema,
    SegmentDetailSchema,
    SegmentMemberPageSchema,
    SegmentPageSchema,
    SegmentSchema,
)
from app.unit_of_work import idempotent

blp = Blueprint(
    "segments",
    __name__,
    url_prefix="/v1/segments",
    description="Merchant or operator: groups of members by rules over orders, tier and interests. "
    "A merchant sees how many members who are not its customers a segment holds, never who they are.",
)


@blp.route("")
class Segments(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.arguments(SegmentCreateSchema)
    @blp.response(201, SegmentSchema)
    @idempotent(blp, SegmentSchema, conflicts="You have as many segments as there may be.")
    def post(self, data):
        """Create a segment

        Its members are computed at once; the `refresh-segments` job keeps them
        current as members order, are refunded, change interests or tier, or
        cross a time rule. At most 50 segments each.
        """
        return services.create_segment(unit_of_work.current(), current_caller(), data)

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, SegmentPageSchema)
    def get(self, args):
        """List your segments, oldest first"""
        return services.list_segments(db.session, current_caller(), **args)


@blp.route("/<id:segment_id>")
class SegmentById(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.response(200, SegmentDetailSchema)
    def get(self, segment_id):
        """One segment: its sizes and how they moved"""
        return services.get_segment(db.session, current_caller(), segment_id)


@blp.route("/<id:segment_id>/members")
class SegmentMembers(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, SegmentMemberPageSchema)
    def get(self, args, segment_id):
        """Who is in the segment: a merchant sees its own customers only; the operator, everyone"""
        return services.segment_members(db.session, current_caller(), segment_id, **args)
