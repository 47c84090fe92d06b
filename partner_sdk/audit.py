"""Audit the ledger's transparency log from outside: ``python -m partner_sdk.audit --base-url URL --state FILE``.

Each run proves, without trusting the platform, that the books it shows you are
the books it showed you last time, plus new entries:

1. the log's public keys: a key recorded in the state file must still be
   published with the same bytes (trust on first use; new keys are recorded);
2. the newest tree head is signed by the key its `key_id` names;
3. it extends the head recorded by the previous run: same size and same root,
   or a larger size and a valid consistency proof (a rewritten past fails here);
4. each of your entries logged since the last one checked, below the new head's
   size, hashes to its leaf and is included in the new head's tree.

The state file (JSON) is written, atomically, only when everything verified. The
API key comes from ``--api-key`` or the ``LOYALTY_API_KEY`` environment variable
(any key: merchant, affiliate or operator). One line per finding, then a
summary; exit status 0 when all is consistent, 1 on any mismatch, 2 on a usage
or connection error (nothing was proved either way). Needs the ``verify`` extra:
``pip install partner-sdk[verify]``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import datetime as dt
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from partner_sdk._client import Client
from partner_sdk.answers import EntryProof, LedgerEntry, LogEntry, PublicKey, TreeHead
from partner_sdk.errors import LoyaltyError, NotFound, ProofError, UnexpectedAnswer
from partner_sdk.transparency import (
    VERIFY_EXTRA,
    decode_canonical,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)

__all__ = ["AuditState", "Findings", "audit", "load_state", "main", "save_state"]

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2
API_KEY_ENV = "LOYALTY_API_KEY"
STATE_VERSION = 1
CANONICAL_VERSION = 1
# The most entries the platform sends in one page: fewer round trips for a long backlog.
ENTRIES_PAGE_SIZE = 500
TIMEOUT_S_DEFAULT = 10.0
HASH_SHOWN_CHARS = 16


class StateError(ValueError):
    """The state file cannot be read: not JSON, not this audit's, or of another version."""


@dataclass
class AuditState:
    """What one run hands the next: the head it verified, the last leaf it checked, the keys it trusts."""

    head: TreeHead | None = None
    last_leaf_index: int | None = None
    keys: dict[str, str] = field(default_factory=dict)


