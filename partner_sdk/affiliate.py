"""The affiliate client: programs, tracking links, reports and webhook endpoints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Literal

from partner_sdk._client import Client, quote
from partner_sdk.answers import Application, Link, Payout, Report
from partner_sdk.pagination import Page, iterate_pages

__all__ = ["AffiliateClient"]

GroupBy = Literal["day", "program", "link"]


class AffiliateClient(Client):
    """Client for the affiliate API, authenticated with the affiliate's API key.

    Same machinery as ``MerchantClient``: a timeout per try, bounded retries
    of connection failures, 429 and 5xx with backoff and jitter, one
    `Idempotency-Key` per call, typed exceptions, strict typed answers,
    `replayed` on every create, keep-alive connections, thread-safe,
    `close()` or ``with``. Webhook endpoints of an affiliate may subscribe to
    ``commission.*`` events only.
    """

    # Programs

    def apply_to_program(self, program_id: int | str) -> Application:
        """Apply to a merchant's program; approved at once if the program auto-approves."""
        return self._create(Application, f"/v1/programs/{quote(program_id)}/applications")

    def list_applications(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Application]:
        """One page of your applications to programs and their status."""
        return self._page(Application, "/v1/affiliate/applications", {"limit": limit, "cursor": cursor})

    def iter_applications(self, *, page_size: int | None = None) -> Iterator[Application]:
        """Every application of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_applications(limit=page_size, cursor=cursor))

    # Payouts

    def list_payouts(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Payout]:
        """One page of the payouts the operator made to you, oldest first."""
        return self._page(Payout, "/v1/affiliate/payouts", {"limit": limit, "cursor": cursor})

    def iter_payouts(self, *, page_size: int | None = None) -> Iterator[Payout]:
        """Every payout made to you, page after page."""
        return iterate_pages(lambda cursor: self.list_payouts(limit=page_size, cursor=cursor))

    # Tracking links

    def create_link(self, program_id: int | str, landing_url: str) -> Link:
        """A tracking link to a landing URL on one of the program merchant's domains."""
        body = {"program_id": int(program_id), "landing_url": landing_url}
        return self._create(Link, "/v1/links", body=body)

    def list_links(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Link]:
        """One page of your links."""
        return self._page(Link, "/v1/links", {"limit": limit, "cursor": cursor})

    def iter_links(self, *, page_size: int | None = None) -> Iterator[Link]:
        """Every link of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_links(limit=page_size, cursor=cursor))

    def get_link(self, link_id: int | str) -> Link:
        """One of your links."""
        return self._one(Link, "GET", f"/v1/links/{quote(link_id)}")

    def pause_link(self, link_id: int | str) -> Link:
        """Pause a link: it answers 404 within seconds, until resumed."""
        return self._set_link_active(link_id, False)

    def resume_link(self, link_id: int | str) -> Link:
        """Resume a paused link."""
        return self._set_link_active(link_id, True)

    def _set_link_active(self, link_id: int | str, active: bool) -> Link:
        return self._one(Link, "PATCH", f"/v1/links/{quote(link_id)}", body={"active": active})

    # Reports

    def report(self, from_date: dt.date | str, to_date: dt.date | str, group_by: GroupBy = "day") -> Report:
        """Clicks, conversions and commissions from `from_date` to `to_date` (UTC days), as typed rows."""
        query = {"from": _day(from_date), "to": _day(to_date), "group_by": group_by}
        return self._one(Report, "GET", "/v1/affiliate/report", query=query)

    def report_csv(self, from_date: dt.date | str, to_date: dt.date | str, group_by: GroupBy = "day") -> str:
        """The same report as CSV text, one line per row after a header line."""
        query = {"from": _day(from_date), "to": _day(to_date), "group_by": group_by}
        _, payload = self._http.call("GET", "/v1/affiliate/report", query=query, accept="text/csv")
        return payload.decode("utf-8")


def _day(value: dt.date | str) -> str:
    return value.isoformat() if isinstance(value, dt.date) else value
