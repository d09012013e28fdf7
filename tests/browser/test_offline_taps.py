"""Issue "live updates": taps made while the classroom network is down queue in the page,
replay when it returns, and reach the server exactly once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import api_view, cell, make_roster, open_roster, settled
from tests.factories import audit_trail

pytestmark = pytest.mark.browser


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
