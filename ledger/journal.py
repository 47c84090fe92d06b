"""Balanced journal entries: the only way balances change."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ledger import accounts
from ledger.accounts import AccountRef
from ledger.errors import IdempotencyConflict, NotReversible, UnbalancedEntry
from ledger.models import Entry, Hold, Lot, Posting, table

REVERSAL = "reversal"
_INSERT_ENTRY = insert(table(Entry)).returning(table(Entry).c.id)
_INSERT_POSTINGS = insert(table(Posting))
POSTINGS_PER_ENTRY_MAX = 64


@dataclass(frozen=True)
class Leg:
    account: AccountRef
    amount: int


@dataclass(frozen=True)
class Posted:
    """An entry just written (or found again by its idempotency key)."""

    id: int


def post(
    session: Session,
    *,
    kind: str,
    legs: list[Leg],
    ref: str,
    now: datetime,
    memo: str = "",
    idempotency_key: str | None = None,
    reverses_entry_id: int | None = None,
) -> Posted:
    """Write one entry and its postings and move the stored balances.

    Legs on the same account are merged and zero legs dropped. Raises
    ``UnbalancedEntry`` unless the legs sum to zero per asset.
    """
    merged: dict[int, int] = defaultdict(int)
    by_id: dict[int, AccountRef] = {}
    for leg in legs:
        merged[leg.account.id] += leg.amount
        by_id[leg.account.id] = leg.account
    amounts = {acct_id: amount for acct_id, amount in merged.items() if amount != 0}
    _check_balanced(by_id, amounts)
    if len(amounts) > POSTINGS_PER_ENTRY_MAX:
        raise UnbalancedEntry(f"{len(amounts)} postings exceed {POSTINGS_PER_ENTRY_MAX}")
    entry_id = session.execute(
        _INSERT_ENTRY,
        {
            "kind": kind,
            "idempotency_key": idempotency_key,
            "reverses_entry_id": reverses_entry_id,
            "ref": ref,
            "memo": memo,
            "created_at": now,
        },
    ).scalar_one()
    if amounts:
        session.execute(
            _INSERT_POSTINGS,
            [
                {"entry_id": entry_id, "account_id": acct_id, "asset": by_id[acct_id].asset, "amount": amount}
                for acct_id, amount in sorted(amounts.items())
            ],
        )
    # One global order (member shards first, then by id) keeps concurrent writers deadlock-free.
    order = sorted(amounts, key=lambda a: (not by_id[a].non_negative, a))
    accounts.apply(session, [(by_id[acct_id], amounts[acct_id]) for acct_id in order])
    return Posted(entry_id)


def _check_balanced(by_id: dict[int, AccountRef], amounts: dict[int, int]) -> None:
    per_asset: dict[str, int] = defaultdict(int)
    for acct_id, amount in amounts.items():
        per_asset[by_id[acct_id].asset] += amount
    unbalanced = {asset: total for asset, total in per_asset.items() if total != 0}
    if unbalanced:
        raise UnbalancedEntry(f"entry does not balance: {unbalanced}")


def reverse(
    session: Session, entry_id: int, *, idempotency_key: str, ref: str, now: datetime, memo: str = ""
) -> Posted:
    """Post the exact opposite of an entry that moved no member points.

    Points entries are corrected through their own flows (refund, void), which
    keep lots and holds in step; they are refused here.
    """
    existing = session.execute(select(Entry).where(Entry.idempotency_key == idempotency_key)).scalar_one_or_none()
    if existing is not None:
        if existing.reverses_entry_id != entry_id or existing.kind != REVERSAL:
            raise IdempotencyConflict(idempotency_key)
        return Posted(existing.id)
    original = session.get(Entry, entry_id)
    if original is None:
        raise NotReversible(f"entry {entry_id} does not exist")
    if original.kind == REVERSAL:
        raise NotReversible("a reversal is not reversed; post a new entry")
    already = session.execute(
        select(Entry.id).where(Entry.reverses_entry_id == entry_id, Entry.kind == REVERSAL)
    ).first()
    if already is not None:
        raise NotReversible(f"entry {entry_id} is already reversed")
    touches_points = (
        session.execute(select(Lot.id).where(Lot.entry_id == entry_id)).first()
        or session.execute(select(Hold.id).where(Hold.entry_id == entry_id)).first()
    )
    postings = session.execute(select(Posting).where(Posting.entry_id == entry_id)).scalars().all()
    refs = {p.account_id: accounts.account_by_id(session, p.account_id) for p in postings}
    if touches_points or any(r.non_negative for r in refs.values()):
        raise NotReversible(f"entry {entry_id} moved member points; use its own flow")
    legs = [Leg(refs[p.account_id], -p.amount) for p in postings]
    return post(
        session,
        kind=REVERSAL,
        legs=legs,
        ref=ref,
        memo=memo,
        now=now,
        idempotency_key=idempotency_key,
        reverses_entry_id=entry_id,
    )
