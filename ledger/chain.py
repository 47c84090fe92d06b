"""The tamper-evident hash chain over the journal.

Entries are sealed after they commit, in the order the sealer sees them:
each seal hashes the entry, its postings and the previous seal's hash. One
sealer runs at a time (an advisory lock on PostgreSQL, the write lock on
SQLite); changing any sealed entry or posting breaks every later hash.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from ledger.models import Entry, Posting, Seal
from ledger.types import utcnow

GENESIS_HASH = "0" * 64
SEAL_BATCH_MAX = 5000
_PG_SEAL_LOCK = 7_120_001


def entry_hash(prev_hash: str, entry: Entry, postings: Iterable[Posting]) -> str:
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
    """Seal up to ``batch_max`` committed, unsealed entries; returns how many.

    With ``wait=False`` it returns 0 at once when another sealer is running.
    """
    if session.get_bind().dialect.name == "postgresql":
        if wait:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SEAL_LOCK})
        elif not session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _PG_SEAL_LOCK}).scalar_one():
            return 0
    last = session.execute(select(Seal.seq, Seal.hash).order_by(Seal.seq.desc()).limit(1)).first()
    seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    entries = (
        session.execute(
            select(Entry)
            .outerjoin(Seal, Seal.entry_id == Entry.id)
            .where(Seal.entry_id.is_(None))
            .order_by(Entry.id)
            .limit(batch_max)
        )
        .scalars()
        .all()
    )
    if not entries:
        return 0
    postings = _postings_by_entry(session, [e.id for e in entries])
    now = utcnow()
    rows = []
    for entry in entries:
        seq += 1
        digest = entry_hash(prev_hash, entry, postings[entry.id])
        rows.append({"seq": seq, "entry_id": entry.id, "prev_hash": prev_hash, "hash": digest, "sealed_at": now})
        prev_hash = digest
    session.execute(insert(Seal), rows)
    return len(rows)


def check_chain(session: Session, *, batch: int = SEAL_BATCH_MAX) -> list[str]:
    """Recompute every seal; returns one message per broken link."""
    problems: list[str] = []
    prev_hash, expected_seq, after = GENESIS_HASH, 1, 0
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
