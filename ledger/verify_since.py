"""``verify_since_last``: check what changed since the last successful verify.

A successful verify (full or incremental) leaves a checkpoint
(``ledger_verify_checkpoints``): the last seal of the hash chain it checked,
the Merkle tree's size and peaks, and per account the sum of its postings in
the entries sealed so far (``ledger_verify_sums``). The next incremental check
reads only what came after it:

- the seals past the checkpoint: each links to the previous one, starting
  from the checkpoint's hash, and still hashes its entry and postings (rule 8);
  their leaves, the tree nodes they complete and every signed head since;
- the new entries (those sealed since, and those not sealed yet): each sums to
  zero per asset and posts in its accounts' assets (1), a new reversal mirrors
  the entry it reverses and is its only reversal (3), a new key is unique (4);
- the accounts those entries moved: the stored running balance equals the
  checkpoint's sum plus the new postings (6); for member accounts, never
  overdrawn, pending equal to their pending holds (5), balance equal to their
  open lots (7);
- the stored balances of every account sum to zero per asset (2): one pass
  over ``ledger_balances`` (a row per account, not per posting), so a balance
  edited by hand is caught even on an account nothing moved.

What it cannot see: a row *below* the checkpoint edited in place (an old
posting, entry or seal) leaves every link after the checkpoint intact; only
the full check recomputes the chain from its start. Nor the float, breakage
and debt totals against all lots, nor holds placed on an account no posting
moved. Those stay the full check's job (docs/ledger.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.chain import check_chain
from ledger.journal import REVERSAL
from ledger.log_check import check_log_from
from ledger.models import (
    Account,
    Balance,
    Entry,
    Hold,
    LogState,
    Lot,
    Posting,
    Seal,
    SealGap,
    VerifyCheckpoint,
    VerifySum,
    table,
)
from ledger.verify import VIOLATIONS_PER_RULE_MAX, Reached, Report, Violation, reached, verify

# Rows per IN list, well under every driver's parameter limit.
_IN_CHUNK = 500
# One checkpoint writer at a time on PostgreSQL (SQLite's write lock does it there).
PG_VERIFY_LOCK = 7_120_002
FULL, INCREMENTAL = "full", "incremental"


@dataclass(frozen=True)
class _NewEntries:
    entries: list[Entry]
    # entry id -> (account id, posting asset, amount, account asset)
    postings: dict[int, list[Row]]
    sealed_ids: set[int]


def _chunks(values: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start : start + _IN_CHUNK]


def latest_checkpoint(session: Session) -> VerifyCheckpoint | None:
    return session.execute(select(VerifyCheckpoint).order_by(VerifyCheckpoint.id.desc()).limit(1)).scalar_one_or_none()


def _peaks_of(checkpoint: VerifyCheckpoint) -> dict[merkle.Node, str]:
    return {(int(level), int(index)): digest for level, index, digest in json.loads(checkpoint.tree_peaks)}


def verify_since_last(session: Session) -> Report:
    """Check what changed since the newest checkpoint; the full ``verify`` when there is none.

    Run it, like ``verify``, in one snapshot (REPEATABLE READ on PostgreSQL).
    """
    checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        return verify(session)
    at = reached(session)
    violations: list[Violation] = []
    if at.seal_seq < checkpoint.seal_seq or at.tree_size < checkpoint.tree_size:
        violations.append(
            Violation(8, "hash chain", f"the journal ends before checkpoint {checkpoint.id} (seal {at.seal_seq})")
        )
        return Report(violations, 0, 0, reached=at, since_checkpoint=checkpoint.id)
    chain = check_chain(session, after=checkpoint.seal_seq, prev_hash=checkpoint.seal_hash)
    violations += [Violation(8, "hash chain", problem) for problem in chain[:VIOLATIONS_PER_RULE_MAX]]
    tree, _ = check_log_from(session, checkpoint.tree_size, _peaks_of(checkpoint))
    violations += [Violation(8, "transparency log", problem) for problem in tree[:VIOLATIONS_PER_RULE_MAX]]
    new = _new_entries(session, checkpoint.seal_seq, at.seal_seq)
    for check in (_entries_balance, _reversals_mirror, _keys_unique):
        violations += check(session, new)[:VIOLATIONS_PER_RULE_MAX]
    sealed_moves, all_moves = _moves(new)
    for moved_check in (_balances_continue, _members_hold):
        violations += moved_check(session, all_moves)[:VIOLATIONS_PER_RULE_MAX]
    violations += _stored_balances_sum_to_zero(session)
    return Report(
        violations,
        len(new.entries),
        len(new.sealed_ids),
        reached=at,
        since_checkpoint=checkpoint.id,
        moved=sealed_moves,
    )


# --------------------------------------------------------------------------- what is new


def _new_entries(session: Session, after_seq: int, through_seq: int) -> _NewEntries:
    """Entries sealed in seals (after_seq, through_seq], and every entry not sealed yet."""
    sealed_ids = set(
        session.execute(select(Seal.entry_id).where(Seal.seq > after_seq, Seal.seq <= through_seq)).scalars()
    )
    ids = sealed_ids | _unsealed_ids(session)
    entries: list[Entry] = []
    postings: dict[int, list[Row]] = defaultdict(list)
    for chunk in _chunks(ids):
        entries += session.execute(select(Entry).where(Entry.id.in_(chunk))).scalars()
        rows = session.execute(
            select(Posting.entry_id, Posting.account_id, Posting.asset, Posting.amount, Account.asset.label("holds"))
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id.in_(chunk))
        )
        for row in rows:
            postings[row.entry_id].append(row)
    return _NewEntries(sorted(entries, key=lambda e: e.id), postings, sealed_ids)


def _unsealed_ids(session: Session) -> set[int]:
    """Entries the sealer has not sealed: above its watermark, or in a gap it still watches."""
    watermark = session.execute(select(LogState.sealed_through_entry_id)).scalar_one_or_none() or 0
    found = set(session.execute(select(Entry.id).where(Entry.id > watermark)).scalars())
    gaps = session.execute(select(SealGap.first_entry_id, SealGap.last_entry_id)).all()
    for start in range(0, len(gaps), 200):
        spans = [Entry.id.between(first, last) for first, last in gaps[start : start + 200]]
        found.update(
            session.execute(
                select(Entry.id).outerjoin(Seal, Seal.entry_id == Entry.id).where(or_(*spans), Seal.entry_id.is_(None))
            ).scalars()
        )
    return found


def _moves(new: _NewEntries) -> tuple[dict[int, int], dict[int, int]]:
    """Per account: the sum of the postings of the newly sealed entries, and of every new entry."""
    sealed: dict[int, int] = defaultdict(int)
    every: dict[int, int] = defaultdict(int)
    for entry in new.entries:
        for posting in new.postings[entry.id]:
            every[posting.account_id] += posting.amount
            if entry.id in new.sealed_ids:
                sealed[posting.account_id] += posting.amount
    return dict(sealed), dict(every)


# --------------------------------------------------------------------------- rules on the new entries


def _entries_balance(session: Session, new: _NewEntries) -> list[Violation]:
    out = []
    for entry in new.entries:
        sums: dict[str, int] = defaultdict(int)
        for posting in new.postings[entry.id]:
            sums[posting.asset] += posting.amount
            if posting.asset != posting.holds:
                out.append(
                    Violation(
                        1, "entries balance", f"entry {entry.id} posts {posting.asset} on a {posting.holds} account"
                    )
                )
        out += [
            Violation(1, "entries balance", f"entry {entry.id} sums to {total} {asset}")
            for asset, total in sorted(sums.items())
            if total != 0
        ]
    return out


def _reversals_mirror(session: Session, new: _NewEntries) -> list[Violation]:
    out = []
    reversals = [e for e in new.entries if e.kind == REVERSAL]
    for entry in reversals:
        if entry.reverses_entry_id is None:
            out.append(Violation(3, "append-only", f"reversal {entry.id} does not name the entry it reverses"))
    out += [
        Violation(3, "append-only", f"clawback {e.id} does not name the entry it reverses")
        for e in new.entries
        if e.kind == "clawback" and e.reverses_entry_id is None
    ]
    targets = {e.reverses_entry_id for e in reversals if e.reverses_entry_id is not None}
    if not targets:
        return out
    by_target: dict[int, list[int]] = defaultdict(list)
    originals: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for chunk in _chunks(targets):
        for rev_id, target in session.execute(
            select(Entry.id, Entry.reverses_entry_id).where(Entry.kind == REVERSAL, Entry.reverses_entry_id.in_(chunk))
        ):
            if target is not None:
                by_target[target].append(rev_id)
        for entry_id, account_id, amount in session.execute(
            select(Posting.entry_id, Posting.account_id, Posting.amount).where(Posting.entry_id.in_(chunk))
        ):
            originals[entry_id].append((account_id, -amount))
    out += [
        Violation(3, "append-only", f"entry {target} is reversed more than once")
        for target, revs in sorted(by_target.items())
        if len(revs) > 1
    ]
    for entry in reversals:
        if entry.reverses_entry_id is None:
            continue
        mine = sorted((p.account_id, p.amount) for p in new.postings[entry.id])
        if mine != sorted(originals[entry.reverses_entry_id]):
            out.append(
                Violation(3, "append-only", f"reversal {entry.id} does not mirror entry {entry.reverses_entry_id}")
            )
    return out


def _keys_unique(session: Session, new: _NewEntries) -> list[Violation]:
    keys = sorted({e.idempotency_key for e in new.entries if e.idempotency_key is not None})
    seen: dict[str, int] = defaultdict(int)
    for start in range(0, len(keys), _IN_CHUNK):
        for key in session.execute(
            select(Entry.idempotency_key).where(Entry.idempotency_key.in_(keys[start : start + _IN_CHUNK]))
        ).scalars():
            seen[str(key)] += 1
    return [Violation(4, "idempotency", f"key {k!r} has more than one entry") for k, n in sorted(seen.items()) if n > 1]


# --------------------------------------------------------------------------- the accounts they moved


def _balances_continue(session: Session, moves: dict[int, int]) -> list[Violation]:
    """Rule 6 on each moved account: stored balance = checkpoint sum + the new postings."""
    out = []
    for chunk in _chunks(moves):
        names = dict(session.execute(select(Account.id, Account.name).where(Account.id.in_(chunk))).all())
        stored = dict(
            session.execute(
                select(Balance.account_id, func.sum(Balance.balance))
                .where(Balance.account_id.in_(chunk))
                .group_by(Balance.account_id)
            ).all()
        )
        sums = dict(
            session.execute(select(VerifySum.account_id, VerifySum.total).where(VerifySum.account_id.in_(chunk))).all()
        )
        for account_id in chunk:
            want = int(sums.get(account_id) or 0) + moves[account_id]
            held = int(stored.get(account_id) or 0)
            if held != want:
                out.append(
                    Violation(
                        6,
                        "stored balances",
                        f"{names.get(account_id, account_id)}: stored {held}, checkpoint and new postings sum to {want}",
                    )
                )
    return out


def _members_hold(session: Session, moves: dict[int, int]) -> list[Violation]:
    """Rules 5 and 7 on each moved member account: never overdrawn, pending = its holds, balance = its open lots."""
    out = []
    for chunk in _chunks(moves):
        members = session.execute(
            select(Account.id, Account.name, func.sum(Balance.balance), func.sum(Balance.pending))
            .join(Balance, Balance.account_id == Account.id)
            .where(Account.id.in_(chunk), Account.non_negative.is_(True))
            .group_by(Account.id, Account.name)
        ).all()
        ids = [m[0] for m in members]
        if not ids:
            continue
        held = _totals(
            session, select(Hold.account_id, func.sum(Hold.points)), Hold.account_id, ids, Hold.status == "pending"
        )
        lots = _totals(
            session,
            select(Lot.member_account_id, func.sum(Lot.points_remaining)),
            Lot.member_account_id,
            ids,
            Lot.incoming_until.is_(None),
        )
        for account_id, name, balance, pending in members:
            if balance < 0 or pending < 0 or balance - pending < 0:
                out.append(Violation(5, "available never negative", f"{name}: balance {balance}, pending {pending}"))
            if pending != held.get(account_id, 0):
                out.append(
                    Violation(
                        5,
                        "available never negative",
                        f"{name}: pending {pending} but holds sum to {held.get(account_id, 0)}",
                    )
                )
            if balance != lots.get(account_id, 0):
                out.append(Violation(7, "lots", f"{name}: balance {balance}, open lots hold {lots.get(account_id, 0)}"))
    return out


def _totals(session: Session, query, key, ids: list[int], condition) -> dict[int, int]:
    rows = session.execute(query.where(key.in_(ids), condition).group_by(key))
    return {account_id: int(total or 0) for account_id, total in rows}


def _stored_balances_sum_to_zero(session: Session) -> list[Violation]:
    rows = session.execute(
        select(Account.asset, func.sum(Balance.balance))
        .join(Balance, Balance.account_id == Account.id)
        .group_by(Account.asset)
        .having(func.sum(Balance.balance) != 0)
    )
    return [Violation(2, "assets sum to zero", f"stored balances in {asset} sum to {total}") for asset, total in rows]


# --------------------------------------------------------------------------- the checkpoint


def save_checkpoint(session: Session, report: Report, *, now: datetime) -> bool:
    """Record a successful verify's ``report`` as the newest checkpoint; False when nothing was saved.

    Nothing is saved for a report with violations, nor for an incremental report
    whose starting checkpoint is no longer the newest (another verify saved one
    since: adding this report's sums to it would count them twice). The caller commits.
    """
    at = report.reached
    if not report.ok or at is None:
        return False
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_VERIFY_LOCK})
    newest = latest_checkpoint(session)
    if report.since_checkpoint is None:
        _sums_from_scratch(session, at.seal_seq)
    elif newest is None or newest.id != report.since_checkpoint:
        return False
    else:
        _add_to_sums(session, report.moved)
    session.add(
        VerifyCheckpoint(
            seal_seq=at.seal_seq,
            seal_hash=at.seal_hash,
            tree_size=at.tree_size,
            tree_peaks=_peaks_json(at),
            kind=FULL if report.since_checkpoint is None else INCREMENTAL,
            entries_checked=report.entries,
            verified_at=now,
        )
    )
    session.flush()
    return True


def _peaks_json(at: Reached) -> str:
    return json.dumps([[level, index, digest] for (level, index), digest in sorted(at.peaks.items())])


def _sums_from_scratch(session: Session, through_seq: int) -> None:
    """Every account's sum over the postings of the entries sealed in seals 1 to ``through_seq``."""
    session.execute(delete(VerifySum))
    totals = (
        select(Posting.account_id, func.sum(Posting.amount))
        .join(Seal, Seal.entry_id == Posting.entry_id)
        .where(Seal.seq <= through_seq)
        .group_by(Posting.account_id)
    )
    session.execute(insert(table(VerifySum)).from_select(["account_id", "total"], totals))


def _add_to_sums(session: Session, moved: dict[int, int]) -> None:
    sums = table(VerifySum)
    for chunk in _chunks(moved):
        present = set(session.execute(select(sums.c.account_id).where(sums.c.account_id.in_(chunk))).scalars())
        changed = [{"a": a, "d": moved[a]} for a in chunk if a in present]
        if changed:
            session.execute(
                update(sums).where(sums.c.account_id == bindparam("a")).values(total=sums.c.total + bindparam("d")),
                changed,
            )
        fresh = [{"account_id": a, "total": moved[a]} for a in chunk if a not in present]
        if fresh:
            session.execute(insert(sums), fresh)