@dataclass
class Findings:
    """The lines an audit prints, one per finding; any mismatch fails the audit."""

    out: TextIO
    mismatches: int = 0

    def mismatch(self, text: str) -> None:
        """A proof that failed: the log is not what it was, or not what it claims."""
        self.mismatches += 1
        print(f"MISMATCH {text}", file=self.out)

    def note(self, text: str) -> None:
        """Something worth knowing that proves nothing wrong (a key trusted on first use)."""
        print(f"note: {text}", file=self.out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one audit; 0 when the log is consistent, 1 on any mismatch, 2 on a usage or connection error."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # argparse's own --help (0) or usage error (2)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    api_key = args.api_key or os.environ.get(API_KEY_ENV, "")
    if not api_key:
        return _usage(f"no API key: pass --api-key or set {API_KEY_ENV}")
    if importlib.util.find_spec("cryptography") is None:
        return _usage(f"checking signatures needs the cryptography package: {VERIFY_EXTRA}")
    state_path, findings = Path(args.state), Findings(sys.stdout)
    try:
        state = load_state(state_path)
        with Client(args.base_url, api_key, timeout_s=args.timeout) as client:
            new_state, verified = audit(client, state, findings, recheck=args.all)
    except (ValueError, ImportError) as unusable:  # a damaged state file, a wrong base URL, no cryptography
        return _usage(str(unusable))
    except LoyaltyError as failed:
        return _usage(f"the audit could not be completed: {failed}")
    summary = f"audit: tree_size={_size(new_state.head)}, {verified} new entries verified"
    if findings.mismatches:
        print(f"{summary}, {findings.mismatches} mismatches: state file left unchanged")
        return EXIT_MISMATCH
    try:
        save_state(state_path, new_state)
    except OSError as unwritable:
        return _usage(f"cannot write the state file: {unwritable}")
    print(summary)
    return EXIT_OK


def audit(client: Client, state: AuditState, findings: Findings, *, recheck: bool = False) -> tuple[AuditState, int]:
    """One audit against `state`: the state to keep if `findings` has no mismatch, and the entries verified.

    With `recheck`, every entry of the caller is proven again, not only those
    after the last one checked: an old entry changed in place is caught too.
    """
    # The head first: a key published between the two calls is then seen, not reported as unknown.
    head = client.tree_head()
    keys = check_keys(client.public_keys(), state.keys, findings)
    check_signature(head, keys, findings)
    if state.head is not None:
        check_extends(client, state.head, head, findings)
    verified, last = check_entries(client, head, None if recheck else state.last_leaf_index, findings)
    if last is None:  # nothing listed: keep where the last run got to
        last = state.last_leaf_index
    return AuditState(head, last, keys), verified


def check_keys(published: list[PublicKey], recorded: dict[str, str], findings: Findings) -> dict[str, str]:
    """The keys to trust: the recorded ones, which must still be published with the same bytes, and new ones."""
    now: dict[str, str] = {}
    for key in published:
        if key.key_id in now and _decoded(now[key.key_id]) != _decoded(key.public_key):
            findings.mismatch(f"key {key.key_id}: published twice with different bytes")
        now.setdefault(key.key_id, key.public_key)
    for key_id, b64 in recorded.items():
        if key_id not in now:
            findings.mismatch(f"key {key_id}: no longer published (trusted since its first use)")
        elif _decoded(now[key_id]) != _decoded(b64):
            findings.mismatch(f"key {key_id}: published with other bytes than those trusted since its first use")
    for key_id in sorted(now.keys() - recorded.keys()):
        findings.note(f"key {key_id}: trusted from now on (first use)")
    return {**now, **recorded}


def check_signature(head: TreeHead, keys: dict[str, str], findings: Findings) -> None:
    """The head must be signed by the trusted key its `key_id` names."""
    if head.key_id not in keys:
        findings.mismatch(f"{_shown(head)}: signed by key {head.key_id}, which the log does not publish")
    elif not verify_tree_head(head, keys[head.key_id]):
        findings.mismatch(f"{_shown(head)}: bad signature (key {head.key_id})")


def check_extends(client: Client, old: TreeHead, new: TreeHead, findings: Findings) -> None:
    """The new head must extend the recorded one: same size and root, or a consistency proof from it."""
    if new.tree_size < old.tree_size:
        findings.mismatch(f"inconsistent {_shown(new)}: smaller than the recorded {_shown(old)}")
    elif new.tree_size == old.tree_size:
        if new.root_hash != old.root_hash:
            findings.mismatch(f"inconsistent {_shown(new)}: another root than the recorded {_shown(old)}")
    else:
        proof = client.consistency_proof(old.tree_size, new.tree_size)
        if not verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof.proof):
            findings.mismatch(f"inconsistent {_shown(new)}: does not extend the recorded {_shown(old)}")


def check_entries(client: Client, head: TreeHead, after: int | None, findings: Findings) -> tuple[int, int | None]:
    """Check the caller's entries after leaf `after` below the head's size; (entries verified, last leaf checked)."""
    verified, last = 0, after
    for entry in client.iter_log_entries(after=after, page_size=ENTRIES_PAGE_SIZE):
        if last is not None and entry.leaf_index <= last:
            findings.mismatch(f"{_where(entry)}: listed after leaf {last}, out of order")
            break
        if entry.leaf_index >= head.tree_size:
            break
        if check_entry(client, head, entry, findings):
            verified += 1
        last = entry.leaf_index
    return verified, last


def check_entry(client: Client, head: TreeHead, entry: LogEntry, findings: Findings) -> bool:
    """One entry: its canonical bytes hash to its leaf, match the entry shown, and are in the head's tree."""
    where = _where(entry)
    try:
        logged = decode_canonical(entry.canonical)
    except ProofError as unreadable:
        findings.mismatch(f"{where}: {unreadable}")
        return False
    canonical = base64.b64decode(entry.canonical)  # standard base64: decode_canonical has checked it
    ok = True
    if leaf_hash(canonical) != entry.leaf_hash:
        findings.mismatch(f"{where}: tampered leaf, its canonical bytes do not hash to its leaf_hash")
        ok = False
    if not shows(entry.entry, logged):
        findings.mismatch(f"{where}: the entry shown is not the entry its canonical bytes log")
        ok = False
    proof = _entry_proof(client, head, entry, findings)
    if proof is None:
        return False
    asked = (entry.leaf_index, head.tree_size, entry.leaf_hash, entry.canonical)
    if (proof.leaf_index, proof.tree_size, proof.leaf_hash, proof.canonical) != asked:
        findings.mismatch(
            f"{where}: the proof is of another leaf (leaf {proof.leaf_index}, tree_size {proof.tree_size})"
        )
        return False
    if not verify_inclusion(entry.leaf_index, head.tree_size, leaf_hash(canonical), proof.proof, head.root_hash):
        findings.mismatch(f"{where}: not included in {_shown(head)}")
        return False
    return ok


