"""Recompute the transparency log from the journal: every leaf, every stored node, every signed head.

Leaves are recomputed from the entries' canonical bytes in seal order, the
tree above them is rebuilt in memory one batch at a time (only its peaks are
kept between batches), and each stored node and head is compared with what
the journal says it must be. Each head's signature is checked with the
public key of the key that signed it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import heads, log, merkle
from ledger.models import Seal, SigningKey, TreeHead

CHECK_BATCH = 5000
PROBLEMS_MAX = 50


def check_log(session: Session) -> list[str]:
    """One message per leaf, node or head that does not match the journal."""
    return check_log_from(session, 0, {})[0]


def check_log_from(session: Session, start: int, peaks: dict[merkle.Node, str]) -> tuple[list[str], int]:
    """``check_log`` from leaf ``start`` on, given the hashes of ``merkle.range_nodes(0, start)``
    (checked before): the leaves past it, the nodes they complete, and every head of
    ``start`` leaves or more. Returns the problems and the tree size reached."""
    problems: list[str] = []
    size = log.tree_size(session)
    keys = dict(session.execute(select(SigningKey.key_id, SigningKey.public_key)).all())
    pending_heads = list(
        session.execute(
            select(TreeHead).where(TreeHead.tree_size >= start).order_by(TreeHead.tree_size, TreeHead.id)
        ).scalars()
    )
    for head in pending_heads:
        if head.key_id not in keys or not heads.signature_valid(
            keys[head.key_id], heads.signed_bytes(head.tree_size, head.timestamp_ms, head.root_hash), head.signature
        ):
            problems.append(f"tree head {head.id} (size {head.tree_size}) has no valid signature")
        if head.tree_size > size:
            problems.append(f"tree head {head.id} claims {head.tree_size} leaves; the tree has {size}")
    done = start
    _check_heads_at(done, merkle.range_hash(0, done, peaks), pending_heads, problems)
    while done < size and len(problems) < PROBLEMS_MAX:
        stop = min(done + CHECK_BATCH, size)
        upcoming = [h.tree_size for h in pending_heads if done < h.tree_size < stop]
        stop = min([stop, *upcoming])
        leaves = _recomputed_leaves(session, done, stop, problems)
        made = merkle.appended_nodes(done, leaves, peaks)
        _compare_nodes(session, made, problems)
        known = {**peaks, **made}
        peaks = {node: known[node] for node in merkle.range_nodes(0, stop)}
        done = stop
        _check_heads_at(done, merkle.range_hash(0, done, peaks), pending_heads, problems)
    return problems, size


def _check_heads_at(size: int, root: str, pending_heads: list[TreeHead], problems: list[str]) -> None:
    while pending_heads and pending_heads[0].tree_size <= size:
        head = pending_heads.pop(0)
        if head.tree_size == size and head.root_hash != root:
            problems.append(f"tree head {head.id} (size {size}) does not match the journal's root")


def _recomputed_leaves(session: Session, start: int, stop: int, problems: list[str]) -> list[str]:
    """Leaf hashes of leaves [start, stop) from the entries, naming any stored leaf that differs."""
    seals = session.execute(
        select(Seal.seq, Seal.entry_id, Seal.leaf_hash).where(Seal.seq > start, Seal.seq <= stop).order_by(Seal.seq)
    ).all()
    if len(seals) != stop - start:
        problems.append(f"leaves {start} to {stop - 1} are not all sealed")
    canonical = log.canonical_entries(session, [s.entry_id for s in seals])
    leaves = []
    for seal in seals:
        data = canonical.get(seal.entry_id)
        digest = merkle.leaf_hash(data) if data is not None else merkle.EMPTY_ROOT
        if digest != seal.leaf_hash:
            problems.append(f"entry {seal.entry_id} (leaf {seal.seq - 1}) no longer matches its leaf hash")
        leaves.append(digest)
    return leaves


def _compare_nodes(session: Session, made: dict[merkle.Node, str], problems: list[str]) -> None:
    upper = sorted(node for node in made if node[0] > 0)
    stored = log.stored_hashes(session, upper)
    for node in upper:
        if stored.get(node) != made[node]:
            level, index = node
            first, last = index << level, ((index + 1) << level) - 1
            problems.append(f"tree node over leaves {first} to {last} does not match the journal")
