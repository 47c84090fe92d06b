"""``python -m partner_sdk.audit`` against a log served on loopback, built with the naive RFC 9162 tree.

The little server speaks the contract's routes from a synthetic journal: the
entries' canonical bytes are the leaves, the heads are signed with a key made
here. Each test then lies in one way (a rewritten past, a tampered leaf, a
swapped key) and the audit must say so, and keep its state file as it was.
"""

from __future__ import annotations

import base64
import json
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import partner_sdk.audit
from partner_sdk import EMPTY_ROOT, ConsistencyProof, EntryProof, LogEntry, NotFound, PublicKey, TreeHead
from partner_sdk._client import Client
from partner_sdk.audit import main
from tests.rfc9162 import mth, path, proof

ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")

API_KEY = "test-merchant-key-audit"
MERCHANT_ACCOUNT = "merchant:1:points"
START_MS = 1_767_225_600_000
ENTRIES_LIMIT_DEFAULT = 100
ENTRIES_LIMIT_MAX = 500


def public_b64(private_key: Any) -> str:
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class SyntheticLog:
    """The platform's side of the contract: a journal, its naive tree, signed heads and published keys."""

    def __init__(self) -> None:
        self.logged: list[dict[str, Any]] = []  # the canonical objects, by leaf index
        self.mine: list[bool] = []  # whether the caller is party to the entry at that leaf
        self.heads: list[dict[str, Any]] = []
        self.signer = ("k1", ed25519.Ed25519PrivateKey.generate())
        self.published = {"k1": public_b64(self.signer[1])}
        self.served_canonical: dict[int, bytes] = {}  # a lie about one leaf's canonical bytes
        self.served_entry: dict[int, dict[str, Any]] = {}  # a lie about one entry object

    def append(self, count: int, *, mine: bool = True) -> None:
        for _ in range(count):
            number = len(self.logged) + 1
            self.logged.append(
                {
                    "v": 1,
                    "id": number,
                    "kind": "order.earn",
                    "key": f"o-{number}",
                    "reverses": None,
                    "ref": f"order:o-{number}",
                    "memo": "Caf\u00e9",
                    "at": f"2026-03-01T10:00:{number % 60:02d}.000001Z",
                    "postings": sorted(
                        [[f"member:{number}:points", "PTS", 10 * number], [MERCHANT_ACCOUNT, "PTS", -10 * number]]
                    ),
                }
            )
            self.mine.append(mine)

    def leaves(self) -> list[bytes]:
        return [canonical(entry) for entry in self.logged]

    def sign(self, *, timestamp: int | None = None) -> dict[str, Any]:
        size = len(self.logged)
        root = mth(self.leaves()).hex()
        stamp = START_MS + len(self.heads) if timestamp is None else timestamp
        key_id, key = self.signer
        signature = base64.b64encode(key.sign(f"v1:{size}:{stamp}:{root}".encode("ascii"))).decode()
        head = {"tree_size": size, "root_hash": root, "timestamp": stamp, "key_id": key_id, "signature": signature}
        self.heads.append(head)
        return head

    def rewrite(self, leaf_index: int) -> None:
        """Change an entry already logged (a forked history): the tree is rebuilt from the changed leaves."""
        self.logged[leaf_index] = {**self.logged[leaf_index], "memo": "rewritten after the fact"}

    # The contract's routes

    def route(self, route: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if route == "/v1/ledger/tree-head":
            return 200, self.heads[-1]
        if route == "/v1/ledger/tree-heads":
            return self.tree_heads(query)
        if route == "/v1/ledger/public-keys":
            keys = [{"key_id": key_id, "public_key": b64, "retired_at": None} for key_id, b64 in self.published.items()]
            return 200, {"data": keys}
        if route == "/v1/ledger/consistency":
            return self.consistency(int(query["first"]), int(query["second"]))
        if route == "/v1/ledger/entries":
            return self.entries(query)
        if route.startswith("/v1/ledger/entries/") and route.endswith("/proof"):
            return self.entry_proof(int(route.split("/")[4]), query)
        return problem(404, "no such route")

    def tree_heads(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        newest_first = self.heads[::-1]
        start, limit = int(query.get("cursor", 0)), int(query.get("limit", ENTRIES_LIMIT_DEFAULT))
        more = start + limit < len(newest_first)
        return 200, {"data": newest_first[start : start + limit], "next_cursor": str(start + limit) if more else None}

    def consistency(self, first: int, second: int) -> tuple[int, dict[str, Any]]:
        if not 0 <= first <= second <= self.heads[-1]["tree_size"]:
            return problem(422, "0 <= first <= second <= tree size")
        hashes = proof(first, self.leaves()[:second]) if 0 < first < second else []
        return 200, {"first": first, "second": second, "proof": [value.hex() for value in hashes]}

    def entries(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        after, limit = int(query.get("after", -1)), int(query.get("limit", ENTRIES_LIMIT_DEFAULT))
        assert 1 <= limit <= ENTRIES_LIMIT_MAX
        indexes = [index for index, mine in enumerate(self.mine) if mine and index > after]
        page = indexes[:limit]
        rows = [{"leaf_index": index, **self.leaf(index)} for index in page]
        return 200, {"data": rows, "next_cursor": str(page[-1]) if len(indexes) > limit else None}

    def entry_proof(self, entry_id: int, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        index, size = entry_id - 1, int(query.get("tree_size", self.heads[-1]["tree_size"]))
        if not (0 <= index < size <= len(self.logged)) or not self.mine[index]:
            return problem(404, "no such entry of yours in a tree of that size")
        audit_path = [value.hex() for value in path(index, self.leaves()[:size])]
        return 200, {"leaf_index": index, "tree_size": size, **self.leaf(index), "proof": audit_path}

    def leaf(self, index: int) -> dict[str, Any]:
        logged = self.logged[index]
        served = self.served_canonical.get(index, canonical(logged))
        entry = {
            "id": str(logged["id"]),
            "kind": logged["kind"],
            "ref": logged["ref"],
            "memo": logged["memo"],
            "created_at": logged["at"].replace("Z", "+00:00"),
            "reverses_entry_id": None,
            "postings": [
                {"account": account, "asset": asset, "amount": amount} for account, asset, amount in logged["postings"]
            ],
        }
        return {
            "leaf_hash": mth([canonical(logged)]).hex(),
            "canonical": base64.b64encode(served).decode("ascii"),
            "entry": self.served_entry.get(index, entry),
        }


def problem(status: int, detail: str) -> tuple[int, dict[str, Any]]:
    return status, {"type": "about:blank", "title": "Error", "status": status, "detail": detail}


class LogHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, each answer waits out a delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            status, body = problem(401, "bad key")
        else:
            status, body = self.server.log.route(url.path, dict(urllib.parse.parse_qsl(url.query)))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status < 400 else "application/problem+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def log():
    return SyntheticLog()


@pytest.fixture
def base_url(log):
    server = ThreadingHTTPServer(("127.0.0.1", 0), LogHandler)
    server.daemon_threads = True
    server.log = log
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def audit(base_url, tmp_path, capsys):
    state = tmp_path / "audit-state.json"

    def run(*extra: str, url: str = base_url) -> tuple[int, str]:
        code = main(["--base-url", url, "--state", str(state), "--api-key", API_KEY, "--timeout", "2", *extra])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    run.state = state
    return run


def saved(audit) -> dict[str, Any]:
    return json.loads(audit.state.read_text())


# Runs that pass


def test_the_first_run_trusts_the_keys_verifies_every_entry_and_writes_the_state(log, audit):
    log.append(3)
    log.append(2, mine=False)
    log.append(1)
    head = log.sign()

    code, out = audit()

    assert code == 0, out
    assert "note: key k1: trusted from now on (first use)" in out
    assert out.splitlines()[-1] == "audit: tree_size=6, 4 new entries verified"
    assert saved(audit) == {
        "version": 1,
        "tree_head": head,
        "last_leaf_index": 5,
        "public_keys": {"k1": log.published["k1"]},
    }


def test_a_second_run_checks_only_the_new_entries_against_a_consistent_head(log, audit):
    log.append(5)
    log.sign()
    assert audit()[0] == 0
    log.append(2, mine=False)
    log.append(4)
    head = log.sign()

    code, out = audit()

    assert code == 0, out
    assert "note:" not in out
    assert out.splitlines() == ["audit: tree_size=11, 4 new entries verified"]
    assert saved(audit)["tree_head"] == head
    assert saved(audit)["last_leaf_index"] == 10


def test_an_unchanged_log_passes_again_with_nothing_new(log, audit):
    log.append(4)
    log.sign()
    assert audit()[0] == 0

    code, out = audit()

    assert (code, out.splitlines()) == (0, ["audit: tree_size=4, 0 new entries verified"])


def test_an_empty_log_passes_and_its_growth_is_consistent(log, audit):
    log.sign()
    code, out = audit()
    assert (code, saved(audit)["tree_head"]["root_hash"]) == (0, EMPTY_ROOT), out

    log.append(3)
    log.sign()

    assert audit()[0] == 0
    assert saved(audit)["last_leaf_index"] == 2


def test_entries_logged_after_the_head_wait_for_the_next_head(log, audit):
    log.append(3)
    log.sign()
    log.append(2)  # logged, not yet under a signed head

    code, out = audit()
    assert (code, out.splitlines()[-1]) == (0, "audit: tree_size=3, 3 new entries verified")
    assert saved(audit)["last_leaf_index"] == 2

    log.sign()
    code, out = audit()
    assert (code, out.splitlines()[-1]) == (0, "audit: tree_size=5, 2 new entries verified")


def test_the_entries_are_read_page_after_page(log, audit, monkeypatch):
    monkeypatch.setattr(partner_sdk.audit, "ENTRIES_PAGE_SIZE", 2)
    log.append(4)
    log.append(1, mine=False)
    log.append(2)
    log.sign()

    code, out = audit()

    assert (code, out.splitlines()[-1]) == (0, "audit: tree_size=7, 6 new entries verified")
    assert saved(audit)["last_leaf_index"] == 6


def test_a_new_key_is_trusted_on_first_use_and_recorded(log, audit):
    log.append(2)
    log.sign()
    assert audit()[0] == 0
    log.signer = ("k2", ed25519.Ed25519PrivateKey.generate())
    log.published["k2"] = public_b64(log.signer[1])
    log.append(1)
    log.sign()

    code, out = audit()

    assert code == 0, out
    assert "note: key k2: trusted from now on (first use)" in out
    assert saved(audit)["public_keys"] == log.published


def test_the_api_key_may_come_from_the_environment(log, base_url, tmp_path, monkeypatch, capsys):
    log.append(1)
    log.sign()
    monkeypatch.setenv("LOYALTY_API_KEY", API_KEY)

    code = main(["--base-url", base_url, "--state", str(tmp_path / "state.json")])

    assert code == 0, capsys.readouterr()


# Lies the audit catches: exit 1, the state file as it was


def assert_refused(audit, before: str | None) -> None:
    assert (audit.state.read_text() if audit.state.exists() else None) == before


def test_a_forked_history_signed_with_the_same_key_is_an_inconsistent_head(log, audit):
    log.append(6)
    log.sign()
    assert audit()[0] == 0
    before = audit.state.read_text()
    log.rewrite(2)  # an entry the audit already checked
    log.append(3)
    forked = log.sign()

    code, out = audit()

    assert code == 1, out
    assert f"MISMATCH inconsistent tree head tree_size=9 root={forked['root_hash'][:16]}" in out
    assert "does not extend the recorded tree head tree_size=6" in out
    assert out.splitlines()[-1] == "audit: tree_size=9, 3 new entries verified, 1 mismatches: state file left unchanged"
    assert_refused(audit, before)


def test_the_same_size_with_another_root_is_an_inconsistent_head(log, audit):
    log.append(4)
    log.sign()
    assert audit()[0] == 0
    before = audit.state.read_text()
    log.rewrite(3)
    log.sign()

    code, out = audit()

    assert code == 1
    assert "MISMATCH inconsistent tree head tree_size=4" in out
    assert "another root than the recorded tree head tree_size=4" in out
    assert_refused(audit, before)


def test_a_head_smaller_than_the_recorded_one_is_an_inconsistent_head(log, audit):
    log.append(4)
    older = log.sign()
    log.append(2)
    log.sign()
    assert audit()[0] == 0
    before = audit.state.read_text()
    log.heads.append(older)  # the log serves an older head as its newest

    code, out = audit()

    assert code == 1
    assert "MISMATCH inconsistent tree head tree_size=4" in out and "smaller than the recorded" in out
    assert_refused(audit, before)


def test_a_tampered_canonical_is_a_leaf_hash_mismatch(log, audit):
    log.append(3)
    log.sign()
    assert audit()[0] == 0
    before = audit.state.read_text()
    log.append(2)
    log.sign()
    log.served_canonical[4] = canonical({**log.logged[4], "postings": [[MERCHANT_ACCOUNT, "PTS", -1]]})

    code, out = audit()

    assert code == 1, out
    assert "MISMATCH entry 5 (leaf 4): tampered leaf, its canonical bytes do not hash to its leaf_hash" in out
    assert "MISMATCH entry 5 (leaf 4): not included in tree head tree_size=5" in out
    assert "1 new entries verified" in out
    assert_refused(audit, before)


def test_an_old_entry_changed_in_place_is_caught_by_a_full_recheck_only(log, audit):
    log.append(3)
    log.sign()
    assert audit()[0] == 0
    log.served_canonical[1] = canonical({**log.logged[1], "postings": [[MERCHANT_ACCOUNT, "PTS", -7]]})

    assert audit()[0] == 0  # the usual run proves only entries it has not seen
    code, out = audit("--all")

    assert code == 1, out
    assert "MISMATCH entry 2 (leaf 1): tampered leaf" in out
    del log.served_canonical[1]
    assert audit("--all")[0] == 0
    assert saved(audit)["last_leaf_index"] == 2


def test_an_entry_shown_otherwise_than_logged_is_a_mismatch(log, audit):
    log.append(2)
    log.sign()
    shown = log.leaf(1)["entry"]
    log.served_entry[1] = {**shown, "postings": [{**shown["postings"][0], "amount": 999}, shown["postings"][1]]}

    code, out = audit()

    assert code == 1, out
    assert "MISMATCH entry 2 (leaf 1): the entry shown is not the entry its canonical bytes log" in out
    assert not audit.state.exists()


def test_a_changed_public_key_is_a_mismatch(log, audit):
    log.append(2)
    log.sign()
    assert audit()[0] == 0
    before = audit.state.read_text()
    log.signer = ("k1", ed25519.Ed25519PrivateKey.generate())
    log.published["k1"] = public_b64(log.signer[1])
    log.append(1)
    log.sign()

    code, out = audit()

    assert code == 1, out
    assert "MISMATCH key k1: published with other bytes than those trusted since its first use" in out
    assert "MISMATCH tree head tree_size=3" in out and "bad signature (key k1)" in out
    assert_refused(audit, before)


def test_a_vanished_public_key_is_a_mismatch(log, audit):
    log.append(1)
    log.sign()
    assert audit()[0] == 0
    log.signer = ("k2", ed25519.Ed25519PrivateKey.generate())
    log.published = {"k2": public_b64(log.signer[1])}
    log.sign()

    code, out = audit()

    assert code == 1, out
    assert "MISMATCH key k1: no longer published (trusted since its first use)" in out


def test_a_head_with_a_bad_signature_or_an_unknown_key_is_a_mismatch(log, audit):
    log.append(2)
    head = log.sign()
    log.heads.append({**head, "timestamp": head["timestamp"] + 1})

    code, out = audit()
    assert code == 1
    assert "MISMATCH tree head tree_size=2" in out and "bad signature (key k1)" in out

    log.heads.append({**head, "key_id": "k9"})
    code, out = audit()
    assert code == 1
    assert "signed by key k9, which the log does not publish" in out
    assert not audit.state.exists()


# Usage and connection errors: exit 2, nothing proved


def test_a_refused_connection_is_exit_2(audit, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    code, out = audit(url=f"http://127.0.0.1:{port}")

    assert code == 2
    assert "audit: the audit could not be completed: 0 Connection failed" in out
    assert not audit.state.exists()


def test_missing_arguments_a_missing_key_or_a_damaged_state_file_are_exit_2(
    log, base_url, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("LOYALTY_API_KEY", raising=False)
    log.sign()
    state = tmp_path / "state.json"

    assert main([]) == 2
    assert main(["--base-url", base_url, "--state", str(state)]) == 2
    assert "no API key: pass --api-key or set LOYALTY_API_KEY" in capsys.readouterr().err
    for damaged in ("not json", "[]", '{"version": 2}', '{"version": 1, "tree_head": {"tree_size": "3"}}'):
        state.write_text(damaged)
        assert main(["--base-url", base_url, "--state", str(state), "--api-key", API_KEY]) == 2, damaged
        assert "audit: the state file" in capsys.readouterr().err
    assert main(["--base-url", base_url, "--state", str(tmp_path / "other"), "--api-key", "wrong"]) == 2


def test_without_cryptography_the_audit_names_the_extra_before_calling_the_platform(audit, monkeypatch):
    monkeypatch.setitem(sys.modules, "cryptography", None)

    code, out = audit(url="http://127.0.0.1:1")

    assert code == 2
    assert "audit: checking signatures needs the cryptography package: pip install partner-sdk[verify]" in out


# The client's calls behind the audit


def test_the_client_reads_every_route_of_the_log_as_typed_answers(log, base_url):
    log.append(4)
    log.append(1, mine=False)
    log.sign()
    log.append(2)
    newest = log.sign()

    with Client(base_url, API_KEY) as client:
        assert client.tree_head() == TreeHead.from_json(newest)
        assert [head.tree_size for head in client.iter_tree_heads(page_size=1)] == [7, 5]
        assert client.list_tree_heads(limit=1).next_cursor == "1"
        assert client.public_keys() == [PublicKey("k1", log.published["k1"], None, raw={})]
        consistency = client.consistency_proof(5, 7)
        assert isinstance(consistency, ConsistencyProof) and (consistency.first, consistency.second) == (5, 7)
        entries = list(client.iter_log_entries(page_size=2))
        assert [entry.leaf_index for entry in entries] == [0, 1, 2, 3, 5, 6]
        assert all(isinstance(entry, LogEntry) for entry in entries)
        assert [entry.leaf_index for entry in client.iter_log_entries(after=3)] == [5, 6]
        assert client.list_log_entries(after="1", limit=1).data[0].entry.postings[0].amount == 30
        proof_now, proof_then = client.entry_proof("6"), client.entry_proof(2, tree_size=5)
        assert isinstance(proof_now, EntryProof) and (proof_now.tree_size, proof_then.tree_size) == (7, 5)
        with pytest.raises(NotFound):
            client.entry_proof(5)
