"""Campaigns over HTTP: a merchant runs its own, the operator runs coalition-wide ones."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

import ledger
from app import unit_of_work
from app.campaigns import services
from app.campaigns.schemas import CampaignCreateSchema, CampaignPageSchema, CampaignQuerySchema, CampaignSchema
from app.extensions import db
from app.identity.auth import operator_or_merchant_required
from app.identity.callers import current_caller
from app.unit_of_work import idempotent

blp = Blueprint(
    "campaigns",
    __name__,
    url_prefix="/v1/campaigns",
    description="Merchant: campaigns on your orders, paid at your point price. "
    "Operator: coalition-wide campaigns on every merchant's orders, paid by the operator.",
)
_ENDED = "The campaign has ended: ending is final."


@blp.route("")
class Campaigns(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.arguments(CampaignCreateSchema)
    @blp.response(201, CampaignSchema)
    @idempotent(blp, CampaignSchema)
    def post(self, data):
        """Start a campaign

        With a merchant key: extra points on your orders, paid by you at your
        point price. With the operator key: extra points on the orders of every
        merchant, paid by the operator. A `multiplier` gives the extra points
        `floor(base × (factor_bp − 10000) / 10000)` on top of the merchant's own
        rule; a `bonus` gives fixed points. Every given condition must hold.
        `budget_points` is a hard cap on the points the campaign ever awards.
        """
        return services.create_campaign(unit_of_work.current(), current_caller(), data)

    @blp.arguments(CampaignQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, CampaignPageSchema)
    def get(self, args):
        """List your campaigns (the operator: every campaign), oldest first"""
        return services.list_campaigns(db.session, current_caller(), now=ledger.utcnow(), **args)


@blp.route("/<id:campaign_id>")
class CampaignById(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.response(200, CampaignSchema)
    def get(self, campaign_id):
        """Show one of your campaigns, with its budget spent so far"""
        return services.get_campaign(db.session, current_caller(), campaign_id, now=ledger.utcnow())


@blp.route("/<id:campaign_id>/pause")
class CampaignPause(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.response(200, CampaignSchema)
    @idempotent(blp, CampaignSchema, status=200, conflicts=_ENDED)
    def post(self, campaign_id):
        """Pause a campaign: it awards nothing until resumed (a paused one stays as it is)"""
        return services.pause_campaign(unit_of_work.current(), current_caller(), campaign_id)


@blp.route("/<id:campaign_id>/resume")
class CampaignResume(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.response(200, CampaignSchema)
    @idempotent(blp, CampaignSchema, status=200, conflicts=_ENDED)
    def post(self, campaign_id):
        """Resume a paused campaign (a running one stays as it is)"""
        return services.resume_campaign(unit_of_work.current(), current_caller(), campaign_id)


@blp.route("/<id:campaign_id>/end")
class CampaignEnd(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.response(200, CampaignSchema)
    @idempotent(blp, CampaignSchema, status=200)
    def post(self, campaign_id):
        """End a campaign now, for good (an ended one stays as it is)

        Points it already awarded stay with the members; a refund of an order
        does not give the campaign's budget back.
        """
        return services.end_campaign(unit_of_work.current(), current_caller(), campaign_id)
