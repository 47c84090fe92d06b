"""The double-entry points ledger: framework-free, on SQLAlchemy sessions.

Public functions take a SQLAlchemy ``Session`` and plain values; the caller
owns the transaction. See ``shared`` design rules 1 to 8 in docs/ledger.md.
"""

from ledger.accounts import PTS
from ledger.chain import seal
from ledger.errors import (
    HoldAlreadyResolved,
    HoldExpired,
    HoldNotFound,
    IdempotencyConflict,
    InsufficientPoints,
    LedgerError,
    NotReversible,
    Overdraft,
    UnbalancedEntry,
)
from ledger.holds import Payable, expire_holds, place_hold, post_hold, void_hold
from ledger.idempotency import KEY_LENGTH_MAX as IDEMPOTENCY_KEY_LENGTH_MAX
from ledger.idempotency import claim, complete, fingerprint
from ledger.journal import reverse
from ledger.models import Base
from ledger.points import Issuer, MemberPoints, clawback, earn, expire_lots, member_points
from ledger.types import BigId, UTCDateTime, utcnow
from ledger.verify import Report, Violation, verify

__all__ = [
    "IDEMPOTENCY_KEY_LENGTH_MAX",
    "BigId",
    "UTCDateTime",
    "claim",
    "complete",
    "fingerprint",
    "utcnow",
    "PTS",
    "Base",
    "HoldAlreadyResolved",
    "HoldExpired",
    "HoldNotFound",
    "IdempotencyConflict",
    "InsufficientPoints",
    "Issuer",
    "LedgerError",
    "MemberPoints",
    "NotReversible",
    "Overdraft",
    "Payable",
    "Report",
    "UnbalancedEntry",
    "Violation",
    "clawback",
    "earn",
    "expire_holds",
    "expire_lots",
    "member_points",
    "place_hold",
    "post_hold",
    "reverse",
    "seal",
    "verify",
    "void_hold",
]
