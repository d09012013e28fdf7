"""Issue "live updates": two real browsers on one roster see each other's taps, and marks
made through the JSON API, without reloading."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import (
    api_get,
    api_post,
    api_put,
    cell,
    expect_stats,
    login,
    make_roster,
    page_stats,
    settled,
    wait_live,
)

pytestmark = pytest.mark.browser


def wait_for_cell(page, student, status: str) -> None:
    """Until ``student``'s cell shows ``status`` — applied by the live client, not a reload."""
    page.wait_for_function(
        """([id, status]) => {
              const c = document.querySelector(`#roster-grid [data-student-id="${id}"]`);
              return c && c.dataset.status === status;
           }""",
        arg=[str(student.profile_id), status],
    )


def mark_loaded(page) -> None:
    """Tag the document: if the page reloads, the tag is gone (so "without reload" is checked)."""
    page.evaluate("() => { window.__notReloaded = true; }")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("() => window.__notReloaded === true"), "the page reloaded"


def test_a_tap_in_one_browser_shows_in_the_other_and_api_marks_in_both(app, server, open_page):
    admin, klass, session_id = make_roster(app)
    teacher = klass.teacher
    first, second, third = klass.students[:3]

    teacher_page = open_page()
    admin_page = open_page()
    login(teacher_page, teacher)
    login(admin_page, admin)
    for page in (teacher_page, admin_page):
        page.goto(f"/sessions/{session_id}")
    for page in (teacher_page, admin_page):
        wait_live(page)
        mark_loaded(page)

    # The teacher taps: the admin's page follows.
    cell(teacher_page, first).locator(".cell-tap").click()
    expect(cell(teacher_page, first)).to_have_attribute("data-status", "PRESENT")
    wait_for_cell(admin_page, first, "PRESENT")
    expect_stats(admin_page, present=1, absent=0, not_marked=5, attendance_rate=16.67)
    expect(cell(admin_page, first).locator(".status-word")).to_have_text("Present")

    # Again (the cell's next step comes from what the page shows, and the watcher's
    # cell now knows it too): PRESENT → ABSENT.
    settled(teacher_page)
    cell(teacher_page, first).locator(".cell-tap").click()
    wait_for_cell(admin_page, first, "ABSENT")
    expect_stats(admin_page, present=0, absent=1, not_marked=5, attendance_rate=0)

    # The admin taps the same student in turn: the admin's page moved on from ABSENT, so
    # this is LATE, and the teacher's page follows.
    cell(admin_page, first).locator(".cell-tap").click()
    expect(cell(admin_page, first)).to_have_attribute("data-status", "LATE")
    wait_for_cell(teacher_page, first, "LATE")
    expect_stats(teacher_page, present=0, absent=0, late=1, not_marked=5)
    settled(admin_page)

    # A mark through the JSON API (a token, no browser) appears in both pages.
    response = api_post(
        server,
        teacher.token,
        "/api/attendance/mark/",
        {"session_id": str(session_id), "student_id": str(second.profile_id), "status": "ABSENT"},
    )
    assert response.status_code == 201, response.text
    for page in (teacher_page, admin_page):
        wait_for_cell(page, second, "ABSENT")
        expect_stats(page, present=0, absent=1, late=1, not_marked=4, attendance_rate=16.67)

    # A bulk mark and an update through the API too.
    response = api_post(
        server,
        admin.token,
        "/api/attendance/mark/",
        {
            "session_id": str(session_id),
            "records": [
                {"student_id": str(third.profile_id), "status": "PRESENT"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    record_id = response.json()["attendance_records"][0]["id"]
    for page in (teacher_page, admin_page):
        wait_for_cell(page, third, "PRESENT")
    update = api_put(server, teacher.token, f"/api/attendance/{record_id}/", {"status": "LATE"})
    assert update.status_code == 200, update.text
    for page in (teacher_page, admin_page):
        wait_for_cell(page, third, "LATE")
        expect_stats(page, present=0, absent=1, late=2, not_marked=3, attendance_rate=33.33)

    # Both pages agree with the API, and neither reloaded to get there.
    view = api_get(server, teacher.token, f"/api/attendance/session/{session_id}/")
    for page in (teacher_page, admin_page):
        shown = page_stats(page)
        for key, value in view["statistics"].items():
            assert float(shown[key]) == float(value), (key, shown, view["statistics"])
        assert_not_reloaded(page)
        expect(page.locator("body")).to_have_attribute("data-live", "live")

    # A watcher's next tap starts from what the live update showed: LATE → PRESENT.
    cell(admin_page, third).locator(".cell-tap").click()
    expect(cell(admin_page, third)).to_have_attribute("data-status", "PRESENT")
    wait_for_cell(teacher_page, third, "PRESENT")
    settled(admin_page)


def test_a_page_that_missed_a_broadcast_catches_up_from_the_next_one(app, server, open_page):
    """A change whose broadcast never reached the page (here: made by another process with no
    message queue, as while Redis is down) shows as soon as a later broadcast arrives: the
    page sees the skipped number and reloads the grid."""
    _admin, klass, session_id = make_roster(app)
    first, second = klass.students[:2]
    page = open_page()
    login(page, klass.teacher)
    page.goto(f"/sessions/{session_id}")
    wait_live(page)
    mark_loaded(page)

    factories.mark(app, klass, session_id, first, "LATE")  # this process reaches no page
    response = api_post(
        server,
        klass.teacher.token,
        "/api/attendance/mark/",
        {"session_id": str(session_id), "student_id": str(second.profile_id), "status": "ABSENT"},
    )
    assert response.status_code == 201, response.text
    wait_for_cell(page, second, "ABSENT")
    wait_for_cell(page, first, "LATE")
    expect_stats(page, present=0, absent=1, late=1, not_marked=4)
    assert_not_reloaded(page)


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_live_change_from_another_client_updates_the_cells_accessible_name(
    app, server, open_page, viewport
):
    """Issue 11: a screen reader hears the new status after a change made elsewhere (the
    tile's name is its text, which the live repaint rewrites as the server's macro does)."""
    _admin, klass, session_id = make_roster(app)
    teacher = klass.teacher
    student = klass.students[0]
    page = open_page(viewport=viewport)
    login(page, teacher)
    page.goto(f"/sessions/{session_id}")
    wait_live(page)
    mark_loaded(page)
    tap = cell(page, student).locator(".cell-tap")
    name = f"{student.last_name}, {student.first_name}"
    expect(tap).to_have_accessible_name(re.compile(rf"^{name}\b.*\bNot marked\b.*Tap to change"))

    response = api_post(
        server,
        teacher.token,
        "/api/attendance/mark/",
        {"session_id": str(session_id), "student_id": str(student.profile_id), "status": "LATE"},
    )
    assert response.status_code == 201, response.text
    wait_for_cell(page, student, "LATE")
    late = re.compile(rf"^{name}\b.*\bLate\b.*Tap to change")
    expect(tap).to_have_accessible_name(late)
    expect(tap).not_to_have_accessible_name(re.compile("Not marked"))
    assert_not_reloaded(page)

    # After a reload the server's macro says the same: one renderer.
    page.reload()
    wait_live(page)
    expect(cell(page, student).locator(".cell-tap")).to_have_accessible_name(late)
