"""Guardians in real Chromium: an admin adds one on a student's page; the student's absence
reaches the guardian as an email received by a real SMTP server (aiosmtpd); the guardian
opens its unsubscribe link in a browser without an account, and the student's page says
their emails are off."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import expect

from attendance_app.extensions import db
from attendance_app.services.notifying import guardian_digest, outbox
from tests import factories
from tests.browser.conftest import login, make_roster, screenshot
from tests.mail import smtp_server

pytestmark = pytest.mark.browser

DAY = date(2026, 9, 7)
MORNING = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
PUBLIC_URL = "https://attendance.school.test"


@pytest.fixture
def smtp(app, monkeypatch):
    """The digest and the outbox run here, in the test's process, on the server's database."""
    with smtp_server() as (received, port):
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", port)
        monkeypatch.setitem(app.config, "MAIL_FROM", "attendance@school.test")
        monkeypatch.setitem(app.config, "SCHOOL_CONTACT_EMAIL", "office@school.test")
        monkeypatch.setitem(app.config, "PUBLIC_URL", PUBLIC_URL)
        yield received


def test_a_guardian_added_on_the_page_is_emailed_and_unsubscribes_without_a_login(
    app, server, open_page, smtp
):
    admin, klass, _ = make_roster(app)
    student = klass.students[0]

    page = open_page()
    login(page, admin)
    page.goto(f"/admin/people/{student.user_id}")
    form = page.locator("form#guardian-add")
    form.get_by_label("Name", exact=True).fill("Mary Adams")
    form.get_by_label("Relationship").fill("Mother")
    form.get_by_label("Email", exact=True).fill("mary@home.test")
    form.get_by_label(re.compile("Email them the day")).check()
    with page.expect_navigation():
        form.get_by_role("button", name="Add guardian").click()
    section = page.locator("section#guardians")
    expect(section.locator("h2")).to_have_text("Guardians (1)")
    expect(section.locator("ul.guardians li")).to_contain_text("Mary Adams")
    expect(section.locator("[data-notify]")).to_have_text("Emails on")
    screenshot(page, "student-guardians")

    # Absent from a lesson that ended: that day's digest goes out through the outbox.
    session_id = factories.make_session(app, klass, start_at=MORNING)
    factories.mark(app, klass, session_id, student, "ABSENT")
    factories.end_session(app, klass, session_id, at=MORNING + timedelta(hours=1))
    with app.app_context():
        assert guardian_digest.send_guardian_digests(day=DAY) == 1
        assert outbox.send_due().failed == 0
        db.session.remove()
    [message] = [m for m in smtp.messages if m["To"] == "mary@home.test"]
    assert message["Subject"] == f"{student.full_name} was absent on Monday 07 September 2026"
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert f"{student.full_name} was marked absent from a lesson on Monday" in body
    link = re.search(re.escape(PUBLIC_URL) + r"(/guardians/unsubscribe/\S+)", body)[1]

    # The guardian has no account: the link works in a browser that never signed in.
    guardian = open_page()
    guardian.goto(link)
    expect(guardian.locator("#guardian-unsubscribe h1")).to_have_text("Stop these emails?")
    with guardian.expect_navigation():
        guardian.locator("#unsubscribe").click()
    expect(guardian.locator("#guardian-unsubscribe [role=status]")).to_contain_text(
        "You will not receive these emails any more, Mary Adams."
    )

    page.reload()
    expect(page.locator("section#guardians [data-notify]")).to_have_text("Emails off")
