from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

import ledger
from app.extensions import db
from app.identity.auth import operator_or_merchant_required, operator_required
from app.reports import lifecycle, services
from app.reports.schemas import LiabilityReportSchema, LifecycleQuerySchema, LifecycleSchema

blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/v1",
    description="Reports: the operator's view over the coalition, and lifecycle figures for merchants.",
)


@blp.route("/reports/liability")
class LiabilityReport(MethodView):
    decorators = [operator_required]

    @blp.response(200, LiabilityReportSchema)
    def get(self):
        """Show the points outstanding and how much of their value is backed

        Per issuing merchant (a lot's issuer) and currency: `points_outstanding`
        (open lots' remaining points), `value_cents` (the price paid for them),
        `collected_cents` (the value of those lots earned inside a statement period
        whose statement is settled: its collection `succeeded`, or its net was zero
        or less, settled by netting against what the operator owed the merchant)
        and `coverage_bp` = collected_cents * 10000 // value_cents (10000 when
        value_cents is 0). Lots earned after the merchant's last statement, or in a
        statement whose collection is pending or failed, are not collected. Points
        the platform issued itself are under `merchant_id: null`, never collected.
        `total` sums each currency.
        """
        return services.liability_report(db.session)


@blp.route("/reports/lifecycle")
class LifecycleReport(MethodView):
    decorators = [operator_or_merchant_required]

    @blp.arguments(LifecycleQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, LifecycleSchema)
    def get(self, args):
        """Lifecycle figures of your customers (the operator: the coalition's)

        Customers are members with an order whose net amount is above zero (at
        your shop; anywhere for the operator). `days_to_first_purchase`: from
        the member's first contact with the coalition (their first sign-in or
        first order anywhere) to their first order here. `repeat_30d` and
        `repeat_90d`: of the customers whose first order is at least 30 (90)
        days old, those who ordered again within 30 (90) days of it. `dormant`:
        customers whose last order is at least `dormant_days` old.
        """
        merchant = g.get("merchant")
        return lifecycle.lifecycle(
            db.session, None if merchant is None else merchant.id, ledger.utcnow(), dormant_days=args["dormant_days"]
        )
