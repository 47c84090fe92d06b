from __future__ import annotations

import csv
import io

import marshmallow as ma
from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import csv_answers, unit_of_work
from app.commissions import attribution, reports, services
from app.commissions.schemas import (
    AttributionErrorArgsSchema,
    AttributionErrorPageSchema,
    BulkResultSchema,
    BulkSchema,
    CommissionArgsSchema,
    CommissionPageSchema,
    CommissionSchema,
    LeadCreateSchema,
    LeadSchema,
    RejectSchema,
    ReportArgsSchema,
    ReportSchema,
)
from app.constants import BULK_COMMISSIONS_MAX
from app.errors import Invalid, conflict
from app.extensions import db
from app.identity.auth import affiliate_required, merchant_required
from app.unit_of_work import IDEMPOTENCY_HEADER_DOC, answered, header_key
from ledger import utcnow

blp = Blueprint(
    "commissions",
    __name__,
    url_prefix="/v1",
    description="Commissions: merchants validate conversions; affiliates read their report.",
)
_BULK_SCHEMA = BulkSchema()
_KEY_REUSED = "the Idempotency-Key was used for a different decision."
_BULK_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": BulkSchema},
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "Lines `id,action,reason` (approve|reject); a header line is optional.",
            }
        },
    },
}


@blp.route("/commissions")
class Commissions(MethodView):
    decorators = [merchant_required]

    @blp.arguments(CommissionArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, CommissionPageSchema)
    def get(self, args):
        """List your commissions (filter by status, program, suspicious)

        `status=pending` lists the conversions awaiting your validation.
        """
        return services.list_commissions(db.session, g.merchant, **args)


@blp.route("/commissions/<id:commission_id>")
class CommissionById(MethodView):
    decorators = [merchant_required]

    @blp.response(200, CommissionSchema)
    def get(self, commission_id):
        """Show one of your commissions"""
        return services.get_commission(db.session, g.merchant, commission_id)


@blp.route("/commissions/<id:commission_id>/approve")
class CommissionApproval(MethodView):
    decorators = [merchant_required]

    @blp.response(200, CommissionSchema)
    @blp.alt_response(409, **conflict(f"The commission was rejected already, or {_KEY_REUSED}"))
    @blp.doc(**IDEMPOTENCY_HEADER_DOC)
    def post(self, commission_id):
        """Approve a pending commission

        Posts the commission to the affiliate's payable and the network fee to
        the platform, both owed by you. Approving it again answers the same.
        """
        uow = unit_of_work.current()
        return answered(services.approve(uow, g.merchant, commission_id, key=header_key()), created=200)


@blp.route("/commissions/<id:commission_id>/reject")
class CommissionRejection(MethodView):
    decorators = [merchant_required]

    @blp.arguments(RejectSchema)
    @blp.response(200, CommissionSchema)
    @blp.alt_response(409, **conflict(f"The commission was decided already, or {_KEY_REUSED}"))
    @blp.doc(**IDEMPOTENCY_HEADER_DOC)
    def post(self, data, commission_id):
        """Reject a pending commission, with a reason the affiliate sees

        Rejecting it again with the same reason answers the same.
        """
        uow = unit_of_work.current()
        return answered(services.reject(uow, g.merchant, commission_id, data["reason"], key=header_key()), created=200)


def _csv_items(text: str) -> dict:
    try:
        lines = [line for line in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in line)]
    except csv.Error as error:
        raise Invalid(f"Not readable as CSV: {error}.") from error
    if lines and lines[0][0].strip().lower() == "id":
        lines = lines[1:]
    if len(lines) > BULK_COMMISSIONS_MAX:
        raise Invalid(f"At most {BULK_COMMISSIONS_MAX} lines.")
    items = []
    for cells in lines:
        item = {"id": cells[0].strip(), "action": cells[1].strip() if len(cells) > 1 else ""}
        reason = ",".join(cells[2:]).strip()
        if reason:
            item["reason"] = reason
        items.append(item)
    return {"items": items}


def _bulk_items() -> list[dict]:
    if request.mimetype == "text/csv":
        try:
            body = _csv_items(request.get_data().decode("utf-8"))
        except UnicodeDecodeError as error:
            raise Invalid("Send the CSV in UTF-8.") from error
    elif request.mimetype == "application/json":
        body = request.get_json(silent=True)
    else:
        raise Invalid("Send application/json or text/csv.")
    try:
        return _BULK_SCHEMA.load(body if isinstance(body, dict) else {"items": body})["items"]
    except ma.ValidationError as error:
        raise Invalid("Some lines are not valid; see errors.", errors=error.normalized_messages()) from error


@blp.route("/commissions/bulk")
class CommissionsBulk(MethodView):
    decorators = [merchant_required]

    @blp.doc(requestBody=_BULK_BODY, **IDEMPOTENCY_HEADER_DOC)
    @blp.response(200, BulkResultSchema)
    @blp.alt_response(409, **conflict(f"The {_KEY_REUSED}"))
    def post(self):
        """Approve or reject many commissions at once (JSON or CSV upload)

        JSON: `{"items": [{"id", "action": "approve"|"reject", "reason"}]}`;
        CSV (`Content-Type: text/csv`): lines `id,action,reason`. All lines
        apply, or none: any refused line answers 422 with errors by line.
        """
        uow = unit_of_work.current()
        return answered(services.bulk(uow, g.merchant, _bulk_items(), key=header_key()), created=200)


@blp.route("/attribution-errors")
class AttributionErrors(MethodView):
    decorators = [merchant_required]

    @blp.arguments(AttributionErrorArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, AttributionErrorPageSchema)
    def get(self, args):
        """List click tokens sent with your orders and leads that earned no commission, and why"""
        return services.list_errors(db.session, g.merchant, **args)


@blp.route("/leads")
class Leads(MethodView):
    decorators = [merchant_required]

    @blp.arguments(LeadCreateSchema)
    @blp.response(201, LeadSchema, description="Lead recorded.")
    @blp.alt_response(200, schema=LeadSchema, description="Replay of a lead already recorded with this body.")
    @blp.alt_response(409, **conflict("This lead_id was recorded with a different body."))
    def post(self, data):
        """Report a lead (sign-up, quote request) with its click token

        Earns the program's fixed lead amount. Safe to retry: `lead_id` is the
        idempotency key.
        """
        return answered(attribution.record_lead(unit_of_work.current(), g.merchant, data))


@blp.route("/affiliate/report")
class AffiliateReport(MethodView):
    decorators = [affiliate_required]

    @blp.arguments(ReportArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ReportSchema)
    @csv_answers.documented(
        blp,
        ReportSchema,
        "The report, as JSON or (Accept: text/csv) CSV.",
        "The rows, one line each, with a header line.",
    )
    def get(self, args):
        """Your clicks, conversions and commissions by day, program or link

        Send `Accept: text/csv` for the same rows as CSV. Days are UTC; `to`
        is included.
        """
        report = reports.affiliate_report(
            db.session,
            g.affiliate,
            from_=args.get("from_"),
            to=args.get("to"),
            group_by=args["group_by"],
            today=utcnow().date(),
        )
        if csv_answers.wants_csv():
            return csv_answers.csv_response(reports.as_csv(report))
        return report
