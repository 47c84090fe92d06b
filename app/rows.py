"""Reading the one row a request names: found (optionally locked) or a domain error."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.errors import DomainError


def one_or_raise(session: Session, query: Select[Any], missing: DomainError, *, for_update: bool = False) -> Any:
    """The row ``query`` finds, locked until the transaction ends when ``for_update``;
    ``missing`` is raised when there is none (another tenant's row included)."""
    if for_update:
        query = query.with_for_update()
    found = session.execute(query).scalar_one_or_none()
    if found is None:
        raise missing
    return found
