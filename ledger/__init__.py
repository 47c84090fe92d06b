"""The double-entry points ledger: framework-free, on SQLAlchemy sessions.

Public functions take a SQLAlchemy ``Session`` and plain values; the caller
owns the transaction. See design rules 1 to 8 in docs/ledger.md.

The application imports this package only, never its modules: every name it
may use is in ``__all__``. The surface is deliberate:

- money flows, each one balanced entry with its own kind, ref and
  idempotency key: ``earn``, ``clawback``, ``place_hold`` / ``post_hold`` /
  ``void_hold`` / ``expire_holds``, ``post_redemption`` (a boutique hold
  spent, the supplier credited), ``expire_lots``, ``post_commission``,
  ``post_payout``, ``post_merchant_payout``, ``post_collection`` (money collected from a merchant),
  ``post_card_payment``, ``post_card_voucher_issue``, ``post_card_voucher_redemption``,
  ``post_card_voucher_lapse`` (the paid card), ``reverse``; incoming points
  (``earn`` with ``available_at``) are made available by ``release_lot`` and
  ``release_due``; the issuer ``OPERATOR`` funds coalition campaigns, tier and
  card extras; ``lock_member`` takes a member's lock early; ``earn_many``
  (with ``EarnRequest``) writes many earns in a few multi-row statements;
- reads: ``member_points``, ``member_history`` (structured ``Reference``s,
  never ref strings to parse), ``member_lots``, ``incoming_lots``, ``lots_expiring``; the refs a
  caller hands to a flow come from ``order_ref`` and ``redemption_ref``; for
  statements ``entry_movements`` (per entry, with the fee beside a commission)
  on the accounts named by ``receivable_account`` and ``payable_account``; for
  the liability report ``outstanding_points`` (open lots per issuer, with the
  part earned in periods the caller says are backed);
- request idempotency (the first answer to a key answers every retry):
  ``claim_request``, ``complete_request``, ``request_fingerprint``; for a
  batch, ``find_requests`` (many keys in one read) and ``record_requests``
  (many complete records in one write),
  ``IDEMPOTENCY_KEY_LENGTH_MAX``;
- the ledger's own column types and helpers, which the application's tables
  share so that one time source and one id type hold everywhere: ``utcnow``,
  ``BigId``, ``UTCDateTime``, ``Base``, ``dialect_insert``,
  ``upsert_statement``, ``insert_rows`` (many rows in one statement);
- integrity: ``seal``, ``verify``; the incremental check ``verify_since_last`` and
  ``save_verify_checkpoint`` (a successful verify's checkpoint, where the next one starts);
- the transparency log (RFC 9162 Merkle tree over sealed entries, Ed25519
  signed tree heads): ``Signer``, ``sign_tree_head``, ``newest_head``,
  ``get_head``, ``list_heads``, ``public_keys``, ``tree_size``,
  ``root_hash``, ``inclusion_proof``, ``consistency_proof``,
  ``party_entries``, ``party_entry``, ``leaf_indexes_of``,
  ``owner_accounts``, ``signed_bytes``, ``signature_valid``;
  and the ledger's exceptions.

Journal legs (``post``, ``Leg``) stay inside: a new money flow is a new
function here, never postings written by hand in the application.
"""

from ledger.accounts import (
    OPERATOR,
    PTS,
    dialect_insert,
    owner_accounts,
    payable_account,
    receivable_account,
    upsert_statement,
)
from ledger.bulk import EARNS_PER_CALL_MAX, EarnRequest, earn_many
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
from ledger.flows import (
    lock_member,
    post_card_payment,
    post_card_voucher_issue,
    post_card_voucher_lapse,
    post_card_voucher_redemption,
    post_collection,
    post_commission,
    post_merchant_payout,
    post_payout,
    post_redemption,
)
from ledger.heads import (
    Head,
    PublicKey,
    Signer,
    SigningKeyInvalid,
    SigningKeyRetired,
    get_head,
    list_heads,
    newest_head,
    public_keys,
    sign_tree_head,
    signature_valid,
    signed_bytes,
)
from ledger.history import (
    HistoryEntry,
    IncomingLot,
    OpenLot,
    Reference,
    incoming_lots,
    lots_expiring,
    member_history,
    member_lots,
    order_ref,
    redemption_ref,
)
from ledger.holds import Payable, expire_holds, place_hold, post_hold, void_hold
from ledger.idempotency import (
    IDEMPOTENCY_KEY_LENGTH_MAX,
    claim_request,
    complete_request,
    find_requests,
    record_requests,
    request_fingerprint,
)
from ledger.journal import reverse
from ledger.log import (
    LoggedEntry,
    TreeCorrupt,
    consistency_proof,
    inclusion_proof,
    leaf_indexes_of,
    party_entries,
    party_entry,
    root_hash,
    tree_size,
)
from ledger.models import Base
from ledger.points import (
    POINTS_PER_ENTRY_MAX,
    Issuer,
    MemberPoints,
    clawback,
    earn,
    expire_lots,
    member_points,
    release_due,
    release_lot,
)
from ledger.reads import EntryMovement, Outstanding, entry_movements, outstanding_points
from ledger.rows import insert_rows
from ledger.types import BigId, UTCDateTime, utcnow
from ledger.verify import Report, Violation, verify
from ledger.verify_since import save_checkpoint as save_verify_checkpoint
from ledger.verify_since import verify_since_last

__all__ = [
    "Head",
    "LoggedEntry",
    "PublicKey",
    "Signer",
    "SigningKeyInvalid",
    "SigningKeyRetired",
    "TreeCorrupt",
    "consistency_proof",
    "get_head",
    "inclusion_proof",
    "leaf_indexes_of",
    "list_heads",
    "newest_head",
    "owner_accounts",
    "party_entries",
    "party_entry",
    "public_keys",
    "root_hash",
    "sign_tree_head",
    "signature_valid",
    "signed_bytes",
    "tree_size",
    "HistoryEntry",
    "IncomingLot",
    "OpenLot",
    "incoming_lots",
    "release_due",
    "release_lot",
    "OPERATOR",
    "POINTS_PER_ENTRY_MAX",
    "Reference",
    "lots_expiring",
    "member_history",
    "member_lots",
    "order_ref",
    "redemption_ref",
    "EntryMovement",
    "Outstanding",
    "entry_movements",
    "outstanding_points",
    "lock_member",
    "payable_account",
    "post_collection",
    "post_commission",
    "post_merchant_payout",
    "post_payout",
    "post_redemption",
    "receivable_account",
    "IDEMPOTENCY_KEY_LENGTH_MAX",
    "PTS",
    "Base",
    "BigId",
    "UTCDateTime",
    "claim_request",
    "complete_request",
    "dialect_insert",
    "request_fingerprint",
    "upsert_statement",
    "utcnow",
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
    "earn_many",
    "insert_rows",
    "EarnRequest",
    "EARNS_PER_CALL_MAX",
    "find_requests",
    "record_requests",
    "expire_holds",
    "expire_lots",
    "member_points",
    "place_hold",
    "post_hold",
    "reverse",
    "seal",
    "verify",
    "verify_since_last",
    "save_verify_checkpoint",
    "void_hold",
    "post_card_payment",
    "post_card_voucher_issue",
    "post_card_voucher_lapse",
    "post_card_voucher_redemption",
]
