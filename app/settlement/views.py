from __future__ import annotations

import textwrap

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import unit_of_work
from app.errors import conflict
from app.extensions import db
from app.identity.auth import affiliate_required, merchant_required, operator_required, public
from app.payments import stripe_gateway
from app.schemas import PageArgsSchema
from app.settlement import collections, payouts, services, stripe_events
from app.settlement.schemas import (
    CollectionArgsSchema,
    CollectionPageSchema,
    PayoutCreateSchema,
    PayoutPageSchema,
    PayoutSchema,
    StatementCreateSchema,
    StatementPageSchema,
    StatementSchema,
)
from app.unit_of_work import answered, idempotent

blp = Blueprint(
    "settlement",
    __name__,
    url_prefix="/v1",
    description="Settlement: operator payouts to affiliates and statements of what merchants owe or are owed.",
)


_CSV_DOC = """

Send `Accept: text/csv` for the entries the lines sum: a header line
`statement_id,currency,category,entry_id,entry_kind,created_at,amount_cents`,
then one row per entry and category (`points_bought`, `commissions`,
`network_fees`, `rewards_supplied`, `other`; a commission entry has a
`commissions` row for its amount and a `network_fees` row for its fee). The
rows of a currency and category sum to the line's `<category>_cents`, and a
line's `net_cents` = sum(points_bought) + sum(commissions) +
sum(network_fees) - sum(rewards_supplied) + sum(other): `rewards_supplied`
rows are positive amounts the operator owes the merchant, subtracted from the
net; every other row is signed like the net (positive: the merchant owes).
"""
_STATEMENT_CONTENT = {
    "description": "The statement, as JSON or (Accept: text/csv) CSV.",
    "content": {
        "application/json": {"schema": StatementSchema},
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "`statement_id,currency,category,entry_id,entry_kind,created_at,amount_cents`, "
                "a header line then one row per entry and category.",
            }
        },
    },
}


def _csv_documented(view):
    """Append the CSV's description to the view's docstring (the OpenAPI text)."""
    body = (view.__doc__ or "").rstrip()
    view.__doc__ = body + "\n\n" + textwrap.indent(_CSV_DOC.strip(), " " * 8) + "\n"
    return view


def _statement_answer(statement):
    if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
        return Response(services.statement_csv(statement), mimetype="text/csv")
    return statement


# ----------------------------------------------------------------- operator


@blp.route("/affiliates/<id:affiliate_id>/payouts")
class AffiliatePayouts(MethodView):
    decorators = [operator_required]

    @blp.arguments(PayoutCreateSchema)
    @blp.response(201, PayoutSchema)
    @blp.alt_response(200, schema=PayoutSchema, description="Replay of the same payout_id and body.")
    @blp.alt_response(409, **conflict("This payout_id was used for a different payout."))
    def post(self, data, affiliate_id):
        """Pay an affiliate

        Pays every approved, not yet paid commission of the affiliate in `currency`,
        negative adjustments (refunds after approval) included, and marks them
        `paid`. The ledger moves the sum from the affiliate's payable to the
        platform's cash: record here the transfer you made. When the sum is zero or
        negative, nothing is paid (422) and a negative balance stays for the next
        payout. `payout_id` is the idempotency key, per affiliate.
        """
        return answered(payouts.create_payout(unit_of_work.current(), affiliate_id, data))

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, PayoutPageSchema)
    def get(self, args, affiliate_id):
        """List an affiliate's payouts, oldest first"""
        return payouts.list_payouts_of(db.session, affiliate_id, **args)


@blp.route("/merchants/<id:merchant_id>/statements")
class MerchantStatements(MethodView):
    decorators = [operator_required]

    @blp.arguments(StatementCreateSchema)
    @blp.response(201, StatementSchema)
    @idempotent(blp, StatementSchema)
    def post(self, data, merchant_id):
        """Issue a merchant's statement

        Closes the merchant's open period (from the end of its previous statement,
        or its creation) at `period_end` and states, per currency, what it owes
        (points bought, commissions, network fees) and is owed (rewards supplied),
        read from the ledger. A statement moves no money itself: when the merchant
        owes, its `collection` is charged through Stripe by the `collect-statements`
        job. An optional `Idempotency-Key` header makes a retry return this same
        statement.
        """
        return services.issue_statement(
            unit_of_work.current(),
            merchant_id,
            data["period_end"],
            close_delay_s=current_app.config["STATEMENT_CLOSE_DELAY_S"],
        )

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, StatementPageSchema)
    def get(self, args, merchant_id):
        """List a merchant's statements, oldest first"""
        return services.list_statements_of(db.session, merchant_id, **args)


@blp.route("/merchants/<id:merchant_id>/statements/<id:statement_id>")
class MerchantStatementById(MethodView):
    decorators = [operator_required]

    @blp.response(200, StatementSchema)
    @blp.doc(responses={"200": _STATEMENT_CONTENT})
    @_csv_documented
    def get(self, merchant_id, statement_id):
        """Show a merchant's statement, as JSON or CSV

        404 for an unknown merchant or a statement of another merchant.
        """
        return _statement_answer(services.get_statement_of(db.session, merchant_id, statement_id))


@blp.route("/collections")
class Collections(MethodView):
    decorators = [operator_required]

    @blp.arguments(CollectionArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, CollectionPageSchema)
    def get(self, args):
        """List statement collections, oldest first

        What Stripe collected or is still to collect for each statement a merchant
        owes. `status=failed` lists what dunning could not collect: those with no
        `next_attempt_at` are left to the operator.
        """
        return collections.list_collections(db.session, **args)


# ----------------------------------------------------------------- affiliate


@blp.route("/affiliate/payouts")
class OwnPayouts(MethodView):
    decorators = [affiliate_required]

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, PayoutPageSchema)
    def get(self, args):
        """List your payouts, oldest first"""
        return payouts.list_payouts(db.session, g.affiliate.id, **args)


# ----------------------------------------------------------------- merchant


@blp.route("/statements")
class OwnStatements(MethodView):
    decorators = [merchant_required]

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, StatementPageSchema)
    def get(self, args):
        """List your statements, oldest first"""
        return services.list_statements(db.session, g.merchant.id, **args)


@blp.route("/statements/<id:statement_id>")
class OwnStatementById(MethodView):
    decorators = [merchant_required]

    @blp.response(200, StatementSchema)
    @blp.doc(responses={"200": _STATEMENT_CONTENT})
    @_csv_documented
    def get(self, statement_id):
        """Show one of your statements, as JSON or CSV"""
        return _statement_answer(services.get_statement(db.session, g.merchant.id, statement_id))


# ----------------------------------------------------------------- Stripe

# Outside /v1 and its spec: Stripe calls it, signed with STRIPE_WEBHOOK_SECRET.
stripe_blp = Blueprint("stripe", __name__, url_prefix="/stripe")


@stripe_blp.post("/webhook")
@public
def stripe_webhook():
    """Stripe's events about our PaymentIntents; a replayed event changes nothing."""
    event = stripe_gateway.verified_event(
        request.get_data(), request.headers.get("Stripe-Signature"), current_app.config["STRIPE_WEBHOOK_SECRET"]
    )
    processed = stripe_events.handle(unit_of_work.current(), event)
    return {"received": True, "processed": processed}
