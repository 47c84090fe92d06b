"""The transparency log: sealed entries as the leaves of an RFC 9162 Merkle tree.

Leaf ``i`` is the entry of seal ``i + 1``; its data is the entry's canonical
bytes (``canonical_bytes``, documented in docs/ledger.md), so anyone holding
them can recompute the leaf hash and read the amounts. Leaf hashes live on the
seals; the complete subtrees above them live in ``ledger_tree_nodes``. A root,
an inclusion proof and a consistency proof each read O(log n) nodes in two
queries, whatever the size of the journal.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, text, update
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.errors import LedgerError
from ledger.models import Account, Entry, LogState, Posting, Seal, TreeNode, table

CANONICAL_VERSION = 1
TREE_BATCH_MAX = 5000
# Rows per IN list, well under every driver's parameter limit.
_IN_CHUNK = 500
_STATE_ID = 1
# One sealer and one signer at a time (the hash chain's lock number, unchanged).
PG_LOG_LOCK = 7_120_001


class TreeCorrupt(LedgerError):
    """A node the tree needs is missing: the stored tree is broken."""


@dataclass(frozen=True)
class LoggedEntry:
    """An entry as the log holds it: its leaf index and the exact bytes its leaf hashes."""

    leaf_index: int
    entry_id: int
    canonical: bytes

    @property
    def leaf_hash(self) -> str:
        return merkle.leaf_hash(self.canonical)

    def fields(self) -> dict[str, Any]:
        """The canonical bytes read back: id, kind, key, reverses, ref, memo, at, postings."""
        parsed: dict[str, Any] = json.loads(self.canonical)
        return parsed


def canonical_bytes(entry: Entry, postings: Iterable[tuple[str, str, int]]) -> bytes:
    """Version 1 of an entry's canonical encoding: sorted-key, compact, ASCII JSON.

    ``postings`` are (account name, asset, amount); they are sorted, so the
    order they were written in does not matter.
    """
    payload = {
        "v": CANONICAL_VERSION,
        "id": entry.id,
        "kind": entry.kind,
        "key": entry.idempotency_key,
        "reverses": entry.reverses_entry_id,
        "ref": entry.ref,
        "memo": entry.memo,
        "at": entry.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "postings": sorted([name, asset, int(amount)] for name, asset, amount in postings),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _chunks(values: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def posting_rows(session: Session, entry_ids: list[int]) -> dict[int, list[Row]]:
    """Each entry's postings with their account: ``account_id``, ``name``, ``asset``, ``amount``."""
    grouped: dict[int, list[Row]] = defaultdict(list)
    for chunk in _chunks(sorted(set(entry_ids))):
        rows = session.execute(
            select(Posting.entry_id, Posting.account_id, Account.name, Posting.asset, Posting.amount)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id.in_(chunk))
        )
        for row in rows:
            grouped[row.entry_id].append(row)
    return grouped


def canonical_of(entry: Entry, postings: Iterable[Row]) -> bytes:
    """``canonical_bytes`` of an entry from its ``posting_rows``."""
    return canonical_bytes(entry, [(p.name, p.asset, p.amount) for p in postings])


def canonical_entries(session: Session, entry_ids: list[int]) -> dict[int, bytes]:
    """The canonical bytes of each entry in ``entry_ids`` that exists."""
    entries: dict[int, Entry] = {}
    for chunk in _chunks(sorted(set(entry_ids))):
        for entry in session.execute(select(Entry).where(Entry.id.in_(chunk))).scalars():
            entries[entry.id] = entry
    postings = posting_rows(session, list(entries))
    return {entry_id: canonical_of(entry, postings[entry_id]) for entry_id, entry in entries.items()}


