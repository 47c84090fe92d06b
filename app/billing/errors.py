"""What merchant billing refuses."""

from __future__ import annotations

from app.errors import Conflict, NotFound


class BillingNotFound(NotFound):
    def __init__(self, merchant_id: int):
        super().__init__(f"Merchant {merchant_id} has no billing yet: POST /v1/merchants/{merchant_id}/billing first.")


class NoCustomerYet(Conflict):
    """A payment method needs the merchant's Stripe customer, which the POST creates."""

    def __init__(self, merchant_id: int):
        super().__init__(
            f"Merchant {merchant_id} has no Stripe customer yet: POST /v1/merchants/{merchant_id}/billing first."
        )
