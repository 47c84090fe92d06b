"""What orders and refunds refuse."""

from __future__ import annotations

from app.errors import Invalid, NotFound


class OrderNotFound(NotFound):
    def __init__(self, order_id: str):
        super().__init__(f"No order {order_id!r} from this merchant.")


class CurrencyNotAccepted(Invalid):
    def __init__(self, currency: str):
        super().__init__(f"This merchant records orders in {currency}.", errors={"currency": [f"Must be {currency}."]})


class RefundExceedsOrder(Invalid):
    def __init__(self, order_id: str, refundable_cents: int):
        super().__init__(
            f"Order {order_id} has {refundable_cents} cents left to refund.",
            errors={"amount_cents": [f"Must be at most {refundable_cents}."]},
        )


class EarnsTooMuch(Invalid):
    def __init__(self, points: int, limit: int):
        super().__init__(
            f"This order would earn {points} points in one entry; at most {limit} can be.",
            errors={"amount_cents": [f"Too large for this earn rule: at most {limit} points per order."]},
        )
