"""Exceptions raised by the ledger. The web layer maps each to one HTTP answer."""


class LedgerError(Exception):
    """Base class of every ledger refusal."""


class InsufficientPoints(LedgerError):
    def __init__(self, available: int, wanted: int):
        super().__init__(f"{wanted} points wanted, {available} available")
        self.available = available
        self.wanted = wanted


class IdempotencyConflict(LedgerError):
    """The key was already used for a different request."""


class HoldNotFound(LedgerError):
    pass


class HoldAlreadyResolved(LedgerError):
    def __init__(self, hold_id: int, status: str):
        super().__init__(f"hold {hold_id} is already {status}")
        self.status = status


class HoldExpired(LedgerError):
    pass


class UnbalancedEntry(LedgerError):
    """An entry whose postings do not sum to zero per asset: a bug, never data."""


class Overdraft(LedgerError):
    """A non-negative account would go below zero: a bug in the caller."""


class NotReversible(LedgerError):
    pass
