"""The draw of a contest: a deterministic function of the secret seed and the entry
list that anyone can recompute once the seed is published (docs/audience.md,
"Contests"). ``partner_sdk.contests`` holds the same function for outsiders; the
app does not depend on the SDK, and a test checks the two agree."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

ALGORITHM = "hmac-sha256-rejection-v1"
SEED_BYTES = 32
_SPACE = 1 << 256  # the HMAC-SHA256 block read as a big-endian integer


def new_seed() -> str:
    """32 random bytes, as 64 lowercase hex characters."""
    return secrets.token_bytes(SEED_BYTES).hex()


def commitment(seed_hex: str) -> str:
    """SHA-256 (hex) of the seed's 32 bytes: published before entries open."""
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


ENTRY_ID_BYTES = 16


def new_entry_id() -> str:
    """An entry's public id: 16 random bytes as 32 lowercase hex characters (it names no member)."""
    return secrets.token_bytes(ENTRY_ID_BYTES).hex()


def ordered(entry_ids: Sequence[str]) -> list[str]:
    """The entry list in draw order: the entries' ids ascending (as ASCII strings)."""
    return sorted(entry_ids)


def entries_hash(entries: Sequence[str]) -> str:
    """SHA-256 (hex) of the ordered entries joined by a newline (no trailing one)."""
    return hashlib.sha256("\n".join(entries).encode("ascii")).hexdigest()


def winners(seed_hex: str, entries: Sequence[str], winners_count: int) -> list[str]:
    """Draw ``min(winners_count, len(entries))`` entries without replacement.

    Block ``c`` (c = 0, 1, ...) is HMAC-SHA256(key=seed bytes, message=entries_hash as
    64 ASCII hex characters followed by c as 8 bytes big-endian), read as a 256-bit
    big-endian integer r. With m entries left in the pool, r is kept when
    r < 2**256 - (2**256 mod m) (no modulo bias), else the next block is tried; the
    winner is pool[r mod m], which leaves the pool (the rest keep their order)."""
    key = bytes.fromhex(seed_hex)
    digest = entries_hash(entries).encode("ascii")
    pool = list(entries)
    drawn: list[str] = []
    counter = 0
    while pool and len(drawn) < winners_count:
        m = len(pool)
        limit = _SPACE - (_SPACE % m)
        while True:
            block = hmac.new(key, digest + counter.to_bytes(8, "big"), hashlib.sha256).digest()
            counter += 1
            r = int.from_bytes(block, "big")
            if r < limit:
                break
        drawn.append(pool.pop(r % m))
    return drawn
