from __future__ import annotations

from flask import g, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from app import unit_of_work
from app.card import services
from app.card.schemas import CardTermsInputSchema, CardTermsSchema, CardVoucherSchema, VoucherRedeemSchema
from app.errors import conflict
from app.extensions import db
from app.identity.auth import any_key_required, merchant_required, operator_required
from app.payments import stripe_gateway

blp = Blueprint(
    "card",
    __name__,
    url_prefix="/v1",
    description="The paid loyalty card: its terms (operator) and its vouchers (coalition merchants).",
)
_TERMS = CardTermsSchema()


@blp.route("/card")
class Card(MethodView):
    @operator_required
    @blp.arguments(CardTermsInputSchema)
    @blp.response(200, CardTermsSchema)
    @blp.alt_response(201, schema=CardTermsSchema, description="New terms: a new version and its Stripe plan.")
    @blp.alt_response(502, **conflict("Stripe could not be reached or failed; nothing was recorded. Retry later."))
    def put(self, data):
        """Set the paid card's terms

        The yearly price in EUR, the earn multiplier of card holders and the voucher
        they get per spend (e.g. 10.00 EUR for every full 500.00 EUR spent at coalition
        merchants). New terms are a new `version` with a new Stripe plan, for new
        subscribers: holders keep the terms they subscribed to until their card ends.
        The same terms again answer 200 and change nothing.
        """
        terms, changed = services.put_terms(unit_of_work.current(), stripe_gateway.current(), data)
        return jsonify(_TERMS.dump(terms)), 201 if changed else 200

    @any_key_required
    @blp.response(200, CardTermsSchema)
    def get(self):
        """Show the paid card's terms

        Any key (a shop shows them at checkout); members read them on the `/card`
        page without one. 404 until the operator sets them.
        """
        return services.get_terms(db.session)


@blp.route("/card-vouchers/<string:voucher_code>/redeem")
class CardVoucherRedeem(MethodView):
    decorators = [merchant_required]

    @blp.arguments(VoucherRedeemSchema)
    @blp.response(200, CardVoucherSchema)
    @blp.alt_response(409, **conflict("The voucher was already redeemed (for another order or merchant)."))
    @blp.alt_response(410, **conflict("The voucher has expired."))
    def post(self, data, voucher_code):
        """Redeem a member's card voucher

        Any coalition merchant accepts the code a card holder shows (on their card
        page) for part of an order; the operator then owes the merchant the
        voucher's value (it is in the merchant's statement with the rewards
        supplied). Once: the same `order_id` by the same merchant answers the
        voucher again, any other redemption is a 409. An unknown code is a 404, an
        expired one a 410; the answer never names the member.
        """
        uow = unit_of_work.current()
        voucher = services.redeem_voucher(uow, g.merchant.id, voucher_code, data["order_id"])
        uow.commit(None)
        return voucher
