"""Campaigns through the SDK, on loopback: start, list, pause, resume, end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from partner_sdk import Conflict, MerchantClient, NotFound, ValidationError
from partner_sdk.answers import Campaign
from tests.e2e.sdk_world import new_merchant_client
from tests.factories.names import unique


@pytest.fixture
def shop(live_server: Any) -> MerchantClient:
    return new_merchant_client(live_server)


def _start(shop: MerchantClient, **conditions: Any) -> Campaign:
    now = datetime.now(UTC)
    return shop.create_campaign(
        unique("Double points weekend"),
        (now - timedelta(minutes=5)).isoformat(),
        (now + timedelta(days=2)).isoformat(),
        {"type": "multiplier", "factor_bp": 20000},
        5000,
        conditions={"min_amount_cents": 2000, "categories": ("bikes",), **conditions},
    )


def test_a_merchant_runs_a_campaign_through_the_sdk(shop: MerchantClient) -> None:
    campaign = _start(shop, first_order=True)

    assert (campaign.owner, campaign.status, campaign.replayed) == ("merchant", "active", False)
    assert campaign.effect == {"type": "multiplier", "factor_bp": 20000}
    assert campaign.conditions == {"first_order": True, "min_amount_cents": 2000, "categories": ["bikes"]}
    assert (campaign.budget_points, campaign.points_awarded, campaign.points_remaining) == (5000, 0, 5000)
    assert shop.get_campaign(campaign.id) == campaign
    assert [c.id for c in shop.list_campaigns(status="active").data] == [campaign.id]

    paused = shop.pause_campaign(campaign.id)
    assert (paused.status, shop.pause_campaign(campaign.id)) == ("paused", paused)
    assert shop.resume_campaign(campaign.id).status == "active"
    ended = shop.end_campaign(campaign.id)
    assert (ended.status, ended.ended_at is not None) == ("ended", True)
    with pytest.raises(Conflict):
        shop.resume_campaign(campaign.id)
    assert [c.id for c in shop.iter_campaigns(status="ended", page_size=1)] == [campaign.id]


def test_the_sdk_raises_on_a_refused_campaign_and_on_another_merchants(shop: MerchantClient, live_server: Any) -> None:
    with pytest.raises(ValidationError):
        shop.create_campaign(
            "Too long", "2030-01-01T00:00:00+00:00", "2032-01-01T00:00:00+00:00", {"type": "bonus", "points": 5}, 10
        )
    campaign = _start(shop)
    with new_merchant_client(live_server) as other, pytest.raises(NotFound):
        other.pause_campaign(campaign.id)
