from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from app import unit_of_work
from app.billing import services
from app.billing.schemas import BillingSchema, BillingSetupSchema, PaymentMethodChoiceSchema
from app.errors import conflict
from app.extensions import db
from app.identity.auth import operator_required
from app.payments import stripe_gateway
from app.unit_of_work import idempotent

blp = Blueprint(
    "billing",
    __name__,
    url_prefix="/v1/merchants",
    description="Operator: how merchants pay, through Stripe (a customer and a saved payment method).",
)

_PROVIDER_ERROR = "Stripe could not be reached or failed; nothing was recorded. Retry later."


@blp.route("/<id:merchant_id>/billing")
class MerchantBilling(MethodView):
    decorators = [operator_required]

    @blp.response(201, BillingSetupSchema)
    @blp.alt_response(200, schema=BillingSetupSchema, description="Billing was already set up: the same customer.")
    @blp.alt_response(502, **conflict(_PROVIDER_ERROR))
    def post(self, merchant_id):
        """Set up a merchant's billing

        Creates the merchant's Stripe customer (once) and a SetupIntent for
        off-session use (card or SEPA Direct Debit), and answers its
        `setup_intent_client_secret`: the merchant confirms it in the browser with
        Stripe.js, then `PUT` saves the confirmed payment method as the default.
        The first call answers 201. Any later call answers 200 with the same
        customer and the same SetupIntent while it can still be confirmed, or a
        fresh one once it has succeeded or been canceled (to change the payment
        method). Safe to retry: a retry never creates a second customer.
        """
        answer, created = services.set_up_billing(unit_of_work.current(), stripe_gateway.current(), merchant_id)
        return jsonify(answer), 201 if created else 200

    @blp.arguments(PaymentMethodChoiceSchema)
    @blp.response(200, BillingSchema)
    @blp.alt_response(402, **conflict("The card's issuer or the bank declined the payment method."))
    @blp.alt_response(502, **conflict(_PROVIDER_ERROR))
    @idempotent(blp, BillingSchema, status=200, conflicts="The merchant has no Stripe customer yet: POST first.")
    def put(self, data, merchant_id):
        """Save a merchant's default payment method

        Attaches the payment method (confirmed with the SetupIntent) to the
        merchant's Stripe customer and makes it the customer's default for
        invoices and off-session payments; `status` becomes `ready`. A payment
        method Stripe does not know or will not attach is a 422, a declined card
        a 402. Safe to retry with the same payment method.
        """
        return services.set_default_payment_method(
            unit_of_work.current(), stripe_gateway.current(), merchant_id, data["payment_method"]
        )

    @blp.response(200, BillingSchema)
    def get(self, merchant_id):
        """Show a merchant's billing

        404 until billing was set up with `POST`. The SetupIntent's client
        secret is shown only by `POST`.
        """
        return services.get_billing(db.session, merchant_id)
