from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app import unit_of_work
from app.errors import Invalid
from app.extensions import db
from app.identity.auth import any_key_required, operator_required
from app.programme import tiers
from app.programme.schemas import TierListSchema, TierSchema

blp = Blueprint("tiers", __name__, url_prefix="/v1/tiers", description="Operator: the coalition's tiers.")
_LIST = TierListSchema()


@blp.route("")
class Tiers(MethodView):
    @any_key_required
    @blp.response(200, TierSchema(many=True))
    def get(self):
        """The coalition's tiers, lowest threshold first (any key; members see them on their pages)"""
        return [vars(t) for t in tiers.tiers(db.session)]

    @operator_required
    @blp.doc(requestBody={"content": {"application/json": {"schema": {"type": "array", "items": TierSchema}}}})
    @blp.response(200, TierSchema(many=True))
    def put(self):
        """Replace the coalition's tiers

        A JSON array of `{"name", "min_spend_cents", "earn_multiplier_bp"}` (at
        most 10; `[]` removes them). Spend is the member's rolling 12-month net
        spend in EUR at every merchant. Reaching a tier applies at once; a lower
        spend takes it away only at the member's yearly review. Members whose
        tier is no longer in the list hold none until their next order.
        """
        body = request.get_json(silent=True)
        if not isinstance(body, list):
            raise Invalid("Send a JSON array of tiers.", errors={"_schema": ["Must be an array."]})
        errors = _LIST.validate({"tiers": body})
        if errors:
            raise Invalid("The tiers are not valid.", errors=errors.get("tiers", errors))
        uow = unit_of_work.current()
        answer = [vars(t) for t in tiers.replace_tiers(uow, _LIST.load({"tiers": body})["tiers"])]
        return uow.commit(answer)
