"""What the paid card refuses."""

from __future__ import annotations

from app.errors import Conflict, DomainError, NotFound


class NoCardTerms(NotFound):
    def __init__(self) -> None:
        super().__init__("The card has no terms yet: the operator sets them with PUT /v1/card.")


class VoucherNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No card voucher has this code.")


class VoucherExpired(DomainError):
    problem = "gone"

    def __init__(self) -> None:
        super().__init__("This card voucher has expired.")


class VoucherAlreadyRedeemed(Conflict):
    def __init__(self) -> None:
        super().__init__("This card voucher was already redeemed.")


class CardAlreadyActive(Conflict):
    def __init__(self) -> None:
        super().__init__("You already hold the card.")


class CheckoutNotStarted(Conflict):
    def __init__(self) -> None:
        super().__init__("This card form has expired: open the card page and start again.")


class CardSetupIncomplete(Conflict):
    def __init__(self) -> None:
        super().__init__("Stripe has not confirmed the card yet: enter it again.")


class NoCard(Conflict):
    def __init__(self) -> None:
        super().__init__("You hold no active card to cancel.")


class CardPastDue(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "Your card's renewal payment failed and Stripe is trying it again: the card comes back once it is paid."
        )
