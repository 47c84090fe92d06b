from __future__ import annotations

import textwrap

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import csv_answers, unit_of_work
from app.constants import BANK_TRANSFERS_EXPORT_MAX
from app.errors import conflict
from app.extensions import db
from app.identity.auth import affiliate_required, merchant_required, operator_required, public
from app.payments import stripe_gateway
from app.schemas import PageArgsSchema
from app.settlement import bank_export, collections, payouts, services, stripe_events
from app.settlement.payout_methods import Payee, get_payout_method, set_payout_method
from app.settlement.schemas import (
    CollectionArgsSchema,
    CollectionPageSchema,
    PayoutArgsSchema,
    PayoutCreateSchema,
    PayoutListSchema,
    PayoutMethodChoiceSchema,
    PayoutMethodSchema,
    PayoutPageSchema,
    PayoutPaidSchema,
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


def _csv_documented(view):
    """Append the CSV's description to the view's docstring (the OpenAPI text)."""
    body = (view.__doc__ or "").rstrip()
    view.__doc__ = body + "\n\n" + textwrap.indent(_CSV_DOC.strip(), " " * 8) + "\n"
    return view


_STATEMENT_CSV = csv_answers.documented(
    blp,
    StatementSchema,
    "The statement, as JSON or (Accept: text/csv) CSV.",
    "`statement_id,currency,category,entry_id,entry_kind,created_at,amount_cents`, "
    "a header line then one row per entry and category.",
)


def _statement_answer(statement):
    return csv_answers.csv_response(services.statement_csv(statement)) if csv_answers.wants_csv() else statement


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


_METHOD_PUT_DOC = """Set how {kind} is paid

        `{{"type": "stripe_connect", "account": "acct_..."}}` pays by Stripe Connect
        transfers to the connected account; `{{"type": "bank_transfer", "iban": ...,
        "name": ...}}` by bank transfers the operator makes from the CSV export
        (`GET /v1/payouts/bank-transfers`). The IBAN's check digits are checked
        (422 when wrong). Replaces any earlier method; payouts already made keep the
        method they were made with. The `payouts` job pays only payees with a method.
        """


def _payout_method_view(kind: str, article: str) -> type[MethodView]:
    """The operator's view of how one kind of payee is paid (its id is ``<kind>_id`` in the path)."""

    class PayoutMethodView(MethodView):
        decorators = [operator_required]

        @blp.arguments(PayoutMethodChoiceSchema)
        @blp.response(200, PayoutMethodSchema)
        def put(self, data, **path):
            return set_payout_method(unit_of_work.current(), Payee(kind, path[f"{kind}_id"]), data)

        @blp.response(200, PayoutMethodSchema)
        def get(self, **path):
            return get_payout_method(db.session, Payee(kind, path[f"{kind}_id"]))

    PayoutMethodView.put.__doc__ = _METHOD_PUT_DOC.format(kind=article)
    PayoutMethodView.get.__doc__ = f"Show how {article} is paid (404 until set)"
    PayoutMethodView.__name__ = f"{kind.title()}PayoutMethod"
    return PayoutMethodView


blp.route("/affiliates/<id:affiliate_id>/payout-method")(_payout_method_view("affiliate", "an affiliate"))
blp.route("/merchants/<id:merchant_id>/payout-method")(_payout_method_view("merchant", "a merchant"))


@blp.route("/payouts")
class AllPayouts(MethodView):
    decorators = [operator_required]

    @blp.arguments(PayoutArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, PayoutPageSchema)
    def get(self, args):
        """List every payout, oldest first

        Payouts to affiliates and to merchants, made by the `payouts` job or
        recorded by hand; `status=pending&method=bank_transfer` is what is still to
        transfer, `status=failed` what Stripe refused.
        """
        return payouts.list_all_payouts(db.session, **args)


@blp.route("/payouts/bank-transfers")
class BankTransfers(MethodView):
    decorators = [operator_required]

    @blp.response(200, PayoutListSchema)
    @csv_answers.documented(
        blp,
        PayoutListSchema,
        "The pending bank transfers, as JSON or (Accept: text/csv) CSV.",
        "A header line, then one line per transfer.",
    )
    def get(self):
        (
            """Export the bank transfers to make

        Every pending payout by bank transfer, oldest first (at most
        """
            + str(BANK_TRANSFERS_EXPORT_MAX)
            + """; mark them paid and export again for
        more). With `Accept: text/csv`, one line per transfer:
        `payout_id,payee_type,payee_id,name,iban,amount,currency,amount_cents,reference,created_at`,
        `amount` in major units with two decimals; `reference` is what to put in the
        transfer's remittance information. Once a transfer is made, `POST
        /v1/payouts/{id}/paid` closes it.
        """
        )
        pending = payouts.pending_bank_transfers(db.session, limit=BANK_TRANSFERS_EXPORT_MAX)
        if csv_answers.wants_csv():
            return csv_answers.csv_response(bank_export.as_csv(pending))
        return {"data": pending}


@blp.route("/payouts/<id:payout_id>")
class PayoutById(MethodView):
    decorators = [operator_required]

    @blp.response(200, PayoutSchema)
    def get(self, payout_id):
        """Show one payout"""
        return payouts.get_payout(db.session, payout_id)


@blp.route("/payouts/<id:payout_id>/paid")
class PayoutPaid(MethodView):
    decorators = [operator_required]

    @blp.arguments(PayoutPaidSchema)
    @blp.response(200, PayoutSchema)
    @blp.alt_response(409, **conflict("Not a bank transfer, or it failed."))
    def post(self, data, payout_id):
        """Mark a bank transfer paid

        Records that the operator made the bank transfer of a pending payout: its
        entry moves the payee's payable to `platform:cash`, and its commissions
        become `paid`. Marking it again answers the paid payout unchanged. A
        Connect transfer is marked paid by Stripe's answer, never here (409).
        """
        return payouts.mark_paid(unit_of_work.current(), payout_id, data["reference"])


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
    @_STATEMENT_CSV
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
    @_STATEMENT_CSV
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
