"""Issue 14 item 14 in real Chromium: the tablet's Rate box keeps "89.29 %" on one line, and
the phone's search placeholder is not cut."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, api_post, cell, make_roster, open_roster, settled

pytestmark = pytest.mark.browser

TABLET = {"width": 768, "height": 1024}


def test_the_rate_box_does_not_wrap_on_a_tablet(app, server, open_page):
    admin, klass, session_id = make_roster(app)
    # Everyone present: "100.0", the widest rate the box shows.
    for student in klass.students:
        response = api_post(
            server,
            admin.token,
            "/api/attendance/mark/",
            {
                "session_id": str(session_id),
                "student_id": str(student.profile_id),
                "status": "PRESENT",
            },
        )
        assert response.status_code == 201, response.text
    page = open_page(viewport=TABLET)
    open_roster(page, klass.teacher, session_id)
    expect(page.locator('[data-stat="attendance_rate"]')).to_have_text("100.0")
    expect(cell(page, klass.students[0])).to_have_attribute("data-status", "PRESENT")
    settled(page)

    box = page.locator(".stat-rate dd")
    lines = box.evaluate(
        """dd => { const r = document.createRange(); r.selectNodeContents(dd);
                   const tops = new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top)));
                   return tops.size; }"""
    )
    assert lines == 1, f'"{box.text_content()}" takes {lines} lines'
    assert box.evaluate("dd => dd.scrollWidth <= dd.clientWidth")


def test_the_search_placeholder_fits_on_a_phone(app, server, open_page):
    _admin, klass, session_id = make_roster(app)
    page = open_page(viewport=PHONE)
    open_roster(page, klass.teacher, session_id)
    search = page.locator("input[type=search]")
    expect(search).to_be_visible()

    # The placeholder's text, in the input's font, against the room inside its padding.
    room, needed = search.evaluate(
        """el => { const s = getComputedStyle(el);
                   const c = document.createElement('canvas').getContext('2d');
                   c.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
                   const pad = parseFloat(s.paddingLeft) + parseFloat(s.paddingRight);
                   const inner = el.clientWidth - pad;
                   return [inner, c.measureText(el.placeholder).width]; }"""
    )
    assert needed <= room, f"placeholder needs {needed:.0f}px, the field has {room:.0f}px"
