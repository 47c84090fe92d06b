"""Sealing: the tamper-evident hash chain, and the leaves of the transparency log.

Entries are sealed after they commit, in the order the sealer sees them:
each seal hashes the entry, its postings and the previous seal's hash, and
records the entry's log leaf hash (``ledger.log``). One sealer runs at a time
(an advisory lock on PostgreSQL, the write lock on SQLite); changing any
sealed entry or posting breaks every later hash and the entry's leaf.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Row, insert, or_, select, text
from sqlalchemy.orm import Session

from ledger import log, merkle
from ledger.models import Entry, Posting, Seal, SealGap
from ledger.types import utcnow

GENESIS_HASH = "0" * 64
SEAL_BATCH_MAX = 5000
# Gaps checked per run; a gap lives only until its transactions have surely ended.
SEAL_GAPS_MAX = 10_000
SEAL_GAP_GRACE = timedelta(seconds=30)
_GAPS_PER_QUERY = 200


def entry_hash(prev_hash: str, entry: Entry, postings: Iterable[Posting | Row]) -> str:
    """The chain hash; ``postings`` are ORM postings or ``log.posting_rows`` (``account_id``, ``asset``, ``amount``)."""
    payload = {
        "id": entry.id,
        "kind": entry.kind,
        "key": entry.idempotency_key,
        "reverses": entry.reverses_entry_id,
        "ref": entry.ref,
        "memo": entry.memo,
        "at": entry.created_at.isoformat(),
        "postings": sorted((p.account_id, p.asset, p.amount) for p in postings),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _postings_by_entry(session: Session, entry_ids: list[int]) -> dict[int, list[Posting]]:
    grouped: dict[int, list[Posting]] = defaultdict(list)
    for posting in session.execute(select(Posting).where(Posting.entry_id.in_(entry_ids))).scalars():
        grouped[posting.entry_id].append(posting)
    return grouped


def seal(session: Session, *, wait: bool = True, batch_max: int = SEAL_BATCH_MAX) -> int:
    """Seal up to ``batch_max`` committed, unsealed entries into the chain and the
    log's tree; returns how many.

    It reads only what is new: entries above the watermark, and the few ids
    the watermark passed while they were missing (see ``_gap_entries``), so
    its cost does not grow with the journal. With ``wait=False`` it returns 0
    at once when another sealer is running.
    """
    if not log.log_lock(session, wait=wait):
        return 0
    state = log.state(session, for_update=True)
    now = utcnow()
    horizon_xid = _oldest_running_xid(session)
    late = _gap_entries(session, now, horizon_xid)
    fresh = (
        session.execute(
            select(Entry)
            .where(Entry.id > state.sealed_through_entry_id)
            .order_by(Entry.id)
            .limit(max(batch_max - len(late), 1))
        )
        .scalars()
        .all()
    )
    _record_gaps(session, state.sealed_through_entry_id, [e.id for e in fresh], now)
    if fresh:
        state.sealed_through_entry_id = fresh[-1].id
    entries = late + list(fresh)
    if entries:
        _append_seals(session, entries, now)
    while log.extend_tree(session, state):
        pass
    return len(entries)


def _append_seals(session: Session, entries: list[Entry], now: datetime) -> None:
    last = session.execute(select(Seal.seq, Seal.hash).order_by(Seal.seq.desc()).limit(1)).first()
    seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    # One read of the postings serves both hashes: the chain's (by account id) and the leaf's (by name).
    postings = log.posting_rows(session, [e.id for e in entries])
    rows = []
    for entry in entries:
        seq += 1
        digest = entry_hash(prev_hash, entry, postings[entry.id])
        rows.append(
            {
                "seq": seq,
                "entry_id": entry.id,
                "prev_hash": prev_hash,
                "hash": digest,
                "sealed_at": now,
                "leaf_hash": merkle.leaf_hash(log.canonical_of(entry, postings[entry.id])),
            }
        )
        prev_hash = digest
    session.execute(insert(Seal), rows)


def _oldest_running_xid(session: Session) -> int | None:
    """PostgreSQL: the oldest transaction id still running (None on SQLite, where the sealer excludes writers)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar_one())


def _gap_entries(session: Session, now: datetime, horizon_xid: int | None) -> list[Entry]:
    """Entries that committed after the watermark passed their ids; gaps that can no longer fill are dropped.

    An entry id is taken when its row is inserted, so a transaction that began
    earlier may commit an id below the watermark. Such an id is remembered as a
    gap. It can no longer appear once every transaction running when the gap
    was seen has ended (its id below the oldest running one) and a grace period
    has passed, covering the instant between taking the id and the transaction
    id. On SQLite the sealer holds the write lock, so every gap is final.
    """
    gaps = session.execute(select(SealGap).order_by(SealGap.first_entry_id).limit(SEAL_GAPS_MAX)).scalars().all()
    if not gaps:
        return []
    found: list[Entry] = []
    for start in range(0, len(gaps), _GAPS_PER_QUERY):
        spans = [Entry.id.between(g.first_entry_id, g.last_entry_id) for g in gaps[start : start + _GAPS_PER_QUERY]]
        found += (
            session.execute(
                select(Entry)
                .outerjoin(Seal, Seal.entry_id == Entry.id)
                .where(or_(*spans), Seal.entry_id.is_(None))
                .order_by(Entry.id)
            )
            .scalars()
            .all()
        )
    for gap in gaps:
        final = horizon_xid is None or (
            gap.seen_xid is not None and gap.seen_xid <= horizon_xid and gap.seen_at <= now - SEAL_GAP_GRACE
        )
        if final:
            session.delete(gap)
    return found


def _record_gaps(session: Session, watermark: int, fresh_ids: list[int], now: datetime) -> None:
    """Remember the ids between the watermark and the new entries that are missing now."""
    if not fresh_ids:
        return
    seen_xid = None
    if session.get_bind().dialect.name == "postgresql":
        seen_xid = int(
            session.execute(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")).scalar_one()
        )
    previous = watermark
    for entry_id in fresh_ids:
        if entry_id > previous + 1:
            session.add(
                SealGap(first_entry_id=previous + 1, last_entry_id=entry_id - 1, seen_at=now, seen_xid=seen_xid)
            )
        previous = entry_id
    session.flush()


def check_chain(
    session: Session, *, batch: int = SEAL_BATCH_MAX, after: int = 0, prev_hash: str = GENESIS_HASH
) -> list[str]:
    """Recompute every seal past seal ``after`` (whose hash is ``prev_hash``); one message per broken link."""
    problems: list[str] = []
    expected_seq = after + 1
    while True:
        seals = session.execute(select(Seal).where(Seal.seq > after).order_by(Seal.seq).limit(batch)).scalars().all()
        if not seals:
            return problems
        entries = {
            e.id: e for e in session.execute(select(Entry).where(Entry.id.in_([s.entry_id for s in seals]))).scalars()
        }
        postings = _postings_by_entry(session, list(entries))
        for s in seals:
            if s.seq != expected_seq:
                problems.append(f"seal sequence jumps from {expected_seq - 1} to {s.seq}")
            if s.prev_hash != prev_hash:
                problems.append(f"seal {s.seq} (entry {s.entry_id}) does not follow the previous hash")
            entry = entries.get(s.entry_id)
            if entry is None or entry_hash(s.prev_hash, entry, postings[s.entry_id]) != s.hash:
                problems.append(f"entry {s.entry_id} (seal {s.seq}) no longer matches its hash")
            prev_hash, expected_seq, after = s.hash, s.seq + 1, s.seq
