"""The tile's menu on the roster: Late straight away (one step in the audit trail) and the
minutes late corrected, with the service's rule and words in the cell (htmx)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attendance_app.models import AttendanceStatus, utcnow
from tests.factories import audit_trail, make_session, mark
from tests.web.conftest import cells, htmx_headers, parse

BOUNDS = "Minutes late must be a whole number from 0 to 40 (the minutes since the session started)."


@pytest.fixture
def lesson(app, classroom):
    """A session that started 40 minutes ago."""
    return make_session(app, classroom.klass, start_at=utcnow() - timedelta(minutes=40))


@pytest.fixture
def roster(classroom, browser_as, lesson):
    client = browser_as(classroom.teacher)
    page = client.get(f"/sessions/{lesson}")
    assert page.status_code == 200
    return client, page.text


def post_minutes(roster, lesson, student, minutes):
    client, page = roster
    return client.post(
        f"/sessions/{lesson}/students/{student.profile_id}/late-minutes",
        data={"minutes": minutes},
        headers=htmx_headers(page),
    )


def test_every_tile_has_a_menu_whose_body_offers_each_status_directly_and_minutes_late(
    classroom, roster, lesson
):
    _, page = roster
    for student in classroom.klass.students:
        tile = cells(page)[str(student.profile_id)]
        menu = tile.one("details", {"class": "cell-menu"})
        assert menu.one("summary").text.startswith("More")
        assert student.last_name in menu.one("summary").text
    # One body for every menu, filled in with the student's data as it opens (cell_menu.js).
    body = parse(page).one("template", {"id": "cell-menu-template"})
    buttons = body.find_all("button", {"data-set-status": True})
    assert [b.get("data-set-status") for b in buttons] == ["PRESENT", "ABSENT", "LATE"]
    assert [b.get("data-action") for b in buttons] == ["status"] * 3
    assert body.one("input", {"name": "minutes"}).get("type") == "number"


def test_late_from_the_menu_is_one_step_in_the_audit_trail(app, classroom, roster, lesson):
    client, page = roster
    student = classroom.klass.students[0]
    # The menu's Late posts to the tile's own status URL (cell_menu.js).
    tap = cells(page)[str(student.profile_id)].one("button", {"class": "cell-tap"})

    response = client.post(
        tap.get("hx-post"), data={"status": "LATE", "seen": ""}, headers=htmx_headers(page)
    )

    assert response.status_code == 200
    tile = cells(response.text)[str(student.profile_id)]
    assert tile.get("data-status") == "LATE"
    assert tile.one(attrs={"class": "late-minutes"}).text == "+40 min"
    trail = audit_trail(app, session_id=lesson)
    assert [(r["old_status"], r["new_status"]) for r in trail] == [(None, AttendanceStatus.LATE)]


def test_minutes_late_are_corrected_from_the_tile(app, classroom, roster, lesson, api_as):
    student = classroom.klass.students[0]
    mark(app, classroom.klass, lesson, student, "LATE")

    response = post_minutes(roster, lesson, student, "12")

    assert response.status_code == 200
    tile = cells(response.text)[str(student.profile_id)]
    assert tile.one(attrs={"class": "late-minutes"}).text == "+12 min"
    assert parse(response.text).one(attrs={"id": "announce"}).text.endswith(": Late")


@pytest.mark.parametrize(
    ("minutes", "message"),
    [("41", BOUNDS), ("-3", BOUNDS), ("soon", "A valid integer is required.")],
)
def test_minutes_late_out_of_bounds_are_refused_in_the_cell(
    app, classroom, roster, lesson, minutes, message
):
    student = classroom.klass.students[0]
    mark(app, classroom.klass, lesson, student, "LATE")

    response = post_minutes(roster, lesson, student, minutes)

    assert response.status_code == 400
    tile = cells(response.text)[str(student.profile_id)]
    assert tile.one(attrs={"class": "cell-error"}).text == message
    assert len(audit_trail(app, session_id=lesson)) == 1


def test_minutes_late_for_a_student_who_is_not_late_ask_to_mark_late_first(
    app, classroom, roster, lesson
):
    student = classroom.klass.students[0]
    mark(app, classroom.klass, lesson, student, "PRESENT")

    response = post_minutes(roster, lesson, student, "5")

    assert response.status_code == 400
    tile = cells(response.text)[str(student.profile_id)]
    assert tile.one(attrs={"class": "cell-error"}).text == (
        "Only a late arrival has minutes late: mark the student Late first."
    )


def test_the_roster_hint_says_how_to_reach_late_directly(roster):
    _, page = roster
    hint = parse(page).one(attrs={"id": "roster-hint"})
    assert "Hold a student" in hint.text and "Late straight away" in hint.text
