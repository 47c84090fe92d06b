"""One pagination style: keyset on the integer id, ``limit`` and opaque ``cursor``."""

from __future__ import annotations

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
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, str(rows[-1].id) if more else None)
