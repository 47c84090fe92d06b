"""Check a contest's draw without trusting the platform.

Before entries open the platform publishes ``seed_commitment``, the SHA-256 of a
secret 32-byte seed. After the draw it publishes the seed, the entry list (the
entries' random ids in draw order, ``GET /v1/contests/{id}/entries``: they name no
member), its ``entries_hash`` and the winning entries. ``verify_draw`` recomputes all of it with the documented function
(``ALGORITHM``); ``draw_winners`` is that function. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["ALGORITHM", "draw_winners", "entries_hash", "seed_commitment", "verify_draw"]

ALGORITHM = "hmac-sha256-rejection-v1"
_SEED_BYTES = 32
_SPACE = 1 << 256


def seed_commitment(seed: str) -> str:
    """SHA-256 (hex) of the seed's bytes (``seed`` is 64 hex characters)."""
    return hashlib.sha256(bytes.fromhex(seed)).hexdigest()


def entries_hash(entries: Sequence[str]) -> str:
    """SHA-256 (hex) of the entries (their ids, ascending) joined by "\\n"."""
    return hashlib.sha256("\n".join(entries).encode("ascii")).hexdigest()


def draw_winners(seed: str, entries: Sequence[str], winners_count: int) -> list[str]:
    """The winners of ``hmac-sha256-rejection-v1``, in draw order.

    Block c (c = 0, 1, ...) is HMAC-SHA256(key=seed bytes, message=entries_hash in
    ASCII hex + c as 8 bytes big-endian), read as a big-endian integer r. With m
    entries left, r is kept if r < 2**256 - (2**256 mod m), else the next block is
    read; the winner is the entry at r mod m, removed from the pool (the others keep
    their order). ``min(winners_count, len(entries))`` winners are drawn.
    """
    key = bytes.fromhex(seed)
    digest = entries_hash(entries).encode("ascii")
    pool = list(entries)
    drawn: list[str] = []
    counter = 0
    while pool and len(drawn) < winners_count:
        m = len(pool)
        limit = _SPACE - (_SPACE % m)
        r = limit
        while r >= limit:
            block = hmac.new(key, digest + counter.to_bytes(8, "big"), hashlib.sha256).digest()
            counter += 1
            r = int.from_bytes(block, "big")
        drawn.append(pool.pop(r % m))
    return drawn


def _in_draw_order(entries: Sequence[str]) -> bool:
    """Entry ids are 32 lowercase hex characters, distinct and ascending."""
    if not all(len(entry) == _ENTRY_ID_CHARS and set(entry) <= _HEX for entry in entries):
        return False
    return all(a < b for a, b in zip(entries, entries[1:], strict=False))


_ENTRY_ID_CHARS = 32
_HEX = frozenset("0123456789abcdef")


def verify_draw(
    seed: str,
    seed_commitment: str,
    entries: Sequence[str],
    entries_hash: str,
    winners: Sequence[str],
    winners_count: int,
) -> bool:
    """True when the published draw is the one the committed seed and these entries give.

    Checks that ``seed`` is 32 bytes in hex whose SHA-256 is ``seed_commitment``
    (published before entries opened), that ``entries`` are distinct entry ids (32
    lowercase hex characters) in ascending order hashing to ``entries_hash``, and that ``winners`` are
    exactly ``draw_winners(seed, entries, winners_count)``, in order. Any mismatch,
    or a malformed value, is False: it never raises on what the platform sent.
    """
    try:
        seed_bytes = bytes.fromhex(seed)
    except ValueError:
        return False
    if len(seed_bytes) != _SEED_BYTES or winners_count < 1:
        return False
    if hashlib.sha256(seed_bytes).hexdigest() != seed_commitment.lower():
        return False
    if not _in_draw_order(entries):
        return False
    if _entries_hash(entries) != entries_hash.lower():
        return False
    return list(winners) == draw_winners(seed, entries, winners_count)


_entries_hash = entries_hash
