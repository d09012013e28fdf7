"""Late without the detour, in real Chromium: on a phone (390×844, touch) a long press on a
tile opens its menu and one tap makes the student Late (one step in the audit trail); the
minutes late are corrected there, and another device repaints "+N min" live. On a desktop
the same through a long mouse press or the tile's "More". The hint says so on a phone too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from attendance_app.models import AttendanceStatus, utcnow
from tests import factories
from tests.browser.conftest import api_post, cell, open_roster, screenshot, settled

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def lesson(app):
    """Six students and a session that started 25 minutes ago."""
    admin = factories.make_admin(app)
    students = factories.make_students(app, 6)
    klass = factories.make_class(app, admin=admin, students=students, name="Year 7 Art")
    session_id = factories.make_session(app, klass, start_at=utcnow() - timedelta(minutes=25))
    return klass, session_id


def long_press_by_touch(page, locator) -> None:
    """A finger held on ``locator`` until its tile's menu is open, then lifted (CDP touch
    events: Playwright has no long-press of its own)."""
    box = locator.bounding_box()
    point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
    menu = locator.locator("xpath=ancestor::li[1]//details[contains(@class,'cell-menu')]")
    expect(menu).to_have_attribute("open", "")
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def statuses_in_trail(app, session_id, student):
    return [
        (row["old_status"], row["new_status"])
        for row in factories.audit_trail(app, session_id)
        if row["student_id"] == student.profile_id
    ]


def test_on_a_phone_a_long_press_makes_a_student_late_in_one_step(app, server, open_page, lesson):
    klass, session_id = lesson
    teacher = klass.teacher
    student = klass.students[0]
    page = open_page(viewport=PHONE, has_touch=True, is_mobile=True)
    other_device = open_page(viewport=DESKTOP)
    open_roster(page, teacher, session_id)
    open_roster(other_device, teacher, session_id)

    hint = page.locator("#roster-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Hold a student")

    tile = cell(page, student)
    long_press_by_touch(page, tile.locator(".cell-tap"))
    # The press itself changed nothing; Late is one tap away and has the focus.
    expect(tile).to_have_attribute("data-status", "")
    late = tile.locator('[data-set-status="LATE"]')
    expect(late).to_be_focused()
    late.tap()
    expect(tile).to_have_attribute("data-status", "LATE")
    expect(tile.locator(".late-minutes")).to_have_text("+25 min")
    settled(page)
    assert statuses_in_trail(app, session_id, student) == [(None, AttendanceStatus.LATE)]

    # The minutes late corrected from the menu; the other device repaints them live.
    tile.locator("summary").tap()
    minutes = tile.locator('input[name="minutes"]')
    expect(minutes).to_have_value("25")
    screenshot(page, "roster-late-menu-phone")
    # The other device's menu, opened on its live-painted tile, says the same; it stays
    # current while open.
    cell(other_device, student).locator("summary").click()
    expect(cell(other_device, student).locator('input[name="minutes"]')).to_have_value("25")
    minutes.fill("12")
    tile.get_by_role("button", name="Save minutes").tap()
    expect(tile.locator(".late-minutes")).to_have_text("+12 min")
    expect(cell(other_device, student).locator(".late-minutes")).to_have_text("+12 min")
    expect(cell(other_device, student).locator('input[name="minutes"]')).to_have_value("12")

    # A plain tap still cycles (the long press did not break tapping).
    second = cell(page, klass.students[1])
    second.locator(".cell-tap").tap()
    expect(second).to_have_attribute("data-status", "PRESENT")


def test_on_a_desktop_a_long_mouse_press_or_more_reaches_late_directly(
    app, server, open_page, lesson
):
    klass, session_id = lesson
    page = open_page(viewport=DESKTOP)
    open_roster(page, klass.teacher, session_id)
    first, second = klass.students[:2]
    response = api_post(
        server,
        klass.teacher.token,
        "/api/attendance/mark/",
        {"session_id": str(session_id), "student_id": str(first.profile_id), "status": "PRESENT"},
    )
    assert response.status_code == 201, response.text
    expect(cell(page, first)).to_have_attribute("data-status", "PRESENT")
    settled(page)

    # Held with the mouse: the menu opens, and letting go does not cycle the status.
    tap = cell(page, first).locator(".cell-tap")
    tap.hover()
    page.mouse.down()
    expect(cell(page, first).locator("details.cell-menu")).to_have_attribute("open", "")
    page.mouse.up()
    expect(cell(page, first)).to_have_attribute("data-status", "PRESENT")
    cell(page, first).locator('[data-set-status="LATE"]').click()
    expect(cell(page, first)).to_have_attribute("data-status", "LATE")
    settled(page)
    assert statuses_in_trail(app, session_id, first) == [
        (None, AttendanceStatus.PRESENT),
        (AttendanceStatus.PRESENT, AttendanceStatus.LATE),
    ]

    # Through "More" on another tile.
    cell(page, second).get_by_text("More").click()
    cell(page, second).locator('[data-set-status="LATE"]').click()
    expect(cell(page, second)).to_have_attribute("data-status", "LATE")
    expect(page.locator("#roster-hint")).to_be_visible()
