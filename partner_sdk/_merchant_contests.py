"""The merchant's contests: vouchers as prizes, a verifiable draw (part of ``MerchantClient``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, TypedDict

from partner_sdk._client import Client, quote
from partner_sdk.answers import Contest, ContestDraw, ContestEntrant, ContestEntry
from partner_sdk.contests import verify_draw
from partner_sdk.pagination import Page, iterate_pages

__all__ = ["ContestCalls", "ContestEligibility"]


class ContestEligibility(TypedDict, total=False):
    """`{"segment_id": "7"}` (your existing customers in that segment) or `{"free_entry": True}`."""

    segment_id: str
    free_entry: Literal[True]


class ContestCalls(Client):
    """Contests with your vouchers as prizes: create, list, enter a customer, draw, check."""

    def create_contest(
        self,
        name: str,
        item_id: int | str,
        winners: int,
        entries_open_at: str,
        entries_close_at: str,
        eligibility: ContestEligibility,
    ) -> Contest:
        """Create a contest (`winners` units of the voucher item are set aside); safe to retry (`replayed`).

        `entries_open_at` may not be in the past: the answer's `seed_commitment` is
        published before entries open.
        """
        body = {
            "name": name,
            "prize": {"item_id": str(item_id)},
            "winners": winners,
            "entries_open_at": entries_open_at,
            "entries_close_at": entries_close_at,
            "eligibility": dict(eligibility),
        }
        return self._create(Contest, "/v1/contests", body=body)

    def list_contests(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Contest]:
        """One page of your contests, oldest first."""
        return self._page(Contest, "/v1/contests", {"limit": limit, "cursor": cursor})

    def iter_contests(self, *, page_size: int | None = None) -> Iterator[Contest]:
        """Every contest of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_contests(limit=page_size, cursor=cursor))

    def get_contest(self, contest_id: int | str) -> Contest:
        """One of your contests; once drawn, with its seed, entries' hash and winners."""
        return self._one(Contest, "GET", f"/v1/contests/{quote(contest_id)}")

    def enter_contest(self, contest_id: int | str, member_email: str) -> ContestEntry:
        """Enter one of your customers; entering again answers the same entry (`replayed`)."""
        return self._create(
            ContestEntry, f"/v1/contests/{quote(contest_id)}/entries", body={"member_email": member_email}
        )

    def list_contest_entries(
        self, contest_id: int | str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[ContestEntrant]:
        """One page of the entry list, in draw order."""
        path = f"/v1/contests/{quote(contest_id)}/entries"
        return self._page(ContestEntrant, path, {"limit": limit, "cursor": cursor})

    def contest_entries(self, contest_id: int | str, *, page_size: int | None = None) -> list[str]:
        """The whole entry list (entry ids, in draw order)."""
        pages = iterate_pages(lambda cursor: self.list_contest_entries(contest_id, limit=page_size, cursor=cursor))
        return [entrant.entry_id for entrant in pages]

    def draw_contest(self, contest_id: int | str) -> ContestDraw:
        """Draw the winners after entries close (`Conflict` before); drawing again answers the same."""
        return self._one(ContestDraw, "POST", f"/v1/contests/{quote(contest_id)}/draw")

    def check_draw(self, contest_id: int | str) -> bool:
        """Recompute a drawn contest's result from the published seed and entry list (`verify_draw`)."""
        contest = self.get_contest(contest_id)
        if contest.seed is None or contest.entries_hash is None or contest.winners is None:
            return False
        entries = self.contest_entries(contest_id)
        return verify_draw(
            contest.seed, contest.seed_commitment, entries, contest.entries_hash, contest.winners, contest.winners_count
        )