def log_lock(session: Session, *, wait: bool = True) -> bool:
    """Take the one-sealer lock for the transaction; False when ``wait=False`` and another holds it.

    On SQLite the unit's write lock (BEGIN IMMEDIATE) already excludes every other writer.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOG_LOCK})
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": PG_LOG_LOCK}).scalar_one())


def state(session: Session, *, for_update: bool = False) -> LogState:
    """The log's state row, created on first use (the caller holds the log lock)."""
    query = select(LogState).where(LogState.id == _STATE_ID)
    found = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if found is None:
        found = LogState(id=_STATE_ID, sealed_through_entry_id=0, tree_size=0)
        session.add(found)
        session.flush()
    return found


def tree_size(session: Session) -> int:
    found = session.execute(select(LogState.tree_size).where(LogState.id == _STATE_ID)).scalar_one_or_none()
    return int(found or 0)


def stored_hashes(session: Session, nodes: Iterable[merkle.Node]) -> dict[merkle.Node, str]:
    """The stored hash of each of ``nodes`` that is stored: leaves from the seals, the
    rest from the tree table, in as few queries as the parameter limit allows."""
    wanted = set(nodes)
    found: dict[merkle.Node, str] = {}
    for chunk in _chunks(sorted(index + 1 for level, index in wanted if level == 0)):
        for seq, digest in session.execute(select(Seal.seq, Seal.leaf_hash).where(Seal.seq.in_(chunk))):
            if digest is not None:
                found[(0, seq - 1)] = digest
    by_level: dict[int, list[int]] = defaultdict(list)
    for level, index in sorted(wanted):
        if level > 0:
            by_level[level].append(index)
    clauses, params = [], 0
    for level, indexes in by_level.items():
        for chunk in _chunks(indexes):
            clauses.append(and_(TreeNode.level == level, TreeNode.index.in_(chunk)))
            params += len(chunk)
            if params >= _IN_CHUNK:
                found.update(_upper(session, clauses))
                clauses, params = [], 0
    if clauses:
        found.update(_upper(session, clauses))
    return found


def _upper(session: Session, clauses: list) -> dict[merkle.Node, str]:
    rows = session.execute(select(TreeNode.level, TreeNode.index, TreeNode.hash).where(or_(*clauses)))
    return {(level, index): digest for level, index, digest in rows}


def node_hashes(session: Session, nodes: Iterable[merkle.Node]) -> dict[merkle.Node, str]:
    """The stored hash of each node; raises ``TreeCorrupt`` when one the tree needs is missing."""
    wanted = set(nodes)
    found = stored_hashes(session, wanted)
    missing = wanted - set(found)
    if missing:
        raise TreeCorrupt(f"the tree lacks nodes {sorted(missing)[:5]}")
    return found


def _ranges_hashes(session: Session, ranges: list[merkle.Range]) -> list[str]:
    hashes = node_hashes(session, merkle.nodes_for(ranges))
    return [merkle.range_hash(start, end, hashes) for start, end in ranges]


def _check_size(session: Session, size: int) -> None:
    current = tree_size(session)
    if not 0 <= size <= current:
        raise ValueError(f"tree size {size} is outside the log (0 to {current})")


def root_hash(session: Session, size: int) -> str:
    """The root of the tree of the first ``size`` leaves."""
    _check_size(session, size)
    return _ranges_hashes(session, [(0, size)])[0] if size else merkle.EMPTY_ROOT


def inclusion_proof(session: Session, leaf_index: int, size: int) -> list[str]:
    """RFC 9162's PATH(leaf_index, D[0:size])."""
    _check_size(session, size)
    return _ranges_hashes(session, merkle.inclusion_ranges(leaf_index, size))


def consistency_proof(session: Session, first: int, second: int) -> list[str]:
    """RFC 9162's PROOF(first, D[0:second])."""
    _check_size(session, second)
    return _ranges_hashes(session, merkle.consistency_ranges(first, second))


