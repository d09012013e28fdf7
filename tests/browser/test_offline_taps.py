"""Issue "live updates": taps made while the classroom network is down queue in the page,
replay when it returns, and reach the server exactly once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import api_view, cell, make_roster, open_roster, settled
from tests.factories import audit_trail

pytestmark = pytest.mark.browser

OFFLINE_BANNER = "Offline: taps are kept on this device and sent when the connection is back."


def test_taps_made_offline_replay_once_when_the_network_returns(app, server, page):
    _, klass, session_id = make_roster(app)
    teacher = klass.teacher
    first, second, third, fourth = klass.students[:4]
    open_roster(page, teacher, session_id)

    page.context.set_offline(True)
    page.wait_for_function("() => navigator.onLine === false")
    for student in (first, second, third):
        cell(page, student).locator(".cell-tap").click()
    # A student tapped twice offline ends up where the teacher left them (one intent).
    cell(page, fourth).locator(".cell-tap").click()
    cell(page, fourth).locator(".cell-tap").click()

    expect(page.locator("#pending-badge")).to_have_text("4 pending")
    for student in (first, second, third):
        expect(cell(page, student)).to_have_attribute("data-status", "PRESENT")
        expect(cell(page, student)).to_have_class(re.compile(r"\bpending\b"))
    expect(cell(page, fourth)).to_have_attribute("data-status", "ABSENT")
    assert api_view(server, teacher, session_id)["records"] == []  # nothing reached the server

    page.context.set_offline(False)
    expect(page.locator("#pending-badge")).to_be_hidden()
    page.wait_for_function("() => document.body.dataset.live === 'live'")
    settled(page)

    view = api_view(server, teacher, session_id)
    statuses = {r["student"]["id"]: r["status"] for r in view["records"]}
    assert statuses == {
        str(first.profile_id): "PRESENT",
        str(second.profile_id): "PRESENT",
        str(third.profile_id): "PRESENT",
        str(fourth.profile_id): "ABSENT",
    }
    # Exactly once: one create per student in the audit trail, no update, no duplicate.
    trail = audit_trail(app, session_id)
    assert len(trail) == 4
    assert all(row["old_status"] is None for row in trail)
    for student in (first, second, third, fourth):
        expect(cell(page, student)).not_to_have_class(re.compile(r"\bpending\b"))


#: What the roster says about connections and waiting taps, as a teacher sees it.
SAID = """() => Array.from(document.querySelectorAll(
    '#offline-notice, #unavailable-notice, #live-label, #pending-badge, #flash p'))
  .filter(el => el.checkVisibility())
  .map(el => [el.id || 'flash', el.textContent.trim()])"""


def test_offline_the_banner_alone_says_what_happens_to_taps(app, server, page):
    _, klass, session_id = make_roster(app)
    open_roster(page, klass.teacher, session_id)

    page.context.set_offline(True)
    page.wait_for_function("() => navigator.onLine === false")
    cell(page, klass.students[0]).locator(".cell-tap").click()
    expect(page.locator("#pending-badge")).to_have_text("1 pending")

    assert page.evaluate(SAID) == [
        ["offline-notice", OFFLINE_BANNER],
        ["live-label", "Offline"],
        ["pending-badge", "1 pending"],
    ]
    page.context.set_offline(False)
    expect(page.locator("#pending-badge")).to_be_hidden()


def test_a_tap_lost_on_the_way_is_said_kept_not_lost_and_lands_once(app, server, open_page):
    _, klass, session_id = make_roster(app)
    teacher, student = klass.teacher, klass.students[1]
    page = open_page(expected_errors=(r"htmx:sendError", r"htmx:afterRequest", r"net::ERR"))
    open_roster(page, teacher, session_id)
    attempts: list[str] = []

    def first_attempt_lost(route) -> None:
        attempts.append(route.request.url)
        if len(attempts) == 1:
            route.abort()
        else:
            route.fallback()

    page.route(re.compile(r"/students/[^/]+/status$"), first_attempt_lost)
    tile = cell(page, student)
    tile.locator(".cell-tap").click()

    # Kept (dashed, counted) and said so in view, until it is sent again a moment later;
    # never app.js's "not saved, tap again", which a second tap would have made untrue.
    expect(page.locator("#unavailable-notice")).to_have_text(
        "No connection: 1 tap is kept on this device and sent again in a moment."
    )
    expect(page.locator("#flash p")).to_have_count(0)

    expect(page.locator("#pending-badge")).to_be_hidden()
    expect(page.locator("#unavailable-notice")).to_be_hidden()
    expect(tile).to_have_attribute("data-status", "PRESENT")
    expect(tile).not_to_have_class(re.compile(r"\bpending\b"))
    assert len(attempts) == 2
    records = api_view(server, teacher, session_id)["records"]
    assert [(r["student"]["id"], r["status"]) for r in records] == [
        (str(student.profile_id), "PRESENT")
    ]
    assert len(audit_trail(app, session_id)) == 1
