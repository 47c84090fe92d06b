from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.extensions import db
from app.identity.auth import operator_required
from app.reports import services
from app.reports.schemas import LiabilityReportSchema

blp = Blueprint("reports", __name__, url_prefix="/v1", description="Reports: the operator's view over the coalition.")


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
