"""Pages of `{data, next_cursor}` lists, and iteration over every page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Page", "iterate_pages"]

T = TypeVar("T")

PAGES_MAX = 100_000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; pass `next_cursor` to get the next, None on the last page."""

    data: list[T]
    next_cursor: str | None


def iterate_pages(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of every page, fetching pages lazily with ``fetch(cursor)``."""
    cursor: str | None = None
    for _ in range(PAGES_MAX):
        page = fetch(cursor)
        yield from page.data
        if page.next_cursor is None:
            return
        if page.next_cursor == cursor:
            raise RuntimeError("the platform returned the same cursor twice")
        cursor = page.next_cursor
    raise RuntimeError(f"more than {PAGES_MAX} pages: stopping")
