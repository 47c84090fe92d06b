from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.extensions import db
from app.identity.auth import merchant_required
from app.members import services
from app.members.schemas import MemberPageSchema, MemberQuerySchema

blp = Blueprint("members", __name__, url_prefix="/v1/members", description="Merchant: look up members and balances.")


@blp.route("")
class Members(MethodView):
    decorators = [merchant_required]

    @blp.arguments(MemberQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, MemberPageSchema)
    def get(self, args):
        """Find members who ordered from you, with their points

        Filter by `email` to show one member's balance at checkout. Members who
        never ordered from you are not listed, even if they exist.
        """
        return services.members_of_merchant(db.session, g.merchant.id, **args)
