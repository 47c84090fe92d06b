"""What offers refuse."""

from __future__ import annotations

from app.errors import Invalid, NotFound


class OfferNotFound(NotFound):
    def __init__(self, offer_id: int):
        super().__init__(f"No offer {offer_id} of yours.")


class OfferWindowInvalid(Invalid):
    def __init__(self, message: str):
        super().__init__(message, errors={"ends_at": [message]})


class RewardNotAvailable(Invalid):
    def __init__(self, message: str):
        super().__init__(message, errors={"reward": {"item_id": [message]}})


class InvalidTrackingLink(NotFound):
    def __init__(self):
        super().__init__("This link is not valid.")
