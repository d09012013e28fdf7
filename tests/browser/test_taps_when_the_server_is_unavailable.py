"""A tap the server answers 503 (its database unavailable, so nothing was saved) is kept on
the device like an offline tap, said in a notice in view, and sent again after Retry-After
with the same idempotency key: it lands once. The 503 is fulfilled by Playwright for the
first attempt only, which stands in for the server, not for our code."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, api_view, cell, make_roster, open_roster
from tests.factories import audit_trail

pytestmark = pytest.mark.browser

UNAVAILABLE = (
    "The database is unavailable right now. Nothing was changed; please try again in a moment."
)


def key_in(body: str) -> str | None:
    """The tap's idempotency key in a form body (htmx's urlencoded or the queue's multipart)."""
    found = re.search(r'key(?:=|"\r\n\r\n)([0-9a-f-]{36})', body)
    return found.group(1) if found else None


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_tap_answered_503_is_kept_said_and_sent_again_once(app, server, open_page, viewport):
    _, klass, session_id = make_roster(app)
    teacher = klass.teacher
    student = klass.students[3]
    page = open_page(viewport=viewport, expected_errors=(r"status of 503", r"Code 503"))
    open_roster(page, teacher, session_id)

    keys: list[str] = []
    answered: list[int] = []

    def first_attempt_unavailable(route) -> None:
        keys.append(route.request.post_data or "")
        if len(answered) == 0:
            answered.append(503)
            route.fulfill(
                status=503,
                headers={"Retry-After": "1", "Content-Type": "text/html"},
                body=f'<p class="flash flash-error">{UNAVAILABLE}</p>',
            )
        else:
            answered.append(0)
            route.fallback()

    page.route(re.compile(r"/students/[^/]+/status$"), first_attempt_unavailable)
    tile = cell(page, student)
    tile.locator(".cell-tap").click()

    # Kept on the device, shown as intended (dashed, pending) and said in view.
    notice = page.locator("#unavailable-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("1 tap is kept on this device")
    expect(page.locator("#pending-badge")).to_have_text("1 pending")
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    expect(notice).to_be_in_viewport()

    # Sent again after Retry-After: saved once, the tile is the server's, the notice gone.
    expect(tile).to_have_attribute("data-status", "PRESENT")
    expect(tile).not_to_have_class(re.compile(r"\bpending\b"))
    expect(page.locator("#pending-badge")).to_be_hidden()
    expect(notice).to_be_hidden()
    assert answered == [503, 0]
    # The retry carried the first attempt's idempotency key.
    sent_keys = [key_in(body) for body in keys]
    assert len(sent_keys) == 2 and sent_keys[0] == sent_keys[1] and sent_keys[0]
    records = api_view(server, teacher, session_id)["records"]
    assert [(r["student"]["id"], r["status"]) for r in records] == [
        (str(student.profile_id), "PRESENT")
    ]
    assert len(audit_trail(app, session_id)) == 1
