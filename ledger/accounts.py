"""Accounts and their stored running balances.

Hot accounts (a merchant's issued points, the platform's float) keep their
balance in several stripes so that concurrent writers update different rows;
a read sums the stripes. Member accounts have one stripe, which is locked
before any decision about the member's points.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger.errors import Overdraft
from ledger.models import Account, Balance
from ledger.types import utcnow

PTS = "PTS"
HOT_ACCOUNT_SHARDS = 16

BOUTIQUE_REDEEMED = "boutique:redeemed"
PLATFORM_EXPIRED = "platform:expired"
POINTS_FLOAT = "platform:points_float"
REVENUE_BREAKAGE = "platform:revenue:breakage"
REDEMPTION_VALUE = "platform:redemptions"


def member_account(member_key: str) -> str:
    return f"member:{member_key}"


def member_debt_account(member_key: str) -> str:
    return f"member:{member_key}:debt"


def issued_account(issuer: str) -> str:
    return f"merchant:{issuer}:issued"


def receivable_account(issuer: str) -> str:
    return f"merchant:{issuer}:receivable"


@dataclass(frozen=True)
class AccountRef:
    id: int
    name: str
    asset: str
    shards: int
    non_negative: bool


def dialect_insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def account(session: Session, name: str, asset: str, *, non_negative: bool = False) -> AccountRef:
    """The account ``name`` in ``asset``, created on first use (safe under concurrency)."""
    found = session.execute(
        select(Account).where(Account.name == name, Account.asset == asset)
    ).scalar_one_or_none()
    if found is None:
        shards = 1 if non_negative else HOT_ACCOUNT_SHARDS
        insert = dialect_insert(session)
        session.execute(
            insert(Account)
            .values(name=name, asset=asset, non_negative=non_negative, shards=shards, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name", "asset"])
        )
        found = session.execute(
            select(Account).where(Account.name == name, Account.asset == asset)
        ).scalar_one()
        session.execute(
            insert(Balance)
            .values([{"account_id": found.id, "shard": s, "balance": 0, "pending": 0} for s in range(found.shards)])
            .on_conflict_do_nothing(index_elements=["account_id", "shard"])
        )
    if found.non_negative != non_negative:
        raise ValueError(f"account {name} exists with non_negative={found.non_negative}")
    return _ref(found)


def _ref(found: Account) -> AccountRef:
    return AccountRef(found.id, found.name, found.asset, found.shards, found.non_negative)


def account_by_id(session: Session, account_id: int) -> AccountRef:
    return _ref(session.get(Account, account_id))


def find_account(session: Session, name: str, asset: str) -> AccountRef | None:
    found = session.execute(
        select(Account).where(Account.name == name, Account.asset == asset)
    ).scalar_one_or_none()
    return None if found is None else _ref(found)


def lock(session: Session, acct: AccountRef) -> Balance:
    """Lock a single-stripe account's balance row for the rest of the transaction."""
    if acct.shards != 1:
        raise ValueError("only single-stripe accounts are locked")
    row = session.execute(
        select(Balance)
        .where(Balance.account_id == acct.id, Balance.shard == 0)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    return row


def balance(session: Session, acct: AccountRef) -> int:
    """Posted balance: the sum of the account's stripes."""
    return int(
        session.execute(select(func.coalesce(func.sum(Balance.balance), 0)).where(Balance.account_id == acct.id)).scalar_one()
    )


def pending(session: Session, acct: AccountRef) -> int:
    return int(
        session.execute(select(func.coalesce(func.sum(Balance.pending), 0)).where(Balance.account_id == acct.id)).scalar_one()
    )


def apply(session: Session, acct: AccountRef, amount: int) -> None:
    """Add ``amount`` to the stored balance; refuse to overdraw a non-negative account."""
    shard = 0 if acct.shards == 1 else random.randrange(acct.shards)
    stmt = (
        update(Balance)
        .where(Balance.account_id == acct.id, Balance.shard == shard)
        .values(balance=Balance.balance + amount)
    )
    if acct.non_negative and amount < 0:
        stmt = stmt.where(Balance.balance - Balance.pending + amount >= 0)
    result = session.execute(stmt.execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Overdraft(f"{acct.name} would go below its pending holds")


def add_pending(session: Session, acct: AccountRef, amount: int) -> None:
    """Change the points held on a member account, never beyond its balance."""
    stmt = (
        update(Balance)
        .where(Balance.account_id == acct.id, Balance.shard == 0)
        .values(pending=Balance.pending + amount)
    )
    if amount > 0:
        stmt = stmt.where(Balance.balance - Balance.pending - amount >= 0)
    else:
        stmt = stmt.where(Balance.pending + amount >= 0)
    result = session.execute(stmt.execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Overdraft(f"{acct.name} pending would leave the range 0..balance")
