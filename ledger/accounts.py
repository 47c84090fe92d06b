"""Accounts and their stored running balances.

Hot accounts (a merchant's issued points, the platform's float) keep their
balance in several shards so that concurrent writers update different rows;
a read sums the shards. Member accounts have one shard, which is locked
before any decision about the member's points.

Accounts never change once created, so each process remembers the committed
ones it has seen: the hot path looks them up without a query.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import Result, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, scoped_session

from ledger.errors import Overdraft
from ledger.models import Account, Balance, table
from ledger.types import utcnow

PTS = "PTS"
HOT_ACCOUNT_SHARDS = 16
# Remembered accounts per process; past this the memory is dropped and refilled.
KNOWN_ACCOUNTS_MAX = 200_000

BOUTIQUE_REDEEMED = "boutique:redeemed"
PLATFORM_EXPIRED = "platform:expired"
POINTS_FLOAT = "platform:points_float"
REVENUE_BREAKAGE = "platform:revenue:breakage"
REDEMPTION_VALUE = "platform:redemptions"
REVENUE_MARGIN = "platform:revenue:margin"
REVENUE_FEES = "platform:revenue:fees"
# Money that actually moved in or out (transfers to affiliates, collections from merchants).
PLATFORM_CASH = "platform:cash"
# The paid loyalty card: its subscriptions' revenue, and the vouchers it issued not yet redeemed.
REVENUE_CARDS = "platform:revenue:cards"
CARD_VOUCHERS = "platform:card_vouchers"

# The operator as an issuer (coalition campaigns, tier and card extras): its points
# come from ``platform:issued`` and are paid for from ``platform:programme``.
OPERATOR = "operator"
PLATFORM_ISSUED = "platform:issued"
PLATFORM_PROGRAMME = "platform:programme"

# The asset of a money account: there is one such account per currency (EUR, ...).
CURRENCY = "currency"


@dataclass(frozen=True)
class AccountKind:
    """One kind of account the ledger writes to: its name (``{id}`` stands for
    the owner's key), its asset (``PTS`` or ``CURRENCY``) and what it means."""

    name: str
    asset: str
    meaning: str


# Every account the flows may post to; docs/ledger.md shows this table (a test keeps it so).
ACCOUNT_KINDS: tuple[AccountKind, ...] = (
    AccountKind("member:{id}", PTS, "a member's points; never below zero nor below the pending holds"),
    AccountKind(
        "member:{id}:incoming",
        PTS,
        "points earned but not yet available (the merchant's return window): not spendable, not expiring",
    ),
    AccountKind("member:{id}:debt", PTS, "negative while the member owes points after a refund of spent points"),
    AccountKind("merchant:{id}:issued", PTS, "points the merchant put into circulation (negative)"),
    AccountKind(PLATFORM_ISSUED, PTS, "points the operator put into circulation: coalition campaigns, tiers, the card"),
    AccountKind(BOUTIQUE_REDEEMED, PTS, "points spent"),
    AccountKind(PLATFORM_EXPIRED, PTS, "points that expired"),
    AccountKind(
        "merchant:{id}:receivable",
        CURRENCY,
        "what the merchant owes for points bought, commissions and network fees (negative = owes)",
    ),
    AccountKind("merchant:{id}:payable", CURRENCY, "what the operator owes a merchant that supplied boutique rewards"),
    AccountKind("affiliate:{id}:payable", CURRENCY, "approved commissions the operator owes an affiliate"),
    AccountKind(
        PLATFORM_PROGRAMME, CURRENCY, "what the operator paid into the float for the points it issued (negative = cost)"
    ),
    AccountKind(POINTS_FLOAT, CURRENCY, "money for points not yet spent or expired (the liability)"),
    AccountKind(REDEMPTION_VALUE, CURRENCY, "value of points spent when no supplier takes it (post_hold's default)"),
    AccountKind(REVENUE_MARGIN, CURRENCY, "value of points spent in the boutique less what suppliers are owed"),
    AccountKind(REVENUE_BREAKAGE, CURRENCY, "value of expired points"),
    AccountKind(REVENUE_FEES, CURRENCY, "network fees charged on commissions"),
    AccountKind(
        PLATFORM_CASH,
        CURRENCY,
        "money actually moved through Stripe or the bank: paid out (positive) or collected from merchants (negative)",
    ),
    AccountKind(REVENUE_CARDS, CURRENCY, "paid loyalty card subscriptions collected, less the vouchers they funded"),
    AccountKind(CARD_VOUCHERS, CURRENCY, "card vouchers issued to members and not yet redeemed (a liability)"),
)


def member_account(member_key: str) -> str:
    return f"member:{member_key}"


def member_debt_account(member_key: str) -> str:
    return f"member:{member_key}:debt"


def member_incoming_account(member_key: str) -> str:
    return f"member:{member_key}:incoming"


def issued_account(issuer: str) -> str:
    """Where an issuer's points come from: a merchant's own account, or the operator's."""
    return PLATFORM_ISSUED if issuer == OPERATOR else f"merchant:{issuer}:issued"


def funding_account(issuer: str) -> str:
    """Who pays for an issuer's points (and is repaid by debt repayments): a merchant's
    receivable, or the operator's programme account."""
    return PLATFORM_PROGRAMME if issuer == OPERATOR else receivable_account(issuer)


def owner_accounts(owner_kind: str, owner_key: str) -> list[str]:
    """The accounts of ``ACCOUNT_KINDS`` that belong to one merchant or affiliate (``owner_kind``)."""
    prefix = f"{owner_kind}:{{id}}"
    return [kind.name.replace("{id}", owner_key) for kind in ACCOUNT_KINDS if kind.name.startswith(prefix)]


def receivable_account(issuer: str) -> str:
    return f"merchant:{issuer}:receivable"


def payable_account(supplier: str) -> str:
    """What the operator owes a merchant that supplied boutique rewards."""
    return f"merchant:{supplier}:payable"


def affiliate_payable_account(affiliate: str) -> str:
    """Approved commissions the platform owes an affiliate (a currency asset)."""
    return f"affiliate:{affiliate}:payable"


_ACCOUNTS = table(Account)
_BALANCES = table(Balance)
_known: dict[tuple[object, str, str], AccountRef] = {}
_CREATED_HERE = "ledger_accounts_created"
_upserts: dict[tuple, object] = {}


@dataclass(frozen=True)
class AccountRef:
    id: int
    name: str
    asset: str
    shards: int
    non_negative: bool


def rows_changed(result: Result) -> int:
    """How many rows an UPDATE or INSERT changed (only cursor results count them)."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(result).__name__} does not count changed rows")
    return result.rowcount


def dialect_insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def upsert_statement(session: Session, table, conflict_columns: list[str], returning=None):
    """``INSERT ... ON CONFLICT DO NOTHING`` for this session's database, built once per dialect."""
    key = (session.get_bind().dialect.name, table.name, tuple(conflict_columns), returning is not None)
    stmt = _upserts.get(key)
    if stmt is None:
        stmt = dialect_insert(session)(table).on_conflict_do_nothing(index_elements=conflict_columns)
        if returning is not None:
            stmt = stmt.returning(returning)
        _upserts[key] = stmt
    return stmt


def account(
    session: Session, name: str, asset: str, *, non_negative: bool = False, shards: int = HOT_ACCOUNT_SHARDS
) -> AccountRef:
    """The account ``name`` in ``asset``, created on first use (safe under concurrency).

    ``shards`` balance rows spread a hot account's writers; an account that one
    member's lock already serializes needs one.
    """
    found = find_account(session, name, asset)
    if found is None:
        created = session.execute(
            upsert_statement(session, _ACCOUNTS, ["name", "asset"], returning=_ACCOUNTS.c.id),
            {"name": name, "asset": asset, "non_negative": non_negative, "shards": shards, "created_at": utcnow()},
        ).first()
        if created is not None:
            _created_here(session).add(created.id)
            found = AccountRef(created.id, name, asset, shards, non_negative)
        else:
            found = find_account(session, name, asset)
            if found is None:
                raise LookupError(f"account {name} in {asset} conflicted on insert but cannot be read")
        session.execute(
            upsert_statement(session, _BALANCES, ["account_id", "shard"]),
            [{"account_id": found.id, "shard": s, "balance": 0, "pending": 0} for s in range(found.shards)],
        )
    if found.non_negative != non_negative:
        raise ValueError(f"account {name} exists with non_negative={found.non_negative}")
    return found


def _select(session: Session, *where) -> AccountRef | None:
    row = session.execute(
        select(_ACCOUNTS.c.id, _ACCOUNTS.c.name, _ACCOUNTS.c.asset, _ACCOUNTS.c.shards, _ACCOUNTS.c.non_negative).where(
            *where
        )
    ).first()
    return None if row is None else AccountRef(*row)


def _cache_key(session: Session, name: str, asset: str) -> tuple[object, str, str]:
    return (session.get_bind().engine.url, name, asset)


def _created_here(session: Session) -> set[int]:
    """The accounts this session created in its current transaction: they could still
    roll back. A session kept across transactions (a job's, a bench's) starts afresh
    with each one, so what it created and committed is remembered afterwards.

    "Its transaction" is the connection's outermost one: a session joined to an
    enclosing transaction (``join_transaction_mode="create_savepoint"``, as test
    fixtures do) only releases a savepoint when it commits, and what it created can
    still be rolled back with the enclosing transaction."""
    if isinstance(session, scoped_session):
        session = session()
    transaction = session.connection().get_transaction()
    held = session.info.get(_CREATED_HERE)
    if held is None or held[0] is not transaction:
        held = session.info[_CREATED_HERE] = (transaction, set())
    return held[1]


def account_by_id(session: Session, account_id: int) -> AccountRef:
    """An account that postings, lots or holds point at: it exists, or the data is broken."""
    found = _select(session, _ACCOUNTS.c.id == account_id)
    if found is None:
        raise LookupError(f"account {account_id} does not exist")
    return found


def member(session: Session, member_key: str) -> AccountRef:
    """A member's points: one shard (the member's lock), never overdrawn."""
    return account(session, member_account(member_key), PTS, non_negative=True, shards=1)


def member_debt(session: Session, member_key: str) -> AccountRef:
    """Points a member owes: negative while in debt; written under the member's lock."""
    return account(session, member_debt_account(member_key), PTS, shards=1)


def member_incoming(session: Session, member_key: str) -> AccountRef:
    """Points on their way to a member: written under the member's lock; rule 7
    checks it against the member's incoming lots."""
    return account(session, member_incoming_account(member_key), PTS, shards=1)


def find_account(session: Session, name: str, asset: str) -> AccountRef | None:
    key = _cache_key(session, name, asset)
    if key in _known:
        return _known[key]
    found = _select(session, _ACCOUNTS.c.name == name, _ACCOUNTS.c.asset == asset)
    # Only rows this session did not create may be remembered: ours could still roll back.
    if found is not None and found.id not in _created_here(session):
        if len(_known) >= KNOWN_ACCOUNTS_MAX:
            _known.clear()
        _known[key] = found
    return found


def lock(session: Session, acct: AccountRef):
    """Lock a single-shard account's balance row for the rest of the transaction;
    returns its ``balance`` and ``pending``."""
    if acct.shards != 1:
        raise ValueError("only single-shard accounts are locked")
    return session.execute(_LOCK, {"a": acct.id}).one()


def balance(session: Session, acct: AccountRef) -> int:
    """Posted balance: the sum of the account's shards."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(Balance.balance), 0)).where(Balance.account_id == acct.id)
        ).scalar_one()
    )


def pending(session: Session, acct: AccountRef) -> int:
    return int(
        session.execute(
            select(func.coalesce(func.sum(Balance.pending), 0)).where(Balance.account_id == acct.id)
        ).scalar_one()
    )


# Built once: the hot path only binds values (statement building costs more than the SQL).
_ADD = (
    update(_BALANCES)
    .where(_BALANCES.c.account_id == bindparam("a"), _BALANCES.c.shard == bindparam("s"))
    .values(balance=_BALANCES.c.balance + bindparam("d"))
)
_WITHDRAW = _ADD.where(_BALANCES.c.balance - _BALANCES.c.pending + bindparam("d") >= 0)
_LOCK = (
    select(_BALANCES.c.balance, _BALANCES.c.pending)
    .where(_BALANCES.c.account_id == bindparam("a"), _BALANCES.c.shard == 0)
    .with_for_update()
)


def apply(session: Session, changes: list[tuple[AccountRef, int]]) -> None:
    """Add each amount to its account's stored balance, in the order given.

    Debits of non-negative accounts are guarded one by one (``Overdraft``);
    the other changes go to the database in one batch.
    """
    batch = []
    for acct, amount in changes:
        shard = 0 if acct.shards == 1 else random.randrange(acct.shards)
        params = {"a": acct.id, "s": shard, "d": amount}
        if acct.non_negative and amount < 0:
            if rows_changed(session.execute(_WITHDRAW, params)) != 1:
                raise Overdraft(f"{acct.name} would go below its pending holds")
        else:
            batch.append(params)
    if batch and rows_changed(session.execute(_ADD, batch)) != len(batch):
        raise Overdraft("a balance shard is missing")


def add_pending(session: Session, acct: AccountRef, amount: int) -> None:
    """Change the points held on a member account, never beyond its balance."""
    b = _BALANCES.c
    stmt = update(_BALANCES).where(b.account_id == acct.id, b.shard == 0).values(pending=b.pending + amount)
    if amount > 0:
        stmt = stmt.where(b.balance - b.pending - amount >= 0)
    else:
        stmt = stmt.where(b.pending + amount >= 0)
    result = session.execute(stmt)
    if rows_changed(result) != 1:
        raise Overdraft(f"{acct.name} pending would leave the range 0..balance")
