"""The draw function: the app's and the SDK's agree, the worked example of
docs/audience.md holds, and verify_draw fails on any changed entry or seed."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from app.contests import draw
from partner_sdk import verify_draw
from partner_sdk.contests import ALGORITHM, draw_winners, entries_hash, seed_commitment

DOC = Path(__file__).resolve().parents[2] / "docs" / "audience.md"
SEED = bytes(range(32)).hex()
NUMBERS = [0x3, 0x7, 0x12, 0x41, 0x58]


def eid(n: int) -> str:
    """An entry id (32 lowercase hex characters) easy to read: the number, zero-padded."""
    return f"{n:032x}"


ENTRIES = [eid(n) for n in NUMBERS]


def published(seed: str, numbers: list[int], winners_count: int) -> dict:
    entries = draw.ordered([eid(n) for n in numbers])
    return {
        "seed": seed,
        "seed_commitment": draw.commitment(seed),
        "entries": entries,
        "entries_hash": draw.entries_hash(entries),
        "winners": draw.winners(seed, entries, winners_count),
        "winners_count": winners_count,
    }


def test_the_app_and_the_sdk_draw_alike_on_many_random_contests():
    rng = random.Random(12)
    for _ in range(400):
        seed = rng.randbytes(32).hex()
        ids = [int.from_bytes(rng.randbytes(16), "big") for _ in range(rng.randrange(0, 60))]
        count = rng.randrange(1, 70)
        entries = draw.ordered([eid(n) for n in ids])
        assert draw.commitment(seed) == seed_commitment(seed)
        assert draw.entries_hash(entries) == entries_hash(entries)
        assert draw.winners(seed, entries, count) == draw_winners(seed, entries, count)
        assert verify_draw(**published(seed, ids, count))
    assert draw.ALGORITHM == ALGORITHM


def test_winners_are_distinct_entrants_and_every_entrant_wins_when_there_are_fewer_than_prizes():
    many = published(SEED, list(range(1, 101)), 10)
    assert len(set(many["winners"])) == 10 and set(many["winners"]) <= set(many["entries"])
    few = published(SEED, [5, 9], 3)
    assert sorted(few["winners"]) == [eid(5), eid(9)]
    assert published(SEED, [], 3)["winners"] == []


def test_the_worked_example_of_the_docs_holds():
    text = DOC.read_text()
    figures = dict(re.findall(r"^- `(\w+)`: `([^`]*)`", text, flags=re.M))
    assert figures["seed"] == SEED
    assert figures["seed_commitment"] == draw.commitment(SEED)
    assert figures["entries_hash"] == draw.entries_hash(ENTRIES)
    assert figures["winners"] == ", ".join(draw.winners(SEED, ENTRIES, 2))
    assert figures["block_0"] == draw_block(SEED, ENTRIES, 0)


def draw_block(seed: str, entries: list[str], counter: int) -> str:
    import hashlib
    import hmac

    message = draw.entries_hash(entries).encode("ascii") + counter.to_bytes(8, "big")
    return hmac.new(bytes.fromhex(seed), message, hashlib.sha256).hexdigest()


def test_a_published_draw_verifies():
    assert verify_draw(**published(SEED, NUMBERS, 2))


@pytest.mark.parametrize("position", range(5))
def test_changing_one_entry_makes_the_check_fail(position):
    shown = published(SEED, NUMBERS, 2)
    changed = list(shown["entries"])
    changed[position] = eid(int(changed[position], 16) + 1) if position < 4 else eid(0x59)
    assert not verify_draw(**{**shown, "entries": changed})


def test_a_changed_entry_with_its_hash_recomputed_still_fails_on_the_winners():
    shown = published(SEED, NUMBERS, 2)
    assert eid(0x41) in shown["winners"]
    changed = [eid(n) for n in (0x3, 0x7, 0x12, 0x42, 0x58)]
    assert not verify_draw(**{**shown, "entries": changed, "entries_hash": draw.entries_hash(changed)})


def test_an_added_or_dropped_entry_makes_the_check_fail():
    shown = published(SEED, NUMBERS, 2)
    assert not verify_draw(**{**shown, "entries": shown["entries"][:-1]})
    assert not verify_draw(**{**shown, "entries": [*shown["entries"], eid(0x60)]})


def test_changing_the_seed_makes_the_check_fail():
    shown = published(SEED, NUMBERS, 2)
    other = bytes(range(1, 33)).hex()
    assert not verify_draw(**{**shown, "seed": other})
    # A seed that matches its own commitment but not the published one fails too.
    assert not verify_draw(**{**shown, "seed": other, "winners": draw.winners(other, shown["entries"], 2)})


@pytest.mark.parametrize(
    "change",
    [
        {"winners": [eid(0x41)]},
        {"winners": [eid(0x3), eid(0x41)]},
        {"winners_count": 3},
        {"entries": [eid(n) for n in (0x7, 0x3, 0x12, 0x41, 0x58)]},
        {"entries": [eid(n) for n in (0x3, 0x3, 0x12, 0x41, 0x58)]},
        {"entries": [eid(0x3)[1:], *(eid(n) for n in (0x7, 0x12, 0x41, 0x58))]},
        {"entries": [eid(0x3).replace("0", "G", 1), *(eid(n) for n in (0x7, 0x12, 0x41, 0x58))]},
        {"entries": ["3", *(eid(n) for n in (0x7, 0x12, 0x41, 0x58))]},
        {"seed": "not hex"},
        {"seed": "00" * 16},
        {"seed_commitment": "é"},
        {"winners_count": 0},
    ],
    ids=lambda c: repr(c)[:40],
)
def test_any_other_change_or_malformed_value_is_false_never_an_exception(change):
    shown = published(SEED, NUMBERS, 2)
    assert not verify_draw(**{**shown, **change})
