"""Self check-in in real Chromium: the projector's code rotates by itself while a student
checks in on a phone-sized browser, and the teacher's roster and the projector follow live."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    PHONE,
    cell,
    expect_stats,
    login,
    make_roster,
    screenshot,
    settled,
    wait_live,
)
from tests.factories import PASSWORD
from tests.live.conftest import ServerProcess, start_server

pytestmark = pytest.mark.browser

#: A short code period, so the test sees the code rotate without waiting half a minute. A code
#: read just after it appeared stays valid for two periods (its own and the next).
PERIOD = 8


@pytest.fixture(scope="module")
def server(app, database_url: str) -> Iterator[ServerProcess]:
    """The browser tests' server, with codes that change every PERIOD seconds."""
    proc = start_server(
        database_url, "eventlet", extra_env={"CHECK_IN_PERIOD_SECONDS": str(PERIOD)}
    )
    yield proc
    proc.stop()


def mark_loaded(page) -> None:
    page.evaluate("() => { window.__notReloaded = true; }")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("() => window.__notReloaded === true"), "the page reloaded"


def shown_code(page) -> str:
    return page.get_attribute("#check-in-panel", "data-code")


def wait_for_next_code(page, after: str) -> str:
    """Until the projector shows a code other than ``after`` (it rotates by itself)."""
    page.wait_for_function(
        "(before) => { const p = document.getElementById('check-in-panel');"
        " return p && p.dataset.code && p.dataset.code !== before; }",
        arg=after,
        timeout=(3 * PERIOD) * 1000,
    )
    return shown_code(page)


def test_a_student_checks_in_on_a_phone_while_the_code_rotates_and_the_roster_follows(
    app, server, open_page
):
    _, klass, session_id = make_roster(app)
    teacher = klass.teacher
    student = klass.students[2]

    # The teacher's roster on a laptop.
    roster = open_page()
    login(roster, teacher)
    roster.goto(f"/sessions/{session_id}")
    wait_live(roster)
    mark_loaded(roster)

    # The projector: from the roster's toolbar to the code page.
    projector = open_page()
    login(projector, teacher)
    projector.goto(f"/sessions/{session_id}")
    projector.click("#check-in-code")
    projector.wait_for_url(f"**/sessions/{session_id}/check-in-code")
    wait_live(projector)
    mark_loaded(projector)
    first = shown_code(projector)
    assert len(first) == 6 and first.isdigit()
    expect(projector.locator(".check-in-code")).to_have_text(f"{first[:3]}{first[3:]}")
    expect(projector.locator("svg.qr-code")).to_be_visible()
    expect(projector.locator("[data-checked-in]")).to_have_text("0")

    # It rotates by itself: a new code, and a new QR code, without a reload.
    second = wait_for_next_code(projector, first)
    assert_not_reloaded(projector)
    expect(projector.locator(".check-in-code")).to_have_text(f"{second[:3]}{second[3:]}")
    qr_url = projector.get_attribute("#check-in-panel a", "href")
    assert qr_url.endswith(f"/check-in?session={session_id}&code={second}")

    # The student scans the QR code on a phone: sign in, back to the filled page, one tap.
    phone = open_page(PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    phone.goto(qr_url)
    assert "/login" in phone.url
    phone.fill('input[name="email"]', student.email)
    phone.fill('input[name="password"]', PASSWORD)
    with phone.expect_navigation():
        phone.tap('form button[type="submit"]')
    assert phone.url == qr_url
    expect(phone.locator('input[name="code"]')).to_have_value(second)
    expect(phone.locator(".check-in-lesson")).to_contain_text(klass.name)
    button = phone.locator("#check-in-button")
    box = button.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 300
    screenshot(phone, "check-in-phone")
    with phone.expect_navigation():
        button.tap()
    result = phone.locator("[data-check-in-status]")
    expect(result).to_have_attribute("data-check-in-status", "PRESENT")
    expect(result).to_contain_text("You're checked in. Welcome to")
    screenshot(phone, "check-in-phone-done")

    # The teacher's roster shows it live, marked by the student: "Checked in".
    tile = cell(roster, student)
    expect(tile).to_have_attribute("data-status", "PRESENT")
    expect(tile.locator(".checked-in-marker")).to_have_text("Checked in")
    expect(tile.locator(".changed-by")).to_have_count(0)
    expect_stats(roster, present=1, not_marked=5)
    assert_not_reloaded(roster)

    # The projector counts it live, still rotating.
    expect(projector.locator("[data-checked-in]")).to_have_text("1")
    expect_stats(projector, present=1, not_marked=5)
    third = wait_for_next_code(projector, second)
    assert third != second
    assert_not_reloaded(projector)
    screenshot(projector, "check-in-projector", full_page=False)

    # The teacher can always correct it: a tap, and the marker is gone everywhere.
    tile.locator(".cell-tap").click()
    expect(tile).to_have_attribute("data-status", "ABSENT")
    expect(tile.locator(".checked-in-marker")).to_have_count(0)
    settled(roster)
    expect(projector.locator("[data-checked-in]")).to_have_text("0")
    expect_stats(projector, present=0, absent=1, not_marked=5)
