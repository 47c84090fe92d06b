"""The ledger's Merkle arithmetic gives RFC 9162's roots and proofs, from complete subtrees only."""

from __future__ import annotations

import pytest

from ledger import merkle
from tests import rfc9162

LEAVES = [f"entry {i}".encode() for i in range(40)]


def _stored(size: int) -> dict[merkle.Node, str]:
    """Every complete subtree of a tree of ``size`` leaves, built by appending one batch at a time."""
    nodes: dict[merkle.Node, str] = {}
    done = 0
    for batch in (1, 2, 3, 5, 8, 13, 21):
        leaves = [merkle.leaf_hash(data) for data in LEAVES[done : min(done + batch, size)]]
        peaks = {node: nodes[node] for node in merkle.range_nodes(0, done)}
        nodes.update(merkle.appended_nodes(done, leaves, peaks))
        done += len(leaves)
    assert done == size
    return nodes


def _hashes(ranges, nodes) -> list[str]:
    needed = merkle.nodes_for(ranges)
    assert needed <= nodes.keys(), "a proof needs a subtree that is not complete"
    return [merkle.range_hash(start, end, nodes) for start, end in ranges]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 40])
def test_roots_and_inclusion_proofs_are_rfc_9162s(size):
    nodes = _stored(size)
    leaves = LEAVES[:size]

    assert merkle.range_hash(0, size, nodes) == rfc9162.mth(leaves).hex()
    for m in range(size):
        assert _hashes(merkle.inclusion_ranges(m, size), nodes) == [h.hex() for h in rfc9162.path(m, leaves)]


@pytest.mark.parametrize("second", [2, 3, 5, 8, 13, 16, 21, 33, 40])
def test_consistency_proofs_are_rfc_9162s(second):
    nodes = _stored(second)
    leaves = LEAVES[:second]

    for first in range(1, second):
        expected = [h.hex() for h in rfc9162.proof(first, leaves)]
        assert _hashes(merkle.consistency_ranges(first, second), nodes) == expected, first


def test_a_proof_reads_at_most_two_nodes_per_level():
    size = 1_000_003
    for ranges in (merkle.inclusion_ranges(size // 3, size), merkle.consistency_ranges(size // 7, size)):
        assert len(merkle.nodes_for(ranges)) <= 2 * size.bit_length()


def test_the_empty_tree_and_trivial_proofs():
    assert merkle.range_hash(0, 0, {}) == rfc9162.mth([]).hex()
    assert merkle.consistency_ranges(0, 9) == [] and merkle.consistency_ranges(9, 9) == []
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(5, 5)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(6, 5)
