"""The admin dashboard in a real browser: the roll board follows marks made through the API
live (without a reload), and a session started elsewhere appears on it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import api_post, login, make_roster, screenshot, wait_live

pytestmark = pytest.mark.browser


def test_the_roll_board_follows_marks_live(app, server, open_page):
    admin, klass, session_id = make_roster(app)
    first, second = klass.students[:2]
    page = open_page()
    login(page, admin)
    page.goto("/")
    wait_live(page)
    page.evaluate("() => { window.__notReloaded = true; }")
    row = page.locator(f'#roll-board tr[data-session-id="{session_id}"]')
    expect(row.locator('[data-board="marked"]')).to_have_text("0")

    for student, status in ((first, "PRESENT"), (second, "LATE")):
        response = api_post(
            server,
            klass.teacher.token,
            "/api/attendance/mark/",
            {
                "session_id": str(session_id),
                "student_id": str(student.profile_id),
                "status": status,
            },
        )
        assert response.status_code == 201, response.text

    expect(row.locator('[data-board="marked"]')).to_have_text("2")
    expect(row.locator('[data-board="rate"]')).to_have_text("33.33")
    assert row.locator("progress").evaluate("p => p.value") == 2
    assert page.evaluate("() => window.__notReloaded === true"), "the page reloaded"

    # A session started elsewhere appears on the board (the board region reloads).
    other = factories.make_class(app, admin=admin, teacher=klass.teacher, students=2)
    other_session = factories.make_session(app, other, start=False)
    started = api_post(server, klass.teacher.token, f"/api/sessions/{other_session}/start/", {})
    assert started.status_code == 200, started.text
    expect(page.locator(f'#roll-board tr[data-session-id="{other_session}"]')).to_have_count(1)
    screenshot(page, "dashboard")

    # The weekly trend is drawn from the canvas's data: this week's two records, both attended.
    page.reload()
    trend = page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('trend-chart'))"
        " && Chart.getChart(document.getElementById('trend-chart')).data.datasets[0].data"
    )
    assert trend.json_value() == [100.0]