def shows(entry: LedgerEntry, logged: dict[str, Any]) -> bool:
    """Whether the entry object the platform shows is the one its canonical bytes log (version 1)."""
    reverses, at = logged.get("reverses"), _instant(logged.get("at"))
    shown = sorted((posting.account, posting.asset, posting.amount) for posting in entry.postings)
    return (
        logged.get("v") == CANONICAL_VERSION
        and _is_int(logged.get("id"))
        and str(logged["id"]) == entry.id
        and (logged.get("kind"), logged.get("ref"), logged.get("memo")) == (entry.kind, entry.ref, entry.memo)
        and (None if reverses is None else str(reverses)) == entry.reverses_entry_id
        and _postings(logged.get("postings")) == shown
        and at is not None
        and at == _instant(entry.created_at)
    )


def load_state(path: Path) -> AuditState:
    """The state a previous run saved at `path`; an empty one when there is no file yet (the first run)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return AuditState()
    except OSError as unreadable:
        raise StateError(f"cannot read the state file {path}: {unreadable}") from unreadable
    try:
        data = json.loads(text)
    except ValueError as bad:
        raise StateError(f"the state file {path} is not JSON: {bad}") from bad
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise StateError(f"the state file {path} is not one of this audit's (version {STATE_VERSION})")
    try:
        head = None if data["tree_head"] is None else TreeHead.from_json(data["tree_head"])
        last, keys = data["last_leaf_index"], data["public_keys"]
    except (KeyError, UnexpectedAnswer) as bad:
        raise StateError(f"the state file {path} is damaged: {bad}") from bad
    if not (last is None or _is_int(last)) or not _is_key_map(keys):
        raise StateError(f"the state file {path} is damaged: last_leaf_index or public_keys")
    return AuditState(head, last, keys)


def save_state(path: Path, state: AuditState) -> None:
    """Write `state` to `path` atomically: a temporary file beside it, then ``os.replace``."""
    head = state.head
    data = {
        "version": STATE_VERSION,
        "tree_head": None if head is None else _head_json(head),
        "last_leaf_index": state.last_leaf_index,
        "public_keys": state.keys,
    }
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _entry_proof(client: Client, head: TreeHead, entry: LogEntry, findings: Findings) -> EntryProof | None:
    # The log listed this entry below the head's size: refusing to prove it is a failed inclusion.
    try:
        return client.entry_proof(entry.entry.id, tree_size=head.tree_size)
    except NotFound:
        findings.mismatch(f"{_where(entry)}: the log has no inclusion proof for it in {_shown(head)}")
        return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m partner_sdk.audit",
        description="Check the ledger's signed transparency log: keys, heads, consistency, your entries.",
    )
    parser.add_argument("--base-url", required=True, help="the platform's URL, e.g. https://loyalty.example")
    parser.add_argument("--state", required=True, help="the JSON file one run leaves for the next")
    parser.add_argument("--api-key", help=f"your API key (default: the {API_KEY_ENV} environment variable)")
    parser.add_argument("--all", action="store_true", help="prove every entry of yours again, not only the new ones")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S_DEFAULT, help="seconds per request try")
    return parser


def _usage(text: str) -> int:
    print(f"audit: {text}", file=sys.stderr)
    return EXIT_USAGE


def _head_json(head: TreeHead) -> dict[str, Any]:
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "timestamp": head.timestamp,
        "key_id": head.key_id,
        "signature": head.signature,
    }


def _shown(head: TreeHead) -> str:
    return f"tree head tree_size={head.tree_size} root={head.root_hash[:HASH_SHOWN_CHARS]}"


def _where(entry: LogEntry) -> str:
    return f"entry {entry.entry.id} (leaf {entry.leaf_index})"


def _size(head: TreeHead | None) -> int:
    return 0 if head is None else head.tree_size


def _decoded(b64: str) -> bytes | None:
    try:
        return base64.b64decode(b64.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return None


def _instant(text: object) -> dt.datetime | None:
    # Both times are UTC; an ISO string without an offset is read as UTC too.
    if not isinstance(text, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _postings(value: object) -> list[tuple[str, str, int]] | None:
    # The logged postings as a sorted multiset, so the order they were written in does not matter.
    if not isinstance(value, list):
        return None
    lines = []
    for line in value:
        if not (isinstance(line, list) and len(line) == 3) or not _is_int(line[2]):
            return None
        if not (isinstance(line[0], str) and isinstance(line[1], str)):
            return None
        lines.append((line[0], line[1], line[2]))
    return sorted(lines)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_key_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


if __name__ == "__main__":
    raise SystemExit(main())
