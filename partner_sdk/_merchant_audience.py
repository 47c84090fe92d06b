"""The merchant's audience: segments of members, offers with a measured holdout, and
lifecycle figures (part of ``MerchantClient``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, NotRequired, TypedDict

from partner_sdk._client import Client, given, quote
from partner_sdk.answers import Lifecycle, Offer, OfferReport, Segment
from partner_sdk.pagination import Page, iterate_pages

__all__ = ["AudienceCalls", "OfferReward", "SegmentRules"]


class SegmentRules(TypedDict, total=False):
    """Every given rule must hold (docs/audience.md, "Segments")."""

    dormant_days: int
    min_orders: int
    min_spend_cents: int
    tier: str
    interests: Sequence[str]
    bought: Literal["here", "elsewhere_not_here", "anywhere"]
    first_order_within_days: int


class OfferReward(TypedDict):
    """``{"type": "bonus", "points": 500}`` or ``{"type": "voucher", "item_id": "12"}``."""

    type: Literal["bonus", "voucher"]
    points: NotRequired[int]
    item_id: NotRequired[str]


class AudienceCalls(Client):
    """Segments, offers and their reports, lifecycle figures."""

    def create_segment(self, name: str, rules: SegmentRules | None = None) -> Segment:
        """A segment, its sizes computed now; safe to retry with the same answer (`replayed`)."""
        body = {"name": name, "rules": _rules(rules or {})}
        return self._create(Segment, "/v1/segments", body=body)

    def get_segment(self, segment_id: int | str) -> Segment:
        """One of your segments, with how it moved (`raw["history"]`)."""
        return self._one(Segment, "GET", f"/v1/segments/{quote(segment_id)}")

    def list_segments(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Segment]:
        return self._page(Segment, "/v1/segments", {"limit": limit, "cursor": cursor})

    def iter_segments(self, *, page_size: int | None = None) -> Iterator[Segment]:
        return iterate_pages(lambda cursor: self.list_segments(limit=page_size, cursor=cursor))

    def create_offer(
        self,
        segment_id: int | str,
        subject: str,
        body: str,
        reward: OfferReward,
        starts_at: str,
        ends_at: str,
        *,
        holdout_bp: int | None = None,
    ) -> Offer:
        """An offer to one of your segments between two ISO 8601 instants with a zone."""
        payload = given(
            segment_id=str(segment_id),
            subject=subject,
            body=body,
            reward=dict(reward),
            starts_at=starts_at,
            ends_at=ends_at,
            holdout_bp=holdout_bp,
        )
        return self._create(Offer, "/v1/offers", body=payload)

    def get_offer(self, offer_id: int | str) -> Offer:
        return self._one(Offer, "GET", f"/v1/offers/{quote(offer_id)}")

    def offer_report(self, offer_id: int | str) -> OfferReport:
        """Sent, opened, clicked, converted, against the holdout."""
        return self._one(OfferReport, "GET", f"/v1/offers/{quote(offer_id)}/report")

    def lifecycle(self, *, dormant_days: int | None = None) -> Lifecycle:
        """Days to first purchase, repeat rates within 30 and 90 days, dormant and active customers."""
        return self._one(Lifecycle, "GET", "/v1/reports/lifecycle", query={"dormant_days": dormant_days})


def _rules(rules: SegmentRules) -> dict[str, object]:
    shaped: dict[str, object] = dict(rules)
    if "interests" in rules:
        shaped["interests"] = list(rules["interests"])
    return shaped
