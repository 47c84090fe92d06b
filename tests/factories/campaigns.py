"""Campaigns, started through the API or, at another instant, through the service."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.campaigns import services
from app.campaigns.services import OrderFacts
from app.unit_of_work import UnitOfWork
from ledger.types import utcnow
from tests.factories.names import unique


def campaign_body(**overrides) -> dict:
    """A valid body: double points from an hour ago for 30 days, 10 000 points of budget."""
    now = utcnow()
    body = {
        "name": unique("Double points"),
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "effect": {"type": "multiplier", "factor_bp": 20000},
        "budget_points": 10_000,
    }
    body.update(overrides)
    return body


def start_campaign(client, headers: dict, **overrides) -> dict:
    """The created campaign's JSON."""
    response = client.post("/v1/campaigns", json=campaign_body(**overrides), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stored_campaign(engine, merchant_id: int | None, *, now: datetime | None = None, **fields) -> int:
    """A committed campaign made by the service as at ``now`` (the past, for one that has ended since)."""
    now = now or utcnow()
    data = {
        "name": unique("Campaign"),
        "starts_at": now - timedelta(hours=1),
        "ends_at": now + timedelta(days=30),
        "effect": {"type": "bonus", "points": 100},
        "conditions": {},
        "budget_points": 10_000,
        **fields,
    }
    with UnitOfWork(Session(engine), now=now) as uow:
        campaign = services.create_campaign(uow, services.Caller(merchant_id), data)
        return uow.commit(campaign.id)


def facts(merchant_id: int, **overrides) -> OrderFacts:
    """An order of 100 EUR earning 60 base points, the member's first anywhere, no lines, no tier."""
    values = {
        "merchant_id": merchant_id,
        "member_id": 1,
        "amount_cents": 10_000,
        "currency": "EUR",
        "categories": frozenset(),
        "tier": None,
        "first_order_here": True,
        "first_order_anywhere": True,
        "base_points": 60,
        "now": utcnow(),
    }
    values.update(overrides)
    return OrderFacts(**values)
