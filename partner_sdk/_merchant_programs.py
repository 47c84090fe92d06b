"""The merchant's affiliate programs and the applications to them (part of ``MerchantClient``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, NotRequired, TypedDict

from partner_sdk._client import Client, given, quote
from partner_sdk.answers import Application, Program
from partner_sdk.pagination import Page, iterate_pages

__all__ = ["CommissionRule", "ProgramCalls"]


class CommissionRule(TypedDict):
    """How a program pays: ``{"type": "percent", "basis_points": 800}`` or ``{"type": "fixed", "amount_cents": 500}``."""

    type: Literal["percent", "fixed"]
    basis_points: NotRequired[int]
    amount_cents: NotRequired[int]


class ProgramCalls(Client):
    """Affiliate programs: open, list, change, pause; decide on the applications to them."""

    def create_program(
        self,
        name: str,
        commission: CommissionRule,
        *,
        network_fee_bps: int | None = None,
        hold_days: int | None = None,
        attribution_window_days: int | None = None,
        auto_approve_affiliates: bool | None = None,
        lead_amount_cents: int | None = None,
        cap_cents: int | None = None,
    ) -> Program:
        """Open an affiliate program (omitted options take the platform's defaults)."""
        body = given(
            name=name,
            commission=dict(commission),
            network_fee_bps=network_fee_bps,
            hold_days=hold_days,
            attribution_window_days=attribution_window_days,
            auto_approve_affiliates=auto_approve_affiliates,
            lead_amount_cents=lead_amount_cents,
            cap_cents=cap_cents,
        )
        return self._create(Program, "/v1/programs", body=body)

    def list_programs(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Program]:
        """One page of your programs."""
        return self._page(Program, "/v1/programs", {"limit": limit, "cursor": cursor})

    def iter_programs(self, *, page_size: int | None = None) -> Iterator[Program]:
        """Every program of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_programs(limit=page_size, cursor=cursor))

    def get_program(self, program_id: int | str) -> Program:
        """One of your programs."""
        return self._one(Program, "GET", f"/v1/programs/{quote(program_id)}")

    def update_program(
        self,
        program_id: int | str,
        *,
        name: str | None = None,
        active: bool | None = None,
        hold_days: int | None = None,
        attribution_window_days: int | None = None,
        auto_approve_affiliates: bool | None = None,
    ) -> Program:
        """Change a program (only what is given); ``active=False`` pauses it."""
        body = given(
            name=name,
            active=active,
            hold_days=hold_days,
            attribution_window_days=attribution_window_days,
            auto_approve_affiliates=auto_approve_affiliates,
        )
        return self._one(Program, "PATCH", f"/v1/programs/{quote(program_id)}", body=body)

    def pause_program(self, program_id: int | str) -> Program:
        """Pause a program: its links stop earning until it is resumed."""
        return self.update_program(program_id, active=False)

    def resume_program(self, program_id: int | str) -> Program:
        """Resume a paused program."""
        return self.update_program(program_id, active=True)

    def list_program_applications(
        self,
        program_id: int | str,
        *,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Application]:
        """One page of a program's applications (pending, approved, refused)."""
        path = f"/v1/programs/{quote(program_id)}/applications"
        return self._page(Application, path, {"status": status, "limit": limit, "cursor": cursor})

    def iter_program_applications(
        self, program_id: int | str, *, status: str | None = None, page_size: int | None = None
    ) -> Iterator[Application]:
        """Every application to a program, page after page."""
        return iterate_pages(
            lambda cursor: self.list_program_applications(program_id, status=status, limit=page_size, cursor=cursor)
        )

    def approve_application(self, program_id: int | str, application_id: int | str) -> Application:
        """Let an affiliate into a program: it may then create links."""
        return self._decide_application(program_id, application_id, "approved")

    def refuse_application(self, program_id: int | str, application_id: int | str) -> Application:
        """Refuse an affiliate's application."""
        return self._decide_application(program_id, application_id, "refused")

    def _decide_application(self, program_id: int | str, application_id: int | str, status: str) -> Application:
        path = f"/v1/programs/{quote(program_id)}/applications/{quote(application_id)}"
        return self._one(Application, "PATCH", path, body={"status": status})
