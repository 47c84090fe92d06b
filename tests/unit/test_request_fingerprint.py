"""The one request fingerprint: what counts as the same request for an idempotency key."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import ledger

INSTANT = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)


def test_key_order_does_not_matter():
    assert ledger.request_fingerprint({"a": 1, "b": [1, 2]}) == ledger.request_fingerprint({"b": [1, 2], "a": 1})


def test_an_instant_written_with_another_offset_is_the_same_request():
    paris = INSTANT.astimezone(timezone(timedelta(hours=1)))
    assert ledger.request_fingerprint({"at": paris}) == ledger.request_fingerprint({"at": INSTANT})


def test_another_instant_is_another_request():
    later = INSTANT + timedelta(microseconds=1)
    assert ledger.request_fingerprint({"at": later}) != ledger.request_fingerprint({"at": INSTANT})


def test_a_utc_instant_hashes_as_before_so_stored_keys_still_replay():
    before = hashlib.sha256(json.dumps({"at": INSTANT}, separators=(",", ":"), default=str).encode()).hexdigest()
    assert ledger.request_fingerprint({"at": INSTANT}) == before


def test_an_instant_outside_utcs_range_is_still_fingerprinted():
    edge = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert ledger.request_fingerprint({"at": edge}) != ledger.request_fingerprint({"at": INSTANT})
