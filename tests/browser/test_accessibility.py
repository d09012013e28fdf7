"""Every page type, as each role that sees it, audited by axe-core in real Chromium: no
violation of WCAG 2.1 A or AA. The roster is audited on a desktop and on a phone, before
and after a mark made live by another client (a token holder through the JSON API).

Each test logs in once and walks its role's pages, collecting every page's violations, so
one run names them all; it fails at the end listing each (rule, impact, selectors, help)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.a11y import axe_violations, format_violations
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    api_post,
    cell,
    login,
    make_roster,
    wait_live,
)
from tests.factories import run_sessions

pytestmark = pytest.mark.browser

START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


class Audit:
    """The violations of each page audited, by label; ``check()`` fails listing them all."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.audited: list[str] = []

    def __call__(self, page, label: str) -> None:
        page.wait_for_load_state("load")
        self.audited.append(label)
        violations = axe_violations(page)
        if violations:
            self.found.append(format_violations(label, violations))

    def visit(self, page, path: str, label: str) -> None:
        page.goto(path)
        self(page, label)

    def check(self) -> None:
        assert self.audited
        assert not self.found, "\n\n".join(self.found)


@pytest.fixture
def roster_with_alert(app):
    """make_roster's class with its ACTIVE session, after nine ended lessons in which the
    first student was absent at the last three (an alert, so the bells have notifications)."""
    admin, klass, session_id = make_roster(app)
    first = klass.students[0]
    plan = [dict.fromkeys(klass.students, "PRESENT") for _ in range(6)]
    plan += [{**dict.fromkeys(klass.students, "PRESENT"), first: "ABSENT"} for _ in range(3)]
    run_sessions(app, klass, plan, first_start=START, end=True)
    student = factories.make_student(app, first_name="Sam", last_name="Student")
    factories.enroll(app, klass, [student], admin=admin)
    return admin, klass, session_id, student


def test_the_login_page_is_accessible(open_page):
    audit = Audit()
    page = open_page()
    audit.visit(page, "/login", "login")
    audit.check()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_roster_is_accessible_before_and_after_a_live_change(
    app, server, open_page, roster_with_alert, viewport
):
    admin, klass, session_id, _ = roster_with_alert
    factories.mark(app, klass, session_id, klass.students[0], "PRESENT")
    audit = Audit()
    page = open_page(viewport=viewport)
    login(page, klass.teacher)
    page.goto(f"/sessions/{session_id}")
    wait_live(page)
    audit(page, "roster (teacher)")
    second = klass.students[1]
    tap = cell(page, second).locator(".cell-tap")
    expect(tap).to_have_accessible_name(re.compile(r"\bNot marked\b"))
    response = api_post(
        server,
        admin.token,
        "/api/attendance/mark/",
        {"session_id": str(session_id), "student_id": str(second.profile_id), "status": "LATE"},
    )
    assert response.status_code == 201, response.text
    expect(cell(page, second)).to_have_attribute("data-status", "LATE")
    # What a screen reader announces follows the live change.
    expect(tap).to_have_accessible_name(re.compile(r"\bLate\b"))
    expect(tap).not_to_have_accessible_name(re.compile(r"\bNot marked\b"))
    audit(page, "roster (teacher) after a live mark")
    first = klass.students[0]  # marked before the page loaded: it has its note form
    cell(page, first).locator("details.cell-menu summary").click()
    expect(cell(page, first).locator('input[name="notes"]')).to_be_visible()
    audit(page, "roster (teacher), a note open")
    audit.check()


def test_every_page_a_teacher_sees_is_accessible(server, open_page, roster_with_alert):
    _, klass, session_id, _ = roster_with_alert
    first = klass.students[0]
    audit = Audit()
    page = open_page()
    login(page, klass.teacher)
    audit(page, "teacher home")
    audit.visit(page, f"/classes/{klass.id}", "class page")
    audit.visit(page, f"/classes/{klass.id}/analytics", "class analytics")
    audit.visit(page, f"/students/{first.profile_id}/history", "student history (teacher)")
    audit.visit(page, "/notifications", "notifications (teacher)")
    audit.visit(page, f"/sessions/{session_id}/check-in-code", "check-in code")
    audit.visit(page, f"/sessions/{session_id}/end", "end session")
    audit.visit(page, "/account/password", "change password")
    audit.visit(page, "/account/two-factor", "two-factor set-up")
    audit.check()


def test_every_page_a_student_sees_is_accessible(server, open_page, roster_with_alert):
    *_, student = roster_with_alert
    audit = Audit()
    page = open_page()
    login(page, student)
    audit(page, "student home (history)")
    audit.visit(page, "/notifications", "notifications (student)")
    audit.visit(page, "/check-in", "check in")
    audit.check()


def test_every_page_an_admin_sees_is_accessible(server, open_page, roster_with_alert, tmp_path):
    admin, klass, session_id, student = roster_with_alert
    audit = Audit()
    page = open_page()
    login(page, admin)
    wait_live(page)
    audit(page, "dashboard")
    audit.visit(page, f"/sessions/{session_id}", "roster (admin)")
    audit.visit(page, "/admin/records", "records")
    page.fill('input[name="date_from"]', "2026-02-10")
    page.fill('input[name="date_to"]', "2026-02-01")
    page.click('form.record-filters button[type="submit"]')
    expect(page.locator("[data-range-message]")).not_to_be_empty()
    audit(page, "records, a reversed period refused")
    row = page.locator("table.records-table tr[data-record-id]").first
    record_id = row.get_attribute("data-record-id")
    audit.visit(page, f"/admin/records/{record_id}", "record")
    audit.visit(page, f"/admin/records/{record_id}/delete", "record delete confirmation")
    audit.visit(page, "/admin/people", "people")
    audit.visit(page, f"/admin/people/{student.user_id}", "person")
    audit.visit(page, f"/admin/people/{student.user_id}/deactivate", "deactivate confirmation")
    audit.visit(page, "/admin/subjects", "subjects")
    subject = page.locator('main a[href^="/admin/subjects/"]').first.get_attribute("href")
    audit.visit(page, subject, "subject")
    audit.visit(page, "/admin/classes", "classes")
    audit.visit(page, f"/admin/classes/{klass.id}", "class (back office)")
    audit.visit(page, f"/admin/classes/{klass.id}/students", "class students")
    audit.visit(
        page,
        f"/admin/classes/{klass.id}/students/{student.profile_id}/remove",
        "enrolment removal confirmation",
    )
    audit.visit(page, f"/classes/{klass.id}/analytics", "class analytics (admin)")
    audit.visit(page, f"/students/{student.profile_id}/history", "student history (admin)")
    audit.visit(page, "/notifications", "notifications (admin)")
    audit.visit(page, "/admin/import", "import")
    upload = tmp_path / "students.csv"
    upload.write_text(
        "student_number,first_name,last_name,email,class_name\r\n"
        "S90001,Noor,Rahman,noor.rahman@school.test,MATH101 Section A\r\n"
        "S90002,,Hansen,not-an-email,No such class\r\n",
        encoding="utf-8",
    )
    page.route("**/admin/import/preview", lambda route: route.continue_())
    page.set_input_files('#import-upload input[name="file"]', str(upload))
    page.click('#import-upload button[type="submit"]')
    expect(page.locator("table[data-import='errors'] tbody tr")).not_to_have_count(0)
    audit(page, "import preview")
    audit.check()
