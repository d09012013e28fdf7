"""The tile's menu in real Chromium: every tile draws only its "More", and the page's one menu
body is filled in for the student as the menu opens (static/js/cell_menu.js). Opened with the
keyboard it shows that student's note, minutes late and excuse and saves them; it offers only
what the student's status allows, follows a change made on another device, and opens and
queues a status offline like a tap."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from attendance_app.models import AbsenceReason, Channel
from attendance_app.services.marking import excuses
from tests import factories
from tests.browser.conftest import api_put, api_view, cell, make_roster, open_roster, settled

pytestmark = pytest.mark.browser


def excuse(app, klass, record_id, reason: AbsenceReason, note: str) -> None:
    with app.app_context():
        excuses.excuse_absence(
            actor=factories.actor(klass.teacher.user_id),
            attendance_id=record_id,
            reason=reason,
            note=note,
            channel=Channel.WEB,
        )


def open_with_keyboard(page, student) -> None:
    cell(page, student).locator("details.cell-menu summary").focus()
    page.keyboard.press("Enter")
    expect(cell(page, student).locator("details.cell-menu")).to_have_attribute("open", "")


def test_the_menu_opened_with_the_keyboard_is_the_students_own_and_saves_a_note(app, server, page):
    _, klass, session_id = make_roster(app)
    absent, present, unmarked = klass.students[:3]
    record_id = factories.mark(app, klass, session_id, absent, "ABSENT", notes="Bus was late")
    excuse(app, klass, record_id, AbsenceReason.MEDICAL, "Dentist letter")
    factories.mark(app, klass, session_id, present, "PRESENT")
    open_roster(page, klass.teacher, session_id)

    open_with_keyboard(page, absent)
    menu = cell(page, absent).locator("details.cell-menu")
    who = f"{absent.first_name} {absent.last_name}"
    expect(menu.get_by_role("group", name=f"Mark {who}")).to_be_visible()
    note = menu.get_by_label(f"Note for {who}")
    expect(note).to_have_value("Bus was late")
    expect(note).to_have_id(f"notes-{absent.profile_id}")
    expect(menu.locator(".notes-count")).to_have_text("12 / 2000")
    expect(menu.get_by_label("Reason")).to_have_value("MEDICAL")
    expect(menu.locator(".excuse-form input[name=note]")).to_have_value("Dentist letter")
    expect(menu.locator(".excuse-form button[type=submit]")).to_have_text("Change excuse")
    expect(menu.locator("[data-excuse-withdraw]")).to_have_count(1)
    # Only this tile's menu has a body; its URLs are this student's.
    expect(page.locator(".cell-menu-body")).to_have_count(1)
    late_form = menu.locator(".late-form")
    assert late_form.get_attribute("hx-post") == (
        f"/sessions/{session_id}/students/{absent.profile_id}/late-minutes"
    )

    # Typed and saved with the keyboard alone.
    note.focus()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Bus was very late")
    page.keyboard.press("Enter")
    settled(page)
    expect(cell(page, absent).locator(".cell-note")).to_have_text("Bus was very late")
    [record] = [
        r
        for r in api_view(server, klass.teacher, session_id)["records"]
        if r["student"]["id"] == str(absent.profile_id)
    ]
    assert record["notes"] == "Bus was very late"

    # A present student's menu: a note, no excuse; an unmarked one's: statuses and minutes.
    open_with_keyboard(page, present)
    menu = cell(page, present).locator("details.cell-menu")
    expect(menu.locator("input[name=notes]")).to_have_value("")
    expect(menu.locator("[data-excuse-form], [data-excuse-withdraw]")).to_have_count(0)
    open_with_keyboard(page, unmarked)
    menu = cell(page, unmarked).locator("details.cell-menu")
    expect(menu.locator("[data-set-status]")).to_have_count(3)
    expect(menu.locator("input[name=minutes]")).to_have_count(1)
    expect(menu.locator("input[name=notes], [data-excuse-form]")).to_have_count(0)


def test_the_menu_offers_what_a_change_made_on_another_device_allows(app, server, page):
    _, klass, session_id = make_roster(app)
    student = klass.students[0]
    factories.mark(app, klass, session_id, student, "PRESENT")
    open_roster(page, klass.teacher, session_id)
    menu = cell(page, student).locator("details.cell-menu")
    menu.locator("summary").click()
    expect(menu.locator("[data-excuse-form]")).to_have_count(0)
    menu.locator("summary").click()  # closed again

    [record_id] = [
        r["id"]
        for r in api_view(server, klass.teacher, session_id)["records"]
        if r["student"]["id"] == str(student.profile_id)
    ]
    response = api_put(
        server, klass.teacher.token, f"/api/attendance/{record_id}/", {"status": "ABSENT"}
    )
    assert response.status_code == 200, response.text
    expect(cell(page, student)).to_have_attribute("data-status", "ABSENT")

    menu.locator("summary").click()
    menu.get_by_label("Reason").select_option("ILLNESS")
    menu.get_by_role("button", name="Excuse").click()
    settled(page)
    expect(cell(page, student)).to_have_attribute("data-excused", "ILLNESS")


def test_a_menu_opens_offline_and_its_status_is_kept_like_a_tap(app, server, page):
    _, klass, session_id = make_roster(app)
    student = klass.students[0]
    open_roster(page, klass.teacher, session_id)

    page.context.set_offline(True)
    page.wait_for_function("() => navigator.onLine === false")
    menu = cell(page, student).locator("details.cell-menu")
    menu.locator("summary").click()
    menu.locator('[data-set-status="LATE"]').click()
    expect(page.locator("#pending-badge")).to_have_text("1 pending")
    expect(cell(page, student)).to_have_attribute("data-status", "LATE")
    expect(cell(page, student)).to_have_class(re.compile(r"\bpending\b"))
    assert api_view(server, klass.teacher, session_id)["records"] == []

    page.context.set_offline(False)
    expect(page.locator("#pending-badge")).to_be_hidden()
    settled(page)
    statuses = {
        r["student"]["id"]: r["status"]
        for r in api_view(server, klass.teacher, session_id)["records"]
    }
    assert statuses == {str(student.profile_id): "LATE"}
