"""Contests through the SDK on loopback: create, enter a customer, draw, check the draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from partner_sdk import Conflict, MerchantClient, NotFound, ValidationError
from tests.e2e.sdk_world import new_merchant_client
from tests.factories.contests import move_window
from tests.factories.names import unique, unique_email


@pytest.fixture
def shop(live_server: Any) -> MerchantClient:
    return new_merchant_client(live_server)


def test_a_merchant_runs_and_checks_a_contest_through_the_sdk(shop: MerchantClient, engine: Any) -> None:
    voucher = shop.create_catalog_item("voucher", unique("Prize"), "prizes", 100, 40, generate_codes=3)
    emails = [unique_email() for _ in range(3)]
    for email in emails:
        shop.record_order(unique("o"), 3000, email)
    now = datetime.now(UTC)
    contest = shop.create_contest(
        unique("Draw"),
        voucher.item.id,
        2,
        (now + timedelta(minutes=5)).isoformat(),
        (now + timedelta(days=3)).isoformat(),
        {"free_entry": True},
    )
    assert (contest.status, contest.seed, contest.replayed) == ("scheduled", None, False)
    with pytest.raises(Conflict):
        shop.enter_contest(contest.id, emails[0])

    move_window(engine, contest.id)
    entries = [shop.enter_contest(contest.id, email) for email in emails]
    assert [e.replayed for e in entries] == [False, False, False]
    assert shop.enter_contest(contest.id, emails[0]).replayed is True
    with pytest.raises(ValidationError):
        shop.enter_contest(contest.id, unique_email())
    with pytest.raises(Conflict):
        shop.draw_contest(contest.id)

    move_window(engine, contest.id, closed=True)
    drawn = shop.draw_contest(contest.id)

    assert drawn.seed_commitment == contest.seed_commitment and len(drawn.winners) == 2
    assert shop.contest_entries(contest.id, page_size=2) == sorted(e.entry_id for e in entries)
    assert shop.check_draw(contest.id)
    shown = shop.get_contest(contest.id)
    assert (shown.seed, shown.winners, shown.status) == (drawn.seed, drawn.winners, "drawn")
    assert contest.id in {c.id for c in shop.iter_contests(page_size=1)}
    with pytest.raises(NotFound):
        shop.get_contest("999999999")
