"""Page numbers people type or keep in a bookmark never produce an error or an empty page."""

from __future__ import annotations

import pytest

from attendance_app.services.paging import Page, clamp, last_page


@pytest.mark.parametrize(
    ("total", "per_page", "pages"), [(0, 50, 1), (1, 50, 1), (50, 50, 1), (51, 50, 2), (101, 50, 3)]
)
def test_the_number_of_pages_rounds_up_and_is_never_zero(total, per_page, pages):
    assert last_page(total, per_page) == pages
    assert Page([], total, 1, per_page).pages == pages


@pytest.mark.parametrize(("asked", "shown"), [(-3, 1), (0, 1), (1, 1), (2, 2), (3, 3), (99, 3)])
def test_a_page_outside_the_list_shows_the_nearest_one(asked, shown):
    assert clamp(asked, 101, 50) == shown


def test_previous_and_next_exist_only_inside_the_list():
    assert (Page([], 101, 1, 50).has_prev, Page([], 101, 1, 50).has_next) == (False, True)
    assert (Page([], 101, 3, 50).has_prev, Page([], 101, 3, 50).has_next) == (True, False)
