"""Tables of the double-entry ledger.

Amounts are signed integers in the asset's smallest unit: points for ``PTS``,
minor units (cents) for a currency. A positive posting raises the account's
balance. Every entry sums to zero per asset, so all balances sum to zero.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ledger.types import BigId, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table(model: type[Base]) -> Table:
    """The ``Table`` of a mapped class, for Core statements (SQLAlchemy types
    ``__table__`` as any ``FromClause``; ours are all plain tables)."""
    found = model.__table__
    if not isinstance(found, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return found


class Account(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("name", "asset"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    asset: Mapped[str] = mapped_column(String(8))
    # Member accounts may never be overdrawn; system accounts may.
    non_negative: Mapped[bool] = mapped_column(Boolean)
    # Hot accounts spread their running balance over several rows.
    shards: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Balance(Base):
    """One shard of an account's stored running balance."""

    __tablename__ = "ledger_balances"

    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    balance: Mapped[int] = mapped_column(BigInteger)
    pending: Mapped[int] = mapped_column(BigInteger)


class Entry(Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(250), unique=True)
    reverses_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    ref: Mapped[str] = mapped_column(String(250))
    memo: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Posting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (Index("ix_ledger_postings_account_entry", "account_id", "entry_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    asset: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)


class Lot(Base):
    """Points a member earned in one go: who issued them, at what price, until when."""

    __tablename__ = "ledger_lots"
    __table_args__ = (
        CheckConstraint("points_remaining >= 0 AND points_remaining <= points", name="points_range"),
        CheckConstraint("value_remaining >= 0 AND value_remaining <= value", name="value_range"),
        CheckConstraint("points_expired >= 0 AND points_remaining + points_expired <= points", name="expired_range"),
        Index("ix_ledger_lots_member_open", "member_account_id", "earned_at", "id"),
        Index("ix_ledger_lots_expiry", "expires_at"),
        Index("ix_ledger_lots_incoming", "incoming_until"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    issuer: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(8))
    price_per_1000_points_cents: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    points_remaining: Mapped[int] = mapped_column(BigInteger)
    # Minor units of the lot's currency paid into the points float for this lot. The
    # attributes carry the unit; the columns keep their names, so no migration
    # rewrites the journal's biggest table and raw SQL (verify, bench) stays valid.
    value_cents: Mapped[int] = mapped_column("value", BigInteger)
    value_remaining_cents: Mapped[int] = mapped_column("value_remaining", BigInteger)
    # Points of this lot that expired (and their value, now breakage), until a refund takes them back.
    points_expired: Mapped[int] = mapped_column(BigInteger)
    value_expired_cents: Mapped[int] = mapped_column("value_expired", BigInteger)
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    # Set while the lot's points are incoming (on ``member:{id}:incoming``, not
    # spendable, not expiring): when they become available. Cleared on release.
    incoming_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Debt(Base):
    """Points a member owes because a refund reversed points already spent."""

    __tablename__ = "ledger_debts"
    __table_args__ = (
        CheckConstraint("points_remaining >= 0 AND points_remaining <= points", name="points_range"),
        Index("ix_ledger_debts_member", "member_account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    # The issuer whose refund created the debt is repaid the value of later earns.
    creditor: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(BigInteger)
    points_remaining: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))


class Hold(Base):
    """A two-phase reservation of a member's points: pending, then posted or voided once."""

    __tablename__ = "ledger_holds"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("points_posted >= 0 AND points_posted <= points", name="posted_range"),
        CheckConstraint("status IN ('pending', 'posted', 'voided')", name="status_known"),
        Index("ix_ledger_holds_pending", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    points_posted: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(250), unique=True)
    ref: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))


class Seal(Base):
    """The hash chain and the log's leaves: one row per entry, in the order entries were sealed.

    Leaf ``seq - 1`` of the transparency log is the entry's RFC 9162 leaf hash.
    """

    __tablename__ = "ledger_seals"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Null only for seals made before the log existed, until the tree takes them in.
    leaf_hash: Mapped[str | None] = mapped_column(String(64))


class LogState(Base):
    """One row: how far sealing and the Merkle tree have got.

    ``sealed_through_entry_id`` is the watermark: every entry id above it is
    new to the sealer; ids below it that were missing when it passed are kept
    in ``ledger_seal_gaps`` until their transactions have surely ended.
    """

    __tablename__ = "ledger_log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sealed_through_entry_id: Mapped[int] = mapped_column(BigInteger)
    tree_size: Mapped[int] = mapped_column(BigInteger)


class SealGap(Base):
    """Entry ids the watermark passed while they were missing (a rollback, or a transaction still open)."""

    __tablename__ = "ledger_seal_gaps"

    first_entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_entry_id: Mapped[int] = mapped_column(BigInteger)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # PostgreSQL: the next transaction id when the gap was seen; once every older
    # transaction has ended, a still-missing id can never appear.
    seen_xid: Mapped[int | None] = mapped_column(BigInteger)


class TreeNode(Base):
    """A complete subtree of the Merkle tree above the leaves: leaves [index * 2**level, (index + 1) * 2**level)."""

    __tablename__ = "ledger_tree_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class SigningKey(Base):
    """A key that signs tree heads; retired keys stay, so old heads still verify."""

    __tablename__ = "ledger_signing_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TreeHead(Base):
    """A signed statement of the log's size and root at a time."""

    __tablename__ = "ledger_tree_heads"
    __table_args__ = (Index("ix_ledger_tree_heads_size", "tree_size"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str] = mapped_column(ForeignKey("ledger_signing_keys.key_id"))
    signature: Mapped[str] = mapped_column(String(100))


class IdempotencyRecord(Base):
    """The first answer to a request key, replayed for the same request."""

    __tablename__ = "ledger_idempotency"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VerifyCheckpoint(Base):
    """Where a successful ``ledger verify`` got to: the next ``--since-last`` run starts here.

    ``seal_seq`` and ``seal_hash`` are the last link of the hash chain checked;
    ``tree_size`` and ``tree_peaks`` (JSON ``[[level, index, hash], ...]``, the
    complete subtrees of the first ``tree_size`` leaves) let the Merkle log be
    checked on from there without reading older leaves.
    """

    __tablename__ = "ledger_verify_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seal_seq: Mapped[int] = mapped_column(BigInteger)
    seal_hash: Mapped[str] = mapped_column(String(64))
    tree_size: Mapped[int] = mapped_column(BigInteger)
    tree_peaks: Mapped[str] = mapped_column(Text)
    # "full" or "incremental"; how many entries that run checked.
    kind: Mapped[str] = mapped_column(String(16))
    entries_checked: Mapped[int] = mapped_column(BigInteger)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VerifySum(Base):
    """Per account, the sum of its postings in entries sealed up to the newest checkpoint."""

    __tablename__ = "ledger_verify_sums"

    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), primary_key=True, autoincrement=False)
    total: Mapped[int] = mapped_column(BigInteger)