def extend_tree(session: Session, log: LogState, *, batch_max: int = TREE_BATCH_MAX) -> int:
    """Take up to ``batch_max`` sealed entries past the tree's size into it; returns how many.

    A seal without a leaf hash (made before the log existed) gets one here.
    """
    rows = session.execute(
        select(Seal.seq, Seal.entry_id, Seal.leaf_hash)
        .where(Seal.seq > log.tree_size)
        .order_by(Seal.seq)
        .limit(batch_max)
    ).all()
    if not rows:
        return 0
    if rows[0].seq != log.tree_size + 1 or rows[-1].seq != log.tree_size + len(rows):
        raise TreeCorrupt(f"seals after {log.tree_size} are not contiguous")
    missing = [row.entry_id for row in rows if row.leaf_hash is None]
    canonical = canonical_entries(session, missing)
    leaves = []
    for row in rows:
        digest = row.leaf_hash or merkle.leaf_hash(canonical[row.entry_id])
        if row.leaf_hash is None:
            session.execute(update(Seal).where(Seal.seq == row.seq).values(leaf_hash=digest))
        leaves.append(digest)
    peaks = node_hashes(session, merkle.range_nodes(0, log.tree_size))
    made = merkle.appended_nodes(log.tree_size, leaves, peaks)
    upper = [{"level": level, "index": index, "hash": digest} for (level, index), digest in made.items() if level]
    if upper:
        session.execute(insert(table(TreeNode)), upper)
    log.tree_size += len(rows)
    session.flush()
    return len(rows)


def logged_entries(session: Session, leaf_indexes: list[int]) -> dict[int, LoggedEntry]:
    """The entries at these leaf indexes, read back as the log holds them now."""
    seals: dict[int, int] = {}
    for chunk in _chunks(sorted({index + 1 for index in leaf_indexes})):
        seals.update(session.execute(select(Seal.seq, Seal.entry_id).where(Seal.seq.in_(chunk))).all())
    canonical = canonical_entries(session, list(seals.values()))
    return {seq - 1: LoggedEntry(seq - 1, entry_id, canonical[entry_id]) for seq, entry_id in seals.items()}


def leaf_indexes_of(session: Session, entry_ids: Iterable[int]) -> dict[int, int]:
    """Each sealed entry's leaf index (entries not yet sealed are absent)."""
    found: dict[int, int] = {}
    for chunk in _chunks(sorted(set(entry_ids))):
        for entry_id, seq in session.execute(select(Seal.entry_id, Seal.seq).where(Seal.entry_id.in_(chunk))):
            found[entry_id] = seq - 1
    return found


def _party_clause(account_names: list[str]):
    accounts = select(Account.id).where(Account.name.in_(account_names))
    return select(Posting.id).where(Posting.entry_id == Seal.entry_id, Posting.account_id.in_(accounts)).exists()


def party_entries(session: Session, account_names: list[str] | None, *, after: int, limit: int) -> list[LoggedEntry]:
    """Entries in the tree past leaf ``after`` that post to one of ``account_names``
    (every entry when None), by leaf index, ``limit`` of them."""
    query = (
        select(Seal.seq, Seal.entry_id)
        .where(Seal.seq > after + 1, Seal.seq <= tree_size(session))
        .order_by(Seal.seq)
        .limit(limit)
    )
    if account_names is not None:
        query = query.where(_party_clause(account_names))
    seals = session.execute(query).all()
    canonical = canonical_entries(session, [entry_id for _, entry_id in seals])
    return [LoggedEntry(seq - 1, entry_id, canonical[entry_id]) for seq, entry_id in seals]


def party_entry(session: Session, entry_id: int, account_names: list[str] | None) -> LoggedEntry | None:
    """The entry as logged, if it is in the tree and posts to one of ``account_names`` (any entry when None)."""
    query = select(Seal.seq).where(Seal.entry_id == entry_id, Seal.seq <= tree_size(session))
    if account_names is not None:
        query = query.where(_party_clause(account_names))
    seq = session.execute(query).scalar_one_or_none()
    if seq is None:
        return None
    return LoggedEntry(seq - 1, entry_id, canonical_entries(session, [entry_id])[entry_id])
