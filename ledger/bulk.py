"""Many earns in one transaction, written with multi-row statements.

``earn_many`` gives the same entries, postings, lots and balances as calling
``earn`` once per request, in request order, in a few round trips: one per
table instead of several per earn. It keeps every rule of ``earn``:

- the members' balance rows are locked first, all of them, in account id order
  (the order every writer of several members uses), before any hot account is
  written, so batches and single earns cannot deadlock on one another;
- a member who owes points goes through ``earn`` itself, request by request,
  so that debt is repaid first exactly as a single earn repays it;
- incoming earns (``available_at`` after ``now``) land on
  ``member:{id}:incoming`` with a lot waiting until then;
- hot accounts (issued, funding, float) get one change per account and batch,
  on one random shard, as a single earn spreads its writers;
- ``POINTS_PER_ENTRY_MAX`` bounds every entry.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from ledger import accounts
from ledger.accounts import PTS, AccountRef
from ledger.errors import Overdraft
from ledger.models import Account, Balance, Debt, Entry, Lot, Posting, table
from ledger.points import POINTS_PER_ENTRY_MAX, EarnResult, Issuer, MemberPoints, earn, member_points, value_of
from ledger.rows import insert_rows
from ledger.types import utcnow

EARNS_PER_CALL_MAX = 2000
_ACCOUNTS = table(Account)
_BALANCES = table(Balance)
_DEBTS = table(Debt)
_ENTRIES = table(Entry)
_ADD = (
    update(_BALANCES)
    .where(_BALANCES.c.account_id == bindparam("a"), _BALANCES.c.shard == bindparam("s"))
    .values(balance=_BALANCES.c.balance + bindparam("d"))
)

# Members' rows are locked already: one statement moves them all (PostgreSQL).
_ADD_MEMBERS = text(
    "UPDATE ledger_balances AS b SET balance = b.balance + u.d "
    "FROM unnest(CAST(:a AS BIGINT[]), CAST(:d AS BIGINT[])) AS u(a, d) "
    "WHERE b.account_id = u.a AND b.shard = 0"
)


@dataclass(frozen=True)
class EarnRequest:
    """One earn of ``earn_many``: the arguments ``earn`` takes."""

    member_key: str
    issuer: Issuer
    points: int
    idempotency_key: str
    ref: str
    memo: str
    lifetime_days: int
    available_at: datetime | None = None


def earn_many(session: Session, earns: Sequence[EarnRequest], *, now: datetime) -> list[EarnResult]:
    """Issue every request's points, as ``earn`` would one after another; returns one
    result per request, in order. Each result's ``member_after`` is the member's
    points right after that earn (incoming ones too), zero-point requests included."""
    if len(earns) > EARNS_PER_CALL_MAX:
        raise ValueError(f"{len(earns)} earns exceed {EARNS_PER_CALL_MAX} per call")
    for request in earns:
        if not 0 <= request.points <= POINTS_PER_ENTRY_MAX:
            raise ValueError(f"points out of range: {request.points}")
    earning = sorted({r.member_key for r in earns if r.points > 0})
    members = _member_accounts(session, earning, incoming={r.member_key for r in earns if _incoming(r, now)})
    figures = _lock_members(session, members)
    debtors = {key for key in earning if figures[key].debt}
    results: list[EarnResult | None] = [None] * len(earns)
    for i, request in enumerate(earns):
        if request.member_key in debtors and request.points > 0:
            results[i] = _one_by_one(session, request, now, figures)
    plain = [i for i, r in enumerate(earns) if r.points > 0 and r.member_key not in debtors]
    for i, result in zip(plain, _write(session, [earns[i] for i in plain], members, now), strict=True):
        results[i] = result
    others: dict[str, MemberPoints] = {}
    for i, request in enumerate(earns):
        key = request.member_key
        found = results[i]
        if request.points > 0 and found is not None:
            figures[key] = _after(figures[key], request, found, now)
            results[i] = replace(found, member_after=figures[key])
        else:
            if key not in figures and key not in others:
                others[key] = member_points(session, key)
            results[i] = EarnResult(None, None, 0, 0, 0, 0, figures.get(key) or others[key])
    done = [r for r in results if r is not None]
    if len(done) != len(earns):
        raise RuntimeError("an earn of the batch has no result")
    return done


def _incoming(request: EarnRequest, now: datetime) -> bool:
    return request.available_at is not None and request.available_at > now


def _after(before: MemberPoints, request: EarnRequest, result: EarnResult, now: datetime) -> MemberPoints:
    if _incoming(request, now):
        return replace(before, incoming=before.incoming + request.points)
    return replace(before, balance=before.balance + result.points_to_balance, debt=before.debt - result.points_to_debt)


def _one_by_one(session: Session, request: EarnRequest, now: datetime, figures: dict) -> EarnResult:
    return earn(
        session,
        member_key=request.member_key,
        issuer=request.issuer,
        points=request.points,
        idempotency_key=request.idempotency_key,
        ref=request.ref,
        memo=request.memo,
        now=now,
        lifetime_days=request.lifetime_days,
        available_at=request.available_at,
    )


@dataclass(frozen=True)
class _Member:
    points: AccountRef
    incoming: AccountRef | None


def _member_accounts(session: Session, keys: list[str], *, incoming: set[str]) -> dict[str, _Member]:
    """Each member's points account and incoming account (created in bulk when new and
    needed: one read, and for new ones one insert of accounts and one of shards); the
    incoming account is None for a member who has none and earns nothing incoming."""
    wanted = [(accounts.member_account(k), True) for k in keys]
    wanted += [(accounts.member_incoming_account(k), False) for k in keys if k in incoming]
    found = _ensure_accounts(session, wanted, also=[accounts.member_incoming_account(k) for k in keys])
    return {
        key: _Member(found[accounts.member_account(key)], found.get(accounts.member_incoming_account(key)))
        for key in keys
    }


def _ensure_accounts(session: Session, wanted: list[tuple[str, bool]], *, also: list[str]) -> dict[str, AccountRef]:
    """Single-shard ``PTS`` accounts by name, created when missing (safe under concurrency),
    and those of ``also`` that exist (never created here)."""
    names = [name for name, _ in wanted]
    found = _select_accounts(session, sorted(set(names) | set(also)))
    missing = [(name, non_negative) for name, non_negative in wanted if name not in found]
    if missing:
        rows = [{"name": n, "asset": PTS, "non_negative": nn, "shards": 1, "created_at": utcnow()} for n, nn in missing]
        insert_rows(session, _ACCOUNTS, rows, skip_conflicts_on=["name", "asset"])
        created = _select_accounts(session, [name for name, _ in missing])
        accounts._created_here(session).update(ref.id for ref in created.values())
        insert_rows(
            session,
            _BALANCES,
            [{"account_id": ref.id, "shard": 0, "balance": 0, "pending": 0} for ref in created.values()],
            skip_conflicts_on=["account_id", "shard"],
        )
        found.update(created)
    for name, non_negative in wanted:
        if name not in found:
            raise LookupError(f"account {name} conflicted on insert but cannot be read")
        if found[name].non_negative != non_negative or found[name].shards != 1:
            raise ValueError(f"account {name} exists with other terms")
    return found


def _select_accounts(session: Session, names: list[str]) -> dict[str, AccountRef]:
    if not names:
        return {}
    a = _ACCOUNTS.c
    rows = session.execute(
        select(a.id, a.name, a.asset, a.shards, a.non_negative).where(a.asset == PTS, a.name.in_(names))
    )
    return {row.name: AccountRef(*row) for row in rows}


def _lock_members(session: Session, members: dict[str, _Member]) -> dict[str, MemberPoints]:
    """Lock every member's balance row in account id order; their figures before this batch."""
    by_id = {m.points.id: key for key, m in members.items()}
    if not by_id:
        return {}
    b = _BALANCES.c
    owed = (
        select(func.coalesce(func.sum(_DEBTS.c.points_remaining), 0))
        .where(_DEBTS.c.member_account_id == b.account_id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(b.account_id, b.balance, b.pending, owed.label("owed"))
        .where(b.account_id.in_(sorted(by_id)), b.shard == 0)
        .order_by(b.account_id)
        .with_for_update(of=_BALANCES)
    ).all()
    if len(rows) != len(by_id):
        raise LookupError("a member's balance row is missing")
    incoming_ids = {m.incoming.id: key for key, m in members.items() if m.incoming is not None}
    incoming: dict[str, int] = {}
    if incoming_ids:
        for account_id, balance in session.execute(
            select(b.account_id, b.balance).where(b.account_id.in_(sorted(incoming_ids)), b.shard == 0)
        ):
            incoming[incoming_ids[account_id]] = balance
    return {
        by_id[row.account_id]: MemberPoints(
            row.balance, row.pending, int(row.owed), incoming.get(by_id[row.account_id], 0)
        )
        for row in rows
    }


def _write(session: Session, earns: list[EarnRequest], members: dict[str, _Member], now: datetime) -> list[EarnResult]:
    """The entries, postings, lots and balance changes of earns by members who owe nothing."""
    if not earns:
        return []
    entry_ids = insert_rows(
        session,
        _ENTRIES,
        [
            {
                "kind": "earn",
                "idempotency_key": r.idempotency_key,
                "reverses_entry_id": None,
                "ref": r.ref,
                "memo": r.memo,
                "created_at": now,
            }
            for r in earns
        ],
        returning="id",
    )
    changes: dict[AccountRef, int] = defaultdict(int)
    postings, lots, values = [], [], []
    hot: dict[Issuer, list[AccountRef]] = {}
    for request, entry_id in zip(earns, entry_ids, strict=True):
        member = members[request.member_key]
        target = member.incoming if _incoming(request, now) and member.incoming else member.points
        value = value_of(request.points, request.issuer.price_per_1000_points_cents)
        if request.issuer not in hot:
            hot[request.issuer] = _hot_accounts(session, request.issuer)
        issued, funding, points_float = hot[request.issuer]
        legs = [(issued, -request.points), (funding, -value), (points_float, value), (target, request.points)]
        for acct, amount in sorted(legs, key=lambda leg: leg[0].id):
            if amount:
                postings.append({"entry_id": entry_id, "account_id": acct.id, "asset": acct.asset, "amount": amount})
                changes[acct] += amount
        lots.append(_lot(request, member.points, entry_id, value, now))
        values.append(value)
    insert_rows(session, table(Posting), postings)
    lot_ids = insert_rows(session, table(Lot), lots, returning="id")
    _apply(session, changes)
    return [
        EarnResult(entry_id, lot_id, r.points, r.points, 0, value)
        for r, entry_id, lot_id, value in zip(earns, entry_ids, lot_ids, values, strict=True)
    ]


def _hot_accounts(session: Session, issuer: Issuer) -> list[AccountRef]:
    """The issuer's issued and funding accounts and the float, as ``earn`` posts to them."""
    return [
        accounts.account(session, accounts.issued_account(issuer.key), PTS),
        accounts.account(session, accounts.funding_account(issuer.key), issuer.currency),
        accounts.account(session, accounts.POINTS_FLOAT, issuer.currency),
    ]


def _lot(request: EarnRequest, member: AccountRef, entry_id: int, value: int, now: datetime) -> dict:
    incoming = _incoming(request, now)
    starts = request.available_at if incoming and request.available_at else now
    return {
        "member_account_id": member.id,
        "issuer": request.issuer.key,
        "currency": request.issuer.currency,
        "price_per_1000_points_cents": request.issuer.price_per_1000_points_cents,
        "points": request.points,
        "points_remaining": request.points,
        "value": value,
        "value_remaining": value,
        "points_expired": 0,
        "value_expired": 0,
        "earned_at": now,
        "expires_at": starts + timedelta(days=request.lifetime_days),
        "entry_id": entry_id,
        "incoming_until": request.available_at if incoming else None,
    }


def _apply(session: Session, changes: dict[AccountRef, int]) -> None:
    """Member rows (locked already) first, then hot accounts, each in id order, as ``post``
    orders its writes; a hot account takes the batch's whole change on one random shard."""
    members = sorted((acct.id, amount) for acct, amount in changes.items() if acct.shards == 1 and amount)
    hot = sorted(
        (acct.id, random.randrange(acct.shards), amount) for acct, amount in changes.items() if acct.shards != 1
    )
    changed = 0
    if members and session.get_bind().dialect.name == "postgresql":
        changed += accounts.rows_changed(
            session.execute(_ADD_MEMBERS, {"a": [a for a, _ in members], "d": [d for _, d in members]})
        )
    elif members:
        changed += accounts.rows_changed(session.execute(_ADD, [{"a": a, "s": 0, "d": d} for a, d in members]))
    params = [{"a": a, "s": shard, "d": d} for a, shard, d in hot if d]
    if params:
        changed += accounts.rows_changed(session.execute(_ADD, params))
    if changed != len(members) + len(params):
        raise Overdraft("a balance shard is missing")
