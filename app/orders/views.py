from __future__ import annotations

from flask import g, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import merchant_required
from app.errors import conflict
from app.extensions import db
from app.orders import services
from app.orders.schemas import OrderCreateSchema, OrderSchema, RefundCreateSchema, RefundSchema
from ledger import utcnow

blp = Blueprint(
    "orders", __name__, url_prefix="/v1/orders", description="Merchant: orders earn points, refunds take them back."
)


def _created_or_replayed(answer: dict, created: bool):
    # The service already dumped the answer with the schema: the stored first
    # answer is replayed byte for byte.
    return jsonify(answer), 201 if created else 200


@blp.route("")
class Orders(MethodView):
    decorators = [merchant_required]

    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema, description="Order recorded and points awarded.")
    @blp.alt_response(200, schema=OrderSchema, description="Replay of an order already recorded with this body.")
    @blp.alt_response(409, **conflict("This order_id was recorded with a different body."))
    def post(self, data):
        """Record an order and award the member's points

        Points follow the merchant's rule, e.g. 10 points per *full* 15.00 EUR.
        The member is found by email (trimmed, case-insensitive) or created.
        Safe to retry: `order_id` is the idempotency key.
        """
        return _created_or_replayed(*services.record_order(db.session, g.merchant, data, now=utcnow()))


@blp.route("/<string:order_id>")
class OrderById(MethodView):
    decorators = [merchant_required]

    @blp.response(200, OrderSchema)
    def get(self, order_id):
        """Show one of your orders with its net amount and points"""
        return services.get_order(db.session, g.merchant, order_id)


@blp.route("/<string:order_id>/refunds")
class OrderRefunds(MethodView):
    decorators = [merchant_required]

    @blp.arguments(RefundCreateSchema)
    @blp.response(201, RefundSchema, description="Refund recorded and points taken back.")
    @blp.alt_response(200, schema=RefundSchema, description="Replay of a refund already recorded with this body.")
    @blp.alt_response(409, **conflict("This refund_id was recorded with a different body."))
    def post(self, data, order_id):
        """Refund part or all of an order

        Points are recomputed on the order's net amount and only the difference
        is taken back. Points the member already spent become debt, repaid first
        by later earns. Safe to retry: `refund_id` is the idempotency key.
        """
        return _created_or_replayed(*services.refund_order(db.session, g.merchant, order_id, data, now=utcnow()))
