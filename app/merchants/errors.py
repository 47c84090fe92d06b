"""What merchant management refuses."""

from __future__ import annotations

from app.errors import NotFound


class MerchantNotFound(NotFound):
    def __init__(self, merchant_id: int):
        super().__init__(f"No merchant {merchant_id}.")
