from __future__ import annotations

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app import unit_of_work
from app.constants import BATCH_BODY_BYTES_MAX
from app.errors import conflict
from app.extensions import db
from app.identity.auth import merchant_required
from app.orders import batch, services
from app.orders.schemas import (
    OrderBatchCreateSchema,
    OrderBatchSchema,
    OrderCreateSchema,
    OrderPreviewAnswerSchema,
    OrderPreviewSchema,
    OrderSchema,
    RefundCreateSchema,
    RefundSchema,
)
from app.unit_of_work import answered

blp = Blueprint(
    "orders", __name__, url_prefix="/v1/orders", description="Merchant: orders earn points, refunds take them back."
)


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
        return answered(services.record_order(unit_of_work.current(), g.merchant, data))


@blp.before_request
def _batch_body_limit():
    """A batch carries up to BATCH_ORDERS_MAX orders: its body may exceed a single order's limit."""
    if request.endpoint == "orders.OrdersBatch":
        request.max_content_length = BATCH_BODY_BYTES_MAX


@blp.route("/batch")
class OrdersBatch(MethodView):
    decorators = [merchant_required]

    @blp.arguments(OrderBatchCreateSchema)
    @blp.response(200, OrderBatchSchema, description="One result per order, in request order.")
    def post(self, data):
        """Record many orders at once

        Up to 500 (`BATCH_ORDERS_MAX`) bodies of `POST /v1/orders`. Each order is answered
        as its own `POST /v1/orders` would be, in `results` (request order):
        `status` 201 recorded, 200 replay (the stored answer), 409 (its `order_id`
        was recorded with another body), 422 (invalid), and `body` the order or
        the problem. An invalid or conflicting order never stops the others. An
        `order_id` named twice is answered as two POSTs in a row: the second
        replays the first (same body) or conflicts with it (another body). Safe
        to retry as a whole: each `order_id` is its order's idempotency key.
        """
        return batch.record_orders(unit_of_work.current(), g.merchant, data["orders"])


@blp.route("/preview")
class OrderPreview(MethodView):
    decorators = [merchant_required]

    @blp.arguments(OrderPreviewSchema)
    @blp.response(200, OrderPreviewAnswerSchema)
    def post(self, data):
        """Show what an order would earn, and why, without recording it

        The same body as `POST /v1/orders` (`order_id` optional): the base points
        of each rate group (excluded categories earn 0), each bonus of the
        campaigns, tier and card that would apply now, and when the points
        would become spendable. Nothing is written; show it at checkout.
        """
        uow = unit_of_work.current()
        return services.preview_order(uow.session, g.merchant, data, uow.now)


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
        return answered(services.refund_order(unit_of_work.current(), g.merchant, order_id, data))


@blp.route("/<string:order_id>/confirm")
class OrderConfirm(MethodView):
    decorators = [merchant_required]

    @blp.response(200, OrderSchema, description="The order, its points available.")
    def post(self, order_id):
        """Confirm an order: no return is coming, its points become available now

        For a merchant with a return window (`points_pending_days`): the order's
        incoming points (base and bonuses) are released at once instead of at
        `points_available_at`. Safe to repeat; an order whose points are
        already available is answered unchanged.
        """
        return services.confirm_order(unit_of_work.current(), g.merchant, order_id)
