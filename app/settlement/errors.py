"""What payouts and statements refuse."""

from __future__ import annotations

from datetime import datetime

from app.errors import Conflict, Invalid, NotFound


class StatementNotFound(NotFound):
    def __init__(self, statement_id: int):
        super().__init__(f"No statement {statement_id} of yours.")


class NothingToPay(Invalid):
    def __init__(self, currency: str, total_cents: int):
        super().__init__(
            f"Nothing to pay: the approved, unpaid commissions in {currency} sum to {total_cents} cents.",
            errors={"currency": ["Nothing to pay in this currency."]},
        )


class PeriodOutOfRange(Invalid):
    def __init__(self):
        super().__init__("period_end is out of range.", errors={"period_end": ["Out of range."]})


class PeriodNotClosed(Invalid):
    """The period ends too recently: a transaction still open could add an entry dated inside it."""

    def __init__(self, close_delay_s: int):
        super().__init__(
            f"period_end must be at least {close_delay_s} seconds in the past.",
            errors={"period_end": [f"Must be at least {close_delay_s} seconds in the past."]},
        )


class PeriodAlreadyClosed(Invalid):
    def __init__(self, period_start: datetime):
        super().__init__(
            f"period_end must be after {period_start.isoformat()}, where this merchant's open period starts.",
            errors={"period_end": ["Must be after the end of the previous statement."]},
        )


class PayoutMethodNotSet(NotFound):
    def __init__(self, kind: str, payee_id: int):
        super().__init__(f"No payout method for {kind} {payee_id} yet: PUT /v1/{kind}s/{payee_id}/payout-method first.")


class PayoutNotFound(NotFound):
    def __init__(self, payout_id: int):
        super().__init__(f"No payout {payout_id}.")


class PayoutNotBankTransfer(Conflict):
    """Only a bank transfer is marked paid by the operator: Stripe says when a Connect transfer is."""

    def __init__(self, payout_id: int, method: str):
        super().__init__(f"Payout {payout_id} is paid by {method}, not by bank transfer: it cannot be marked paid.")


class PayoutFailed(Conflict):
    def __init__(self, payout_id: int):
        super().__init__(f"Payout {payout_id} failed; its commissions wait for the next payout.")


class StatementDrifted(RuntimeError):
    """A broken invariant, not a refusal: a closed period's entries no longer sum to the
    statement's stored lines (an entry dated inside it after it closed, or a change in
    how lines are read). Never answered as a problem the caller could fix."""

    def __init__(self, statement_id: int):
        super().__init__(f"statement {statement_id}: the ledger's entries no longer sum to its lines")
