"""Offers over HTTP: a message and a reward for a segment, with a measured holdout."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import unit_of_work
from app.extensions import db
from app.identity.auth import operator_or_merchant_required
from app.identity.callers import current_caller
from app.offers import report, services
from app.offers.schemas import OfferCreateSchema, OfferPageSchema, OfferReportSchema, OfferSchema
from app.schemas import PageArgsSchema
from app.unit_of_work import idempotent

blp = Blueprint(
    "offers",
    __name__,
    url_prefix="/v1/offers",
    description="Merchant or operator: offers mailed to a segment's consenting members, with a holdout "
    "that measures what they brought.",
)


def _shown(offer):
    offer.status = offer.status_at(unit_of_work.current().now)
    return offer


@blp.route("")
class Offers(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.arguments(OfferCreateSchema)
    @blp.response(201, OfferSchema)
    @idempotent(blp, OfferSchema)
    def post(self, data):
        """Create an offer for one of your segments

        From `starts_at` the `send-offers` job chooses the recipients (the
        segment's members then), holds out a random, reproducible `holdout_bp`
        of them (they get nothing), and mails the others whose consent allows it,
        within `OFFER_MAILS_PER_MINUTE`. A `bonus` reward gives its points on the
        recipient's next order in the window, once; a `voucher` names a voucher
        item of your catalog.
        """
        return _shown(services.create_offer(unit_of_work.current(), current_caller(), data))

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, OfferPageSchema)
    def get(self, args):
        """List your offers, oldest first"""
        page = services.list_offers(db.session, current_caller(), **args)
        for offer in page.data:
            _shown(offer)
        return page


@blp.route("/<id:offer_id>")
class OfferById(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.response(200, OfferSchema)
    def get(self, offer_id):
        """One of your offers"""
        return _shown(services.get_offer(db.session, current_caller(), offer_id))


@blp.route("/<id:offer_id>/report")
class OfferReport(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.response(200, OfferReportSchema)
    def get(self, offer_id):
        """What the offer brought: sent, opened, clicked, converted, against the holdout"""
        return report.report(db.session, services.get_offer(db.session, current_caller(), offer_id))
