"""The merchant's campaigns: extra points on its orders within a budget (part of ``MerchantClient``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, NotRequired, TypedDict

from partner_sdk._client import Client, given, quote
from partner_sdk.answers import Campaign
from partner_sdk.pagination import Page, iterate_pages

__all__ = ["CampaignCalls", "CampaignConditions", "CampaignEffect"]

CampaignStatus = Literal["scheduled", "active", "paused", "ended"]


class CampaignEffect(TypedDict):
    """``{"type": "multiplier", "factor_bp": 20000}`` (double points) or ``{"type": "bonus", "points": 500}``."""

    type: Literal["multiplier", "bonus"]
    factor_bp: NotRequired[int]
    points: NotRequired[int]


class CampaignConditions(TypedDict, total=False):
    """Every given condition must hold for an order to get the campaign's points."""

    first_order: bool
    min_amount_cents: int
    categories: Sequence[str]
    tier: str


class CampaignCalls(Client):
    """Campaigns on your orders, paid at your point price: start, list, pause, resume, end."""

    def create_campaign(
        self,
        name: str,
        starts_at: str,
        ends_at: str,
        effect: CampaignEffect,
        budget_points: int,
        *,
        conditions: CampaignConditions | None = None,
    ) -> Campaign:
        """Start a campaign between two ISO 8601 instants with a zone; safe to retry (`replayed`)."""
        body = given(
            name=name,
            starts_at=starts_at,
            ends_at=ends_at,
            effect=dict(effect),
            budget_points=budget_points,
            conditions=None if conditions is None else _conditions(conditions),
        )
        return self._create(Campaign, "/v1/campaigns", body=body)

    def list_campaigns(
        self, *, status: CampaignStatus | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Campaign]:
        """One page of your campaigns, oldest first, optionally of one status."""
        return self._page(Campaign, "/v1/campaigns", {"status": status, "limit": limit, "cursor": cursor})

    def iter_campaigns(
        self, *, status: CampaignStatus | None = None, page_size: int | None = None
    ) -> Iterator[Campaign]:
        """Every campaign of yours (of one status), page after page."""
        return iterate_pages(lambda cursor: self.list_campaigns(status=status, limit=page_size, cursor=cursor))

    def get_campaign(self, campaign_id: int | str) -> Campaign:
        """One of your campaigns, with the points it awarded so far."""
        return self._one(Campaign, "GET", f"/v1/campaigns/{quote(campaign_id)}")

    def pause_campaign(self, campaign_id: int | str) -> Campaign:
        """Stop awarding until resumed; pausing a paused campaign changes nothing."""
        return self._one(Campaign, "POST", f"/v1/campaigns/{quote(campaign_id)}/pause")

    def resume_campaign(self, campaign_id: int | str) -> Campaign:
        """Award again; an ended campaign cannot be resumed (`Conflict`)."""
        return self._one(Campaign, "POST", f"/v1/campaigns/{quote(campaign_id)}/resume")

    def end_campaign(self, campaign_id: int | str) -> Campaign:
        """End a campaign for good; ending an ended campaign changes nothing."""
        return self._one(Campaign, "POST", f"/v1/campaigns/{quote(campaign_id)}/end")


def _conditions(conditions: CampaignConditions) -> dict[str, object]:
    body: dict[str, object] = dict(conditions)
    if "categories" in conditions:
        body["categories"] = list(conditions["categories"])
    return body
