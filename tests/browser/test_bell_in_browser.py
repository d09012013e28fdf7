"""The bell in real Chromium: a tap that puts a student over the alert line rings the
teacher's and the admin's bells at once; the tap that corrects it in class silences them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import cell, login, make_roster, screenshot, settled, wait_live
from tests.factories import run_sessions

pytestmark = pytest.mark.browser

START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


def bell_count(page):
    return page.locator("[data-bell] [data-bell-count]")


def test_the_bell_rings_live_on_a_crossing_and_falls_silent_on_the_correction(
    app, server, open_page
):
    admin, klass, session_id = make_roster(app)
    student = klass.students[0]
    # Seven lessons present, then two absent: one more absence is three in a row.
    plan = [{student: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 2]
    run_sessions(app, klass, plan, first_start=START, end=True)
    teacher_page = open_page()
    admin_page = open_page()
    watcher = open_page()  # the admin's roster of the same session, on another device
    login(teacher_page, klass.teacher)
    login(admin_page, admin)
    login(watcher, admin)
    teacher_page.goto(f"/sessions/{session_id}")
    admin_page.goto("/notifications")
    watcher.goto(f"/sessions/{session_id}")
    wait_live(teacher_page)
    wait_live(watcher)
    expect(bell_count(teacher_page)).to_be_hidden()
    expect(bell_count(admin_page)).to_be_hidden()
    for page in (teacher_page, watcher):
        expect(cell(page, student).locator(".alert-flag")).to_have_count(0)

    tap = cell(teacher_page, student).locator(".cell-tap")
    tap.click()  # not marked → Present
    settled(teacher_page)
    tap.click()  # Present → Absent: the third absence in a row
    settled(teacher_page)

    expect(bell_count(teacher_page)).to_have_text("1")
    expect(bell_count(admin_page)).to_have_text("1")
    # The tile says so on the tapping device and, live, on the other one.
    for page in (teacher_page, watcher):
        expect(cell(page, student).locator(".alert-flag")).to_have_attribute(
            "title", "3 absences in a row (at least 3)"
        )
    expect(admin_page.locator("[data-bell]")).to_have_attribute(
        "aria-label", "Notifications: 1 unread"
    )
    admin_page.reload()
    expect(admin_page.locator("li[data-notification-id]")).to_contain_text(
        f"{student.full_name} is at high risk in {klass.name}"
    )
    screenshot(admin_page, "notifications")

    tap.click()  # Absent → Late: a correction made in class withdraws the alert
    settled(teacher_page)

    expect(bell_count(teacher_page)).to_be_hidden()
    expect(bell_count(admin_page)).to_be_hidden()
    for page in (teacher_page, watcher):
        expect(cell(page, student).locator(".alert-flag")).to_have_count(0)
