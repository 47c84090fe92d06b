"""Segments, offers and lifecycle figures through the SDK, on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from partner_sdk import MerchantClient, NotFound, ValidationError
from tests.e2e.sdk_world import new_merchant_client
from tests.factories.names import unique_email


@pytest.fixture
def shop(live_server: Any) -> MerchantClient:
    return new_merchant_client(live_server)


def test_a_merchant_segments_its_customers_offers_them_a_bonus_and_reads_the_report(shop: MerchantClient) -> None:
    for _ in range(3):
        shop.record_order(f"o-{unique_email()}", 3000, unique_email())

    regulars = shop.create_segment("Customers", {"bought": "here"})
    now = datetime.now(UTC)
    offer = shop.create_offer(
        regulars.id,
        "Come back",
        "We miss you.",
        {"type": "bonus", "points": 50},
        now.isoformat(),
        (now + timedelta(days=3)).isoformat(),
        holdout_bp=0,
    )
    report = shop.offer_report(offer.id)
    figures = shop.lifecycle(dormant_days=30)

    assert (regulars.size, regulars.size_customers, regulars.size_others) == (3, 3, 0)
    assert shop.get_segment(regulars.id).raw["history"][0]["joined"] == 3
    assert regulars.id in {s.id for s in shop.iter_segments(page_size=1)}
    assert (offer.status, offer.reward, shop.get_offer(offer.id).id) in (
        ("scheduled", {"type": "bonus", "points": 50}, offer.id),
        ("sending", {"type": "bonus", "points": 50}, offer.id),
    )
    assert (report.eligible, report.sent, report.incremental_orders) == (0, 0, None)  # the job has not run yet
    assert (figures.scope, figures.customers, figures.dormant) == ("merchant", 3, 0)
    with pytest.raises(ValidationError):
        shop.create_segment("Bad", {"bought": "nowhere"})  # type: ignore[typeddict-item]
    with pytest.raises(NotFound):
        shop.offer_report("999999999")
