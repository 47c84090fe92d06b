"""One pagination style: keyset on the integer id, ``limit`` and opaque ``cursor``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Page:
    data: list[Any]
    next_cursor: str | None


def paginate(session: Session, query: Select, id_column, *, limit: int, cursor: str | None) -> Page:
    if cursor is not None:
        query = query.where(id_column > int(cursor))
    rows = session.execute(query.order_by(id_column).limit(limit + 1)).scalars().all()
    return trimmed(list(rows), limit, lambda row: str(row.id))


def trimmed(rows: list[Any], limit: int, cursor_of: Callable[[Any], str]) -> Page:
    """A page from up to ``limit + 1`` rows read in order: the extra row only says there is more."""
    page = rows[:limit]
    return Page(page, cursor_of(page[-1]) if len(rows) > limit else None)
