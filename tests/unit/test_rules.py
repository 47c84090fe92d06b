"""Pure rules: earn rounding, money shares, configuration safety, the chain hash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.config import ConfigError, check_production, load
from app.constants import DEV_ADMIN_KEY, DEV_CLICK_TOKEN_KEY, DEV_LEDGER_SIGNING_KEY, DEV_SECRET_KEY
from app.orders.services import points_for
from ledger.chain import GENESIS_HASH, entry_hash
from ledger.models import Entry, Posting
from ledger.points import share, value_of


@pytest.mark.parametrize(
    ("amount_cents", "points"),
    [(1499, 0), (1500, 10), (2999, 10), (4599, 30), (27400, 180), (33500, 220), (0, 0), (-100, 0)],
)
def test_10_points_per_full_15_eur(amount_cents, points):
    assert points_for(amount_cents, 10, 1500) == points


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(1, 10**6), st.integers(1, 10**6))
def test_points_on_a_split_order_never_exceed_points_on_the_whole(a, b, earn_points, per_cents):
    assert points_for(a, earn_points, per_cents) + points_for(b, earn_points, per_cents) <= points_for(
        a + b, earn_points, per_cents
    )


def test_points_are_valued_at_the_price_per_1000_rounded_down():
    assert value_of(10, 500) == 5
    assert value_of(7, 500) == 3
    assert value_of(1000, 450) == 450


@given(st.integers(0, 10**12), st.lists(st.integers(1, 10**6), min_size=1, max_size=20))
def test_shares_taken_one_after_another_add_up_to_the_total(total, parts):
    left_total, left_whole = total, sum(parts)
    taken = 0
    for part in parts:
        piece = share(left_total, part, left_whole)
        assert 0 <= piece <= left_total
        taken += piece
        left_total -= piece
        left_whole -= part
    assert taken == total


REAL_SIGNING_KEY = "cmVhbCBwcm9kdWN0aW9uIHNpZ25pbmcga2V5IDEyMzQ="


def production(**overrides):
    env = {
        "LOYALTY_ENV": "production",
        "LOYALTY_ADMIN_KEY": "k" * 40,
        "SECRET_KEY": "s" * 40,
        "DATABASE_URL": "postgresql://db/loyalty",
        "CLICK_TOKEN_KEYS": "c" * 40,
        "LEDGER_SIGNING_KEY": REAL_SIGNING_KEY,
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        **overrides,
    }
    return load("/tmp/instance", env)


def test_production_starts_with_real_secrets_and_postgresql():
    config = production()
    check_production(config)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db/loyalty"


@pytest.mark.parametrize(
    "overrides",
    [
        {"LOYALTY_ADMIN_KEY": DEV_ADMIN_KEY},
        {"SECRET_KEY": DEV_SECRET_KEY},
        {"SECRET_KEY": "short"},
        {"DATABASE_URL": "sqlite:///x.db"},
        {"CLICK_TOKEN_KEYS": DEV_CLICK_TOKEN_KEY},
        {"CLICK_TOKEN_KEYS": "c" * 40 + "," + DEV_CLICK_TOKEN_KEY},
        {"CLICK_TOKEN_KEYS": "short"},
        {"RATELIMIT_STORAGE_URI": "memory://"},
        {"LEDGER_SIGNING_KEY": DEV_LEDGER_SIGNING_KEY},
        {"STRIPE_API_BASE": "http://127.0.0.1:8420"},
    ],
    ids=[
        "dev-admin-key",
        "dev-secret",
        "weak-secret",
        "sqlite",
        "dev-click-key",
        "dev-click-key-kept",
        "weak-click-key",
        "rate-limits-in-one-process-memory",
        "dev-ledger-signing-key",
        "stripe-over-http",
    ],
)
def test_production_refuses_development_settings(overrides):
    with pytest.raises(ConfigError):
        check_production(production(**overrides))


def test_the_chain_hash_covers_every_posting_and_the_previous_hash():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    entry = Entry(id=1, kind="earn", idempotency_key="k", reverses_entry_id=None, ref="r", memo="m", created_at=at)
    postings = [Posting(account_id=1, asset="PTS", amount=-10), Posting(account_id=2, asset="PTS", amount=10)]
    digest = entry_hash(GENESIS_HASH, entry, postings)

    assert digest == entry_hash(GENESIS_HASH, entry, list(reversed(postings)))
    assert digest != entry_hash("1" * 64, entry, postings)
    assert digest != entry_hash(GENESIS_HASH, entry, [postings[0], Posting(account_id=2, asset="PTS", amount=11)])


def test_click_token_keys_are_read_newest_first_from_a_comma_separated_list():
    config = load("/tmp/instance", {"CLICK_TOKEN_KEYS": " newest-key , older-key,,"})

    assert config["CLICK_TOKEN_KEYS"] == ["newest-key", "older-key"]
