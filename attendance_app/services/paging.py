"""One page of a longer list: the people, the attendance records, a person's notifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


def last_page(total: int, per_page: int) -> int:
    """How many pages ``total`` items fill (at least one: an empty list has an empty page)."""
    return max(1, -(-total // per_page))


def clamp(page: int, total: int, per_page: int) -> int:
    """A requested page number within 1..last: a page past the end shows the last one."""
    return min(max(1, page), last_page(total, per_page))


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list (pages count from 1)."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return last_page(self.total, self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages
