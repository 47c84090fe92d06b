"""What the boutique refuses: catalog changes, voucher checkouts and redemptions."""

from __future__ import annotations

from app.constants import VOUCHER_CODES_PER_ITEM_MAX
from app.errors import Conflict, Invalid, NotFound

# --- the catalog ------------------------------------------------------------------


class ItemNotFound(NotFound):
    def __init__(self, item_id: int):
        super().__init__(f"No catalog item {item_id} of yours.")


class NotAVoucher(Invalid):
    def __init__(self):
        super().__init__("Only voucher items have codes.", errors={"voucher_codes": ["Item is not a voucher."]})


class CodesRepeated(Invalid):
    def __init__(self):
        super().__init__("The same code is listed twice.", errors={"voucher_codes": ["Codes must be unique."]})


class TooManyCodes(Invalid):
    def __init__(self):
        super().__init__(f"An item holds at most {VOUCHER_CODES_PER_ITEM_MAX} codes.")


class CodesTaken(Conflict):
    def __init__(self, taken: list[str]):
        super().__init__(f"{len(taken)} of these codes exist already.", errors={"voucher_codes": sorted(taken)[:20]})


class CodeTakenMeanwhile(Conflict):
    def __init__(self):
        super().__init__("A code exists already; nothing was added.")


class VoucherStockIsCodes(Invalid):
    def __init__(self):
        super().__init__("A voucher's stock is its number of codes.", errors={"stock": ["Add codes instead."]})


class WindowInverted(Invalid):
    def __init__(self):
        super().__init__(
            "The active window ends before it starts.", errors={"active_until": ["Must be after active_from."]}
        )


# --- vouchers at the supplier's checkout --------------------------------------------


class VoucherNotFound(NotFound):
    def __init__(self):
        super().__init__("No such voucher code of yours.")


class CodeNotGiven(Conflict):
    def __init__(self):
        super().__init__("This code has not been given to a member yet.")


class CodeUsed(Conflict):
    def __init__(self):
        super().__init__("This code was used already.")


# --- redemptions ------------------------------------------------------------------


class RewardNotOffered(NotFound):
    def __init__(self):
        super().__init__("This reward is not in the boutique (any more).")


class NotAvailable(Conflict):
    problem = "not-available"

    def __init__(self):
        super().__init__("This reward is not available.")


class OutOfStock(Conflict):
    problem = "out-of-stock"

    def __init__(self):
        super().__init__("This reward is out of stock.")


class AddressRequired(Invalid):
    def __init__(self):
        super().__init__("Tell us where to send it.", errors={"shipping_address": ["Required for a physical reward."]})


class RedemptionNotFound(NotFound):
    def __init__(self, redemption_id: int):
        super().__init__(f"No redemption {redemption_id} of your rewards.")


class RedemptionResolved(Conflict):
    def __init__(self, status: str):
        super().__init__(f"This redemption is {status}.")


class RedemptionTimedOut(Conflict):
    def __init__(self):
        super().__init__("This redemption timed out; it is being cancelled.")
