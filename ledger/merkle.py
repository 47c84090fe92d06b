"""RFC 9162 Merkle tree arithmetic, independent of storage.

A node is addressed by ``(level, index)``: it covers the leaves
``[index * 2**level, (index + 1) * 2**level)``. Only complete subtrees are
nodes; the hash of any other range (a tree whose size is not a power of two,
or its right part) is folded from the complete subtrees it decomposes into,
at most one per level. So a root, an inclusion proof or a consistency proof
needs O(log n) stored nodes, which callers fetch in one read (``nodes_for``)
before computing the answer (``range_hash`` over the fetched hashes).

Hashes are hex strings of SHA-256 with RFC 9162's domain separation:
leaf = H(0x00 || data), node = H(0x01 || left || right), empty tree = H("").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

Node = tuple[int, int]
Range = tuple[int, int]

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(data: bytes) -> str:
    return hashlib.sha256(b"\x00" + data).hexdigest()


def node_hash(left: str, right: str) -> str:
    return hashlib.sha256(b"\x01" + bytes.fromhex(left) + bytes.fromhex(right)).hexdigest()


def _split(size: int) -> int:
    """The largest power of two strictly below ``size`` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[Node]:
    """The complete subtrees, left to right, whose fold is the hash of leaves [start, end).

    ``start`` is aligned as every range RFC 9162's recursion produces is: a
    multiple of the largest power of two not above the range's size.
    """
    nodes: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def range_hash(start: int, end: int, hashes: Mapping[Node, str]) -> str:
    """MTH(D[start:end]) from the hashes of its ``range_nodes``."""
    if start == end:
        return EMPTY_ROOT
    nodes = range_nodes(start, end)
    folded = hashes[nodes[-1]]
    for node in reversed(nodes[:-1]):
        folded = node_hash(hashes[node], folded)
    return folded


def inclusion_ranges(leaf_index: int, tree_size: int) -> list[Range]:
    """The ranges whose hashes make PATH(leaf_index, D[0:tree_size]), in proof order."""
    if not 0 <= leaf_index < tree_size:
        raise ValueError(f"leaf {leaf_index} is not in a tree of {tree_size}")
    ranges: list[Range] = []
    start, end = 0, tree_size
    while end - start > 1:
        k = _split(end - start)
        if leaf_index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return ranges[::-1]


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The ranges whose hashes make PROOF(first, D[0:second]), in proof order."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first in (0, second):
        return []
    ranges: list[Range] = []
    start, end, complete = 0, second, True
    while end - start != first:
        k = _split(end - start)
        if first <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            first -= k
            start += k
            complete = False
    if not complete:
        ranges.append((start, end))
    return ranges[::-1]


def nodes_for(ranges: Iterable[Range]) -> set[Node]:
    """Every stored node the hashes of ``ranges`` need."""
    return {node for start, end in ranges for node in range_nodes(start, end)}


def appended_nodes(tree_size: int, leaves: list[str], peaks: Mapping[Node, str]) -> dict[Node, str]:
    """The nodes above the leaves that appending ``leaves`` to a tree of ``tree_size`` completes.

    ``peaks`` holds the hashes of ``range_nodes(0, tree_size)``, the complete
    subtrees that new leaves may close. Leaves themselves (level 0) are in the
    answer too; the caller stores what it keeps.
    """
    known = dict(peaks)
    made: dict[Node, str] = {}
    for offset, digest in enumerate(leaves):
        level, index = 0, tree_size + offset
        known[(0, index)] = made[(0, index)] = digest
        while index % 2:
            digest = node_hash(known[(level, index - 1)], digest)
            level, index = level + 1, index // 2
            known[(level, index)] = made[(level, index)] = digest
    return made
