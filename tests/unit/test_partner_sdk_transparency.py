"""partner_sdk.transparency against RFC 9162 itself: a naive tree written from the RFC's definitions, CT's vectors.

The naive MTH, PATH and PROOF (tests/rfc9162.py) follow RFC 9162 section 2.1 word for word
(recursion on the largest power of two below n) and share nothing with the
SDK's iterative verifiers; every tree size up to 64, every leaf and every pair
of sizes is checked both ways: the true proof verifies, a tampered one does not.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from partner_sdk import (
    EMPTY_ROOT,
    ProofError,
    TreeHead,
    decode_canonical,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    signed_bytes,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)
from tests.rfc9162 import mth, path, proof

ROOT = Path(__file__).resolve().parents[2]
SIZES_MAX = 64
LEAVES = [f"journal entry {number}".encode() for number in range(SIZES_MAX)]
OTHER_HASH = hashlib.sha256(b"not a node of any tree here").hexdigest()

# The Certificate Transparency test vectors (RFC 6962 trees, as the CT and transparency-dev test data give them).
CT_LEAVES = [
    bytes.fromhex(leaf)
    for leaf in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def hexes(hashes: list[bytes]) -> list[str]:
    return [value.hex() for value in hashes]


def root(n: int, leaves: list[bytes] | None = None) -> str:
    """The root of the first n leaves (of LEAVES unless given)."""
    return _root_of_leaves(n) if leaves is None else mth(leaves[:n]).hex()


@functools.cache
def _root_of_leaves(n: int) -> str:
    return mth(LEAVES[:n]).hex()


def changed(leaves: list[bytes], index: int) -> list[bytes]:
    return [*leaves[:index], leaves[index] + b" (rewritten)", *leaves[index + 1 :]]


# The naive tree is RFC 6962's: it gives CT's roots and proofs.


def test_the_naive_tree_gives_the_certificate_transparency_roots_and_proofs():
    assert [mth(CT_LEAVES[:n]).hex() for n in range(9)] == CT_ROOTS
    assert [(m, n, hexes(path(m, CT_LEAVES[:n]))) for m, n, _ in CT_INCLUSION] == CT_INCLUSION
    assert [(m, n, hexes(proof(m, CT_LEAVES[:n]))) for m, n, _ in CT_CONSISTENCY if m < n] == [
        vector for vector in CT_CONSISTENCY if vector[0] < vector[1]
    ]


# The SDK against the vectors


def test_the_empty_root_and_the_hashes_are_rfc_9162s():
    assert EMPTY_ROOT == CT_ROOTS[0]
    assert leaf_hash(b"") == CT_ROOTS[1]
    assert node_hash(leaf_hash(CT_LEAVES[0]), leaf_hash(CT_LEAVES[1])) == CT_ROOTS[2]


@pytest.mark.parametrize(("leaf_index", "tree_size", "audit_path"), CT_INCLUSION)
def test_the_certificate_transparency_inclusion_proofs_verify(leaf_index, tree_size, audit_path):
    leaf = leaf_hash(CT_LEAVES[leaf_index])

    assert root_from_inclusion(leaf_index, tree_size, leaf, audit_path) == CT_ROOTS[tree_size]
    assert verify_inclusion(leaf_index, tree_size, leaf, audit_path, CT_ROOTS[tree_size])


def test_every_leaf_of_the_certificate_transparency_trees_leads_to_their_root():
    for n in range(1, 9):
        for m in range(n):
            computed = root_from_inclusion(m, n, leaf_hash(CT_LEAVES[m]), hexes(path(m, CT_LEAVES[:n])))
            assert computed == CT_ROOTS[n], (m, n)


@pytest.mark.parametrize(("first", "second", "consistency"), CT_CONSISTENCY)
def test_the_certificate_transparency_consistency_proofs_verify(first, second, consistency):
    assert verify_consistency(first, second, CT_ROOTS[first], CT_ROOTS[second], consistency)


# The SDK against the naive tree, every size up to 64


def test_every_inclusion_proof_of_every_tree_up_to_64_leaves_verifies():
    for n in range(1, SIZES_MAX + 1):
        tree_root = root(n)
        for m in range(n):
            audit_path = hexes(path(m, LEAVES[:n]))
            assert root_from_inclusion(m, n, leaf_hash(LEAVES[m]), audit_path) == tree_root, (m, n)
            assert verify_inclusion(m, n, leaf_hash(LEAVES[m]), audit_path, tree_root), (m, n)


def test_a_changed_leaf_another_index_or_a_changed_path_is_refused_for_every_tree_up_to_64_leaves():
    for n in range(1, SIZES_MAX + 1):
        tree_root = root(n)
        for m in range(n):
            leaf, audit_path = leaf_hash(LEAVES[m]), hexes(path(m, LEAVES[:n]))
            refused = [
                (leaf_hash(LEAVES[m] + b"!"), m, audit_path),
                *((leaf, other, audit_path) for other in range(n) if other != m),
                (leaf, m, [*audit_path, OTHER_HASH]),
                (leaf, m, [OTHER_HASH, *audit_path]),
                *((leaf, m, audit_path[:cut]) for cut in range(len(audit_path))),
                *((leaf, m, [*audit_path[:at], OTHER_HASH, *audit_path[at + 1 :]]) for at in range(len(audit_path))),
            ]
            for bad_leaf, index, bad_path in refused:
                assert not verify_inclusion(index, n, bad_leaf, bad_path, tree_root), (m, n, index, bad_path)


def test_a_proof_for_one_tree_size_does_not_verify_against_another_sizes_head():
    for n in range(1, SIZES_MAX + 1):
        for m in range(n):
            audit_path = hexes(path(m, LEAVES[:n]))
            for other in (n - 1, n + 1):
                if m < other <= SIZES_MAX:
                    assert not verify_inclusion(m, other, leaf_hash(LEAVES[m]), audit_path, root(other)), (m, n)
            assert not verify_inclusion(m, n, leaf_hash(LEAVES[m]), audit_path, root(n, changed(LEAVES, n - 1 - m)))


def test_every_consistency_proof_between_trees_up_to_64_leaves_verifies():
    for n in range(SIZES_MAX + 1):
        for m in range(n + 1):
            consistency = hexes(proof(m, LEAVES[:n])) if 0 < m < n else []
            assert verify_consistency(m, n, root(m), root(n), consistency), (m, n)


def test_a_rewritten_history_or_a_changed_consistency_proof_is_refused_for_every_pair_up_to_64():
    for n in range(2, SIZES_MAX + 1):
        for m in range(1, n):
            consistency = hexes(proof(m, LEAVES[:n]))
            forked = root(n, changed(LEAVES, m - 1))
            refused = [
                (m, n, root(m), forked, consistency),
                (m, n, root(m, changed(LEAVES, 0)), root(n), consistency),
                (m, n, root(n), root(n), consistency),
                (m, n, root(m), root(n), [*consistency, OTHER_HASH]),
                (m, n, root(m), root(n), [OTHER_HASH, *consistency]),
                *((m, n, root(m), root(n), consistency[:cut]) for cut in range(len(consistency))),
                *(
                    (m, n, root(m), root(n), [*consistency[:at], OTHER_HASH, *consistency[at + 1 :]])
                    for at in range(len(consistency))
                ),
                *((other, n, root(other), root(n), consistency) for other in (m - 1, m + 1) if other >= 1),
                *((m, other, root(m), root(other), consistency) for other in (n - 1, n + 1) if m < other <= SIZES_MAX),
            ]
            for first, second, first_root, second_root, bad in refused:
                assert not verify_consistency(first, second, first_root, second_root, bad), (m, n, first, second, bad)


def test_the_empty_and_the_equal_size_proofs_are_the_empty_list_and_nothing_else():
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, root(5), [])
    assert verify_consistency(5, 5, root(5), root(5), [])

    assert not verify_consistency(0, 5, root(1), root(5), [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, root(1), [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root(5), [root(5)])
    assert not verify_consistency(5, 5, root(5), root(5), [root(5)])
    assert not verify_consistency(5, 5, root(5), root(5, changed(LEAVES, 2)), [])
    assert not verify_consistency(6, 5, root(6), root(5), [])


# Malformed input: the verifiers answer False, the computing functions raise ProofError


MALFORMED_HASHES = [
    EMPTY_ROOT.upper(),
    EMPTY_ROOT[:-1],
    EMPTY_ROOT + "0",
    f" {EMPTY_ROOT[1:]}",
    "",
    None,
    7,
    b"\x00" * 32,
]


@pytest.mark.parametrize("bad", MALFORMED_HASHES)
def test_a_malformed_hash_is_no_proof_and_raises_nothing(bad):
    audit_path = hexes(path(1, LEAVES[:4]))
    consistency = hexes(proof(2, LEAVES[:4]))

    assert not verify_inclusion(1, 4, bad, audit_path, root(4))
    assert not verify_inclusion(1, 4, leaf_hash(LEAVES[1]), audit_path, bad)
    assert not verify_inclusion(1, 4, leaf_hash(LEAVES[1]), [audit_path[0], bad, *audit_path[2:]], root(4))
    assert not verify_consistency(2, 4, bad, root(4), consistency)
    assert not verify_consistency(2, 4, root(2), bad, consistency)
    assert not verify_consistency(2, 4, root(2), root(4), [bad])
    assert not verify_consistency(0, 0, bad, bad, [])
    with pytest.raises(ProofError):
        node_hash(EMPTY_ROOT, bad)
    with pytest.raises(ProofError):
        root_from_inclusion(1, 4, bad, audit_path)


@pytest.mark.parametrize(
    ("leaf_index", "tree_size"), [(-1, 4), (4, 4), (0, 0), (0, -1), (True, 4), (1, 4.0), ("1", 4), (None, 4)]
)
def test_an_index_outside_the_tree_or_not_an_integer_is_no_proof(leaf_index, tree_size):
    audit_path = hexes(path(1, LEAVES[:4]))

    assert not verify_inclusion(leaf_index, tree_size, leaf_hash(LEAVES[1]), audit_path, root(4))
    with pytest.raises(ProofError):
        root_from_inclusion(leaf_index, tree_size, leaf_hash(LEAVES[1]), audit_path)


def test_a_string_or_a_non_list_is_no_proof():
    one_hash_path = hexes(path(0, LEAVES[:2]))

    assert verify_inclusion(0, 2, leaf_hash(LEAVES[0]), one_hash_path, root(2))
    assert not verify_inclusion(0, 2, leaf_hash(LEAVES[0]), one_hash_path[0], root(2))
    assert not verify_inclusion(0, 2, leaf_hash(LEAVES[0]), None, root(2))
    assert not verify_consistency(1, 2, root(1), root(2), one_hash_path[0])
    assert not verify_consistency(-1, 2, root(1), root(2), one_hash_path)
    assert not verify_consistency(1, True, root(1), root(2), one_hash_path)


def test_the_proof_error_says_what_does_not_fit():
    audit_path = hexes(path(3, LEAVES[:8]))

    with pytest.raises(ProofError, match="too few"):
        root_from_inclusion(3, 8, leaf_hash(LEAVES[3]), audit_path[:-1])
    with pytest.raises(ProofError, match="more than"):
        root_from_inclusion(3, 8, leaf_hash(LEAVES[3]), [*audit_path, OTHER_HASH])
    with pytest.raises(ProofError, match="not in a tree of size 8"):
        root_from_inclusion(8, 8, leaf_hash(LEAVES[3]), audit_path)
    assert issubclass(ProofError, ValueError)


# Canonical entries


def canonical_b64(entry: dict[str, object]) -> str:
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return base64.b64encode(text.encode("ascii")).decode("ascii")


ENTRY = {
    "v": 1,
    "id": 41,
    "kind": "order.earn",
    "key": "o-1",
    "reverses": None,
    "ref": "order:o-1",
    "memo": "Café",
    "at": "2026-03-01T10:00:00.000000Z",
    "postings": [["member:2:points", "PTS", 100], ["merchant:1:points", "PTS", -100]],
}


def test_decode_canonical_gives_the_entry_back():
    assert decode_canonical(canonical_b64(ENTRY)) == ENTRY


@pytest.mark.parametrize(
    "bad",
    [
        base64.b64encode(json.dumps(ENTRY).encode()).decode(),  # spaces after separators
        base64.b64encode(
            json.dumps(ENTRY, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).decode(),
        base64.b64encode(b"[1,2]").decode(),
        base64.b64encode(b"{nope").decode(),
        canonical_b64(ENTRY)[:-2],  # padding cut
        "not base64 at all!",
        "",
    ],
)
def test_decode_canonical_refuses_anything_but_canonical_json_in_standard_base64(bad):
    with pytest.raises(ProofError):
        decode_canonical(bad)


# Signed tree heads


def head(tree_size: int = 8, timestamp: int = 1_767_225_600_000, root_hash: str = CT_ROOTS[8], signature: str = ""):
    data = {"tree_size": tree_size, "root_hash": root_hash, "timestamp": timestamp, "key_id": "k1"}
    return TreeHead.from_json({**data, "signature": signature})


@pytest.fixture
def ed25519():
    return pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")


@pytest.fixture
def signing_key(ed25519):
    return ed25519.Ed25519PrivateKey.generate()


def public_b64(private_key) -> str:
    raw = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    return base64.b64encode(private_key.public_key().public_bytes(raw.Encoding.Raw, raw.PublicFormat.Raw)).decode()


def signed(private_key, tree_size: int = 8, timestamp: int = 1_767_225_600_000, root_hash: str = CT_ROOTS[8]):
    signature = private_key.sign(f"v1:{tree_size}:{timestamp}:{root_hash}".encode("ascii"))
    return head(tree_size, timestamp, root_hash, base64.b64encode(signature).decode())


def test_signed_bytes_are_the_contracts():
    assert signed_bytes(8, 1_767_225_600_000, CT_ROOTS[8]) == f"v1:8:1767225600000:{CT_ROOTS[8]}".encode()
    for bad in [(-1, 0, EMPTY_ROOT), (0, -1, EMPTY_ROOT), (True, 0, EMPTY_ROOT), (0, 0, EMPTY_ROOT.upper())]:
        with pytest.raises(ProofError):
            signed_bytes(*bad)


def test_a_head_signed_by_the_key_verifies(signing_key):
    assert verify_tree_head(signed(signing_key), public_b64(signing_key))
    assert verify_tree_head(signed(signing_key, 0, 5, EMPTY_ROOT), public_b64(signing_key))


def test_a_head_signed_by_another_key_does_not(signing_key, ed25519):
    other = ed25519.Ed25519PrivateKey.generate()

    assert not verify_tree_head(signed(signing_key), public_b64(other))


@pytest.mark.parametrize(
    "altered", [{"tree_size": 9}, {"timestamp": 1_767_225_600_001}, {"root_hash": CT_ROOTS[7]}, {"key_id": "k2"}]
)
def test_a_head_whose_size_timestamp_or_root_changed_after_signing_does_not_verify(signing_key, altered):
    good = signed(signing_key)
    tampered = TreeHead.from_json({**good.raw, **altered})

    assert verify_tree_head(tampered, public_b64(signing_key)) is (altered.keys() == {"key_id"})


def test_a_malformed_signature_or_key_is_not_a_signature(signing_key):
    good = signed(signing_key)
    key = public_b64(signing_key)
    bad_signatures = ["", "!!!!", good.signature[:-4], good.signature + "AAAA", base64.b64encode(b"\x00" * 64).decode()]
    bad_keys = [
        "",
        "not base64",
        key[:-4],
        base64.b64encode(b"\x00" * 31).decode(),
        base64.b64encode(b"\x01" * 32).decode(),
    ]

    for signature in bad_signatures:
        assert not verify_tree_head(TreeHead.from_json({**good.raw, "signature": signature}), key), signature
    for bad_key in bad_keys:
        assert not verify_tree_head(good, bad_key), bad_key
    assert not verify_tree_head(TreeHead.from_json({**good.raw, "root_hash": "ZZ"}), key)


def test_without_cryptography_verify_tree_head_names_the_extra_to_install(monkeypatch):
    for name in ("cryptography", "cryptography.exceptions", "cryptography.hazmat.primitives.asymmetric.ed25519"):
        monkeypatch.setitem(sys.modules, name, None)

    with pytest.raises(ImportError, match=r"pip install partner-sdk\[verify\]"):
        verify_tree_head(head(), base64.b64encode(b"\x00" * 32).decode())


def test_the_sdk_and_its_audit_import_without_cryptography():
    script = (
        "import sys\n"
        "sys.modules['cryptography'] = None\n"
        "import partner_sdk, partner_sdk.audit, partner_sdk.transparency\n"
        "assert partner_sdk.verify_inclusion(0, 1, partner_sdk.leaf_hash(b''), [], partner_sdk.leaf_hash(b''))\n"
    )
    checked = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert checked.returncode == 0, checked.stderr
