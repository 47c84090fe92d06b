"""Checking the books: the ledger's transparency log, verified by the caller.

The platform appends every journal entry to an append-only log, an RFC 9162
Merkle tree, and signs its heads with Ed25519. With the functions here a merchant
or an affiliate proves, without trusting the platform, that an entry of theirs is
in the tree a signed head commits to (``verify_inclusion``), that a newer head
extends an older one instead of rewriting it (``verify_consistency``), and that a
head was signed by the log's key (``verify_tree_head``).

Hashes are SHA-256 as lowercase hex, 64 characters, as the platform sends them;
anything else (upper case, spaces, another length) is refused. Two kinds of
function, two ways of refusing:

- ``verify_inclusion``, ``verify_consistency`` and ``verify_tree_head`` answer True
  or False and never raise on what they are given: a malformed hash, a negative
  size, a proof one hash too short or too long is simply not a proof (False).
- ``node_hash``, ``root_from_inclusion``, ``signed_bytes`` and ``decode_canonical``
  compute a value, so they raise ``ProofError`` (a ``ValueError``) when they cannot.

Standard library only, except ``verify_tree_head``: it needs the optional
``cryptography`` package (``pip install partner-sdk[verify]``), imported only when
it is called, so the rest of the SDK works without it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from partner_sdk.answers import TreeHead
from partner_sdk.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "decode_canonical",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion",
    "signed_bytes",
    "verify_consistency",
    "verify_inclusion",
    "verify_tree_head",
]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_HEX_LENGTH = 64
ED25519_PUBLIC_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64
SIGNED_HEAD_VERSION = "v1"
VERIFY_EXTRA = "pip install partner-sdk[verify]"
# The root of the tree of no leaves (tree_size 0): the hash of nothing.
EMPTY_ROOT: str = hashlib.sha256(b"").hexdigest()

_HASH_HEX = re.compile(f"[0-9a-f]{{{HASH_HEX_LENGTH}}}")
_EMPTY_ROOT_BYTES = bytes.fromhex(EMPTY_ROOT)


def leaf_hash(canonical: bytes) -> str:
    """The hash of a leaf: SHA-256(0x00 || the entry's canonical bytes), as hex."""
    return hashlib.sha256(LEAF_PREFIX + canonical).hexdigest()


def node_hash(left_hex: str, right_hex: str) -> str:
    """The hash of an inner node: SHA-256(0x01 || left || right) over the 32 raw bytes of each child, as hex."""
    return _node(_raw(left_hex), _raw(right_hex)).hex()


def root_from_inclusion(leaf_index: int, tree_size: int, leaf_hash: str, proof: Sequence[str]) -> str:
    """The root an inclusion proof leads to from a leaf hash (RFC 9162, section 2.1.3.2), as hex.

    Raises ``ProofError`` when the index is not in a tree of that size, a hash is
    malformed, or the proof is longer or shorter than the leaf's path to the root.
    """
    if not (_is_size(leaf_index) and _is_size(tree_size)) or leaf_index >= tree_size:
        raise ProofError(f"leaf index {leaf_index!r} is not in a tree of size {tree_size!r}")
    path = _raw_list(proof)
    node = _raw(leaf_hash)
    index, last = leaf_index, tree_size - 1
    for sibling in path:
        if last == 0:
            raise ProofError(f"the proof has more than the {len(path) - 1} hashes it can use")
        if index & 1 or index == last:
            node = _node(sibling, node)
            while not index & 1 and index:
                index, last = index >> 1, last >> 1
        else:
            node = _node(node, sibling)
        index, last = index >> 1, last >> 1
    if last != 0:
        raise ProofError(f"the proof has {len(path)} hashes: too few for leaf {leaf_index} of {tree_size}")
    return node.hex()


def verify_inclusion(leaf_index: int, tree_size: int, leaf_hash: str, proof: Sequence[str], root_hash: str) -> bool:
    """Whether `proof` shows the leaf `leaf_hash` at `leaf_index` in the tree of `tree_size` whose root is `root_hash`.

    RFC 9162, section 2.1.3.2. Never raises: malformed input is not a proof (False).
    """
    try:
        return root_from_inclusion(leaf_index, tree_size, leaf_hash, proof) == _raw(root_hash).hex()
    except ProofError:
        return False


def verify_consistency(first: int, second: int, first_root: str, second_root: str, proof: Sequence[str]) -> bool:
    """Whether `proof` shows the tree of size `second` (root `second_root`) extends the one of size `first`.

    RFC 9162, section 2.1.4.2. A proof from size 0, or between equal sizes, is
    the empty list: from 0 it needs `first_root` to be ``EMPTY_ROOT``, between
    equal sizes it needs the two roots to be equal. Never raises: malformed
    input is not a proof (False).
    """
    try:
        roots = _raw(first_root), _raw(second_root)
        path = _raw_list(proof)
    except ProofError:
        return False
    if not (_is_size(first) and _is_size(second)) or first > second:
        return False
    if first == 0:
        return not path and roots[0] == _EMPTY_ROOT_BYTES and (second > 0 or roots[1] == _EMPTY_ROOT_BYTES)
    if first == second:
        return not path and roots[0] == roots[1]
    if not path:
        return False
    return _consistent(first, second, roots, path)


def _consistent(first: int, second: int, roots: tuple[bytes, bytes], path: list[bytes]) -> bool:
    # RFC 9162, section 2.1.4.2, steps 2 to 7, for 0 < first < second and a non-empty proof.
    if first & (first - 1) == 0:
        path = [roots[0], *path]
    index, last = first - 1, second - 1
    while index & 1:
        index, last = index >> 1, last >> 1
    first_node = second_node = path[0]
    for sibling in path[1:]:
        if last == 0:
            return False
        if index & 1 or index == last:
            first_node, second_node = _node(sibling, first_node), _node(sibling, second_node)
            while not index & 1 and index:
                index, last = index >> 1, last >> 1
        else:
            second_node = _node(second_node, sibling)
        index, last = index >> 1, last >> 1
    return last == 0 and first_node == roots[0] and second_node == roots[1]


def signed_bytes(tree_size: int, timestamp: int, root_hash: str) -> bytes:
    """The bytes a tree head's signature covers: ASCII ``v1:{tree_size}:{timestamp}:{root_hash}``.

    `timestamp` is Unix milliseconds. Raises ``ProofError`` on a negative or
    non-integer size or timestamp, or a malformed root hash.
    """
    if not (_is_size(tree_size) and _is_size(timestamp)):
        raise ProofError(f"tree_size {tree_size!r} and timestamp {timestamp!r} must be integers >= 0")
    _raw(root_hash)
    return f"{SIGNED_HEAD_VERSION}:{tree_size}:{timestamp}:{root_hash}".encode("ascii")


def verify_tree_head(head: TreeHead, public_key_b64: str) -> bool:
    """Whether `head` carries a valid Ed25519 signature by the key `public_key_b64` (base64 of its 32 raw bytes).

    Never raises on the head or the key: a malformed one is not signed (False).
    Needs the optional ``cryptography`` package; raises ``ImportError`` naming
    the extra to install (``pip install partner-sdk[verify]``) when it is absent.
    """
    try:
        from cryptography.exceptions import InvalidSignature  # type: ignore[import-not-found, unused-ignore]
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # type: ignore[import-not-found, unused-ignore]
            Ed25519PublicKey,
        )
    except ImportError as missing:
        raise ImportError(
            f"verify_tree_head needs the cryptography package: {VERIFY_EXTRA}", name="cryptography"
        ) from missing
    key, signature = _b64(public_key_b64), _b64(head.signature)
    if len(key) != ED25519_PUBLIC_KEY_BYTES or len(signature) != ED25519_SIGNATURE_BYTES:
        return False
    try:
        message = signed_bytes(head.tree_size, head.timestamp, head.root_hash)
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def decode_canonical(b64: str) -> dict[str, Any]:
    """The journal entry a leaf's `canonical` (base64 of its canonical bytes) holds, as a dict.

    Raises ``ProofError`` unless it is standard base64 of an ASCII JSON object
    written exactly the canonical way (sorted keys, no spaces, ASCII escapes).
    """
    canonical = _b64(b64)
    if not canonical:
        raise ProofError("canonical: not standard base64 of any bytes")
    try:
        parsed = json.loads(canonical.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as bad:
        raise ProofError(f"canonical: not ASCII JSON ({bad})") from bad
    if not isinstance(parsed, dict):
        raise ProofError("canonical: not a JSON object")
    if _canonical_json(parsed) != canonical:
        raise ProofError("canonical: a JSON object, but not written the canonical way")
    return parsed


def _canonical_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _raw(hex_hash: object) -> bytes:
    if not isinstance(hex_hash, str) or not _HASH_HEX.fullmatch(hex_hash):
        raise ProofError(f"not a SHA-256 hash as {HASH_HEX_LENGTH} lowercase hex digits: {str(hex_hash)[:80]!r}")
    return bytes.fromhex(hex_hash)


def _raw_list(proof: object) -> list[bytes]:
    # A str is a sequence of str too: refuse it rather than read its characters as hashes.
    if isinstance(proof, (str, bytes)) or not isinstance(proof, Sequence):
        raise ProofError("a proof is a list of hex hashes")
    return [_raw(item) for item in proof]


def _b64(value: object) -> bytes:
    """Standard base64 with padding, decoded; empty bytes when it is not that."""
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return b""


def _is_size(value: object) -> bool:
    # bool is an int in Python, never a size.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
