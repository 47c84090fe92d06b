"""Idempotency for the webhook endpoint calls, on the request's unit of work."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app import unit_of_work


def run_once(
    session: Session, scope: str, key: str | None, request_data: dict, work: Callable[[], dict]
) -> tuple[dict, bool]:
    """Do ``work`` once per key in the request's unit of work; returns (answer, created)."""
    uow = unit_of_work.current()
    stored = uow.once(scope, key, request_data)
    if stored is not None:
        return stored, False
    return uow.commit(work()), True
