"""Rates read one way on every page: the contract's two decimals, at least one ("75.0%"), as
services.reporting.statistics.rate_text writes them (static/js/app.js's attendanceRate is its twin,
checked in tests/browser/test_history_in_browser.py)."""

from __future__ import annotations

import re

import pytest

from attendance_app.services.reporting.statistics import rate_text
from tests.factories import make_admin, make_class, make_session, make_students, mark_many


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (75, "75.0"),
        (75.0, "75.0"),
        (0, "0.0"),
        (100.0, "100.0"),
        (69.23, "69.23"),
        (2 / 3 * 100, "66.67"),
        (12.5, "12.5"),
    ],
)
def test_a_rate_has_two_decimals_at_most_and_one_at_least(value, text):
    assert rate_text(value) == text


@pytest.fixture
def three_quarters(app):
    """A class of four in one session today: three present, one absent (75.0%)."""
    admin = make_admin(app)
    students = make_students(app, 4)
    klass = make_class(app, admin=admin, students=students)
    session_id = make_session(app, klass)
    mark_many(
        app,
        klass,
        session_id,
        [(s, "ABSENT" if i == 3 else "PRESENT") for i, s in enumerate(students)],
    )
    return admin, klass, students


def test_every_page_writes_a_whole_rate_with_its_decimal(app, browser_as, three_quarters):
    admin, klass, students = three_quarters
    pages = {
        "teacher's home": (klass.teacher, "/"),
        "class page": (klass.teacher, f"/classes/{klass.id}"),
        "class analytics": (klass.teacher, f"/classes/{klass.id}/analytics"),
        "dashboard": (admin, "/"),
        "history": (admin, f"/students/{students[0].profile_id}/history"),
    }
    for name, (person, path) in pages.items():
        html = browser_as(person).get(path).text
        rates = set(re.findall(r"(\d+(?:\.\d+)?)(?:</span>)?%", html))
        whole = {r for r in rates if "." not in r}
        assert "75.0" in rates or "100.0" in rates, name
        # Whole numbers before a "%" are only the risk thresholds the pages explain.
        assert whole <= {"70", "85", "20"}, (name, whole)
