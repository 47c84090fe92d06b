"""docs/ledger.md's worked example of the log is what the ledger encodes, hashes and signs."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import ledger
from ledger import merkle
from ledger.log import canonical_bytes
from ledger.models import Entry
from partner_sdk.transparency import leaf_hash, verify_inclusion

DOC = (Path(__file__).resolve().parents[2] / "docs" / "ledger.md").read_text()
OTHER_LEAF = "0fe7f04cd9688fb996eea9ae1248cbe83b4d04805413f35ab25ad9deb5a3cb32"
EXAMPLE_SIGNER = ledger.Signer(hashlib.sha256(b"docs/ledger.md example key").digest())


def example(name: str) -> str:
    found = re.search(rf"<!-- log example: {name} -->\n```\n(.*?)\n```", DOC, re.S)
    assert found, f"docs/ledger.md has no log example {name!r}"
    return found.group(1)


def test_the_canonical_bytes_are_the_ledgers_encoding_of_that_entry():
    shown = example("canonical")
    fields = json.loads(shown)
    entry = Entry(
        id=fields["id"],
        kind=fields["kind"],
        idempotency_key=fields["key"],
        reverses_entry_id=fields["reverses"],
        ref=fields["ref"],
        memo=fields["memo"],
        created_at=datetime.fromisoformat(fields["at"]),
    )
    postings = [tuple(p) for p in reversed(fields["postings"])]

    assert canonical_bytes(entry, postings) == shown.encode("ascii")


def test_the_leaf_root_and_signature_follow_from_the_bytes():
    canonical = example("canonical").encode("ascii")
    leaf = example("leaf_hash")
    root = example("root_hash")

    assert leaf == merkle.leaf_hash(canonical) == leaf_hash(canonical)
    assert root == merkle.node_hash(leaf, OTHER_LEAF)
    assert verify_inclusion(0, 2, leaf, [OTHER_LEAF], root)
    timestamp_ms = int(example("signed_bytes").split(":")[2])
    assert example("signed_bytes").encode("ascii") == ledger.signed_bytes(2, timestamp_ms, root)
    assert f"`{EXAMPLE_SIGNER.public_key}`" in DOC and f"`{EXAMPLE_SIGNER.key_id}`" in DOC
    assert ledger.signature_valid(
        EXAMPLE_SIGNER.public_key, ledger.signed_bytes(2, timestamp_ms, root), example("signature")
    )
    assert not ledger.signature_valid(
        EXAMPLE_SIGNER.public_key, ledger.signed_bytes(3, timestamp_ms, root), example("signature")
    )
