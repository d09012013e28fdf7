"""Excused absences in real Chromium: an admin excuses an absence of an ENDED session on the
record's page; a teacher excuses one from a roster tile's panel, and a second view of the
roster shows the tile excused live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import (
    PHONE,
    api_view,
    cell,
    login,
    make_roster,
    open_roster,
    screenshot,
    settled,
)

pytestmark = pytest.mark.browser


def test_an_admin_excuses_an_ended_sessions_absence_on_the_records_page(app, server, page):
    admin, klass, session_id = make_roster(app)
    absent = klass.students[0]
    record_id = factories.mark(app, klass, session_id, absent, "ABSENT")
    factories.end_session(app, klass, session_id)

    login(page, admin)
    page.goto(f"/admin/records/{record_id}")
    excuse = page.locator("section#excuse")
    expect(excuse).to_contain_text("locked")
    excuse.get_by_label("Reason").select_option("MEDICAL")
    excuse.get_by_label("Note").fill("Hospital letter")
    with page.expect_navigation():
        excuse.get_by_role("button", name="Excuse").click()

    expect(page.locator(".flash")).to_contain_text("Absence excused")
    expect(page.locator("[data-record-excuse]")).to_contain_text("Excused: Medical appointment")
    expect(page.locator("[data-record-excuse]")).to_contain_text("Hospital letter")
    expect(page.locator("table.audit-table")).to_contain_text("excused: Medical appointment")
    screenshot(page, "record-excused")
    [record] = [
        r for r in api_view(server, admin, session_id)["records"] if r["id"] == str(record_id)
    ]
    assert (record["status"], record["excused"], record["absence_reason"]) == (
        "ABSENT",
        True,
        "MEDICAL",
    )
    view = api_view(server, admin, session_id)
    assert view["session"]["status"] == "ENDED" and view["session"]["is_locked"] is True

    # In the records list the row says so too.
    page.goto("/admin/records")
    row = page.locator(f'tr[data-record-id="{record_id}"]')
    expect(row).to_have_attribute("data-excused", "MEDICAL")
    expect(row.locator(".badge-excused")).to_have_text("Excused: Medical appointment")


def test_a_teacher_excuses_from_the_tile_and_another_view_sees_it_live(app, server, open_page):
    admin, klass, session_id = make_roster(app)
    absent = klass.students[1]
    factories.mark(app, klass, session_id, absent, "ABSENT")
    watcher = open_page()
    open_roster(watcher, admin, session_id)
    phone = open_page(PHONE, is_mobile=True, has_touch=True)
    open_roster(phone, klass.teacher, session_id)

    tile = cell(phone, absent)
    tile.locator("details.cell-menu summary").tap()
    tile.get_by_label("Reason").select_option("ILLNESS")
    tile.get_by_role("button", name="Excuse").tap()
    settled(phone)

    expect(cell(phone, absent)).to_have_attribute("data-excused", "ILLNESS")
    expect(cell(phone, absent).locator(".excused-marker")).to_have_text("Excused: Illness")
    expect(cell(phone, absent).locator(".cell-tap")).to_contain_text("Excused: Illness")
    expect(cell(phone, absent)).to_have_attribute("data-status", "ABSENT")
    panel = cell(phone, absent).locator("details.cell-menu")
    if panel.get_attribute("open") is None:
        panel.locator("summary").tap()
    for control in ("select[name=reason]", "input[name=note]", "button[type=submit]"):
        box = cell(phone, absent).locator(f".excuse-form {control}").bounding_box()
        assert box["height"] >= 44, (control, box)
    screenshot(watcher, "roster-excused-live")

    # The admin's open view follows live: dashed tile, marker, still absent.
    expect(cell(watcher, absent)).to_have_attribute("data-excused", "ILLNESS")
    expect(cell(watcher, absent)).to_have_class(re.compile(r"\bexcused\b"))
    expect(cell(watcher, absent).locator(".excused-marker")).to_have_text("Excused: Illness")
    expect(cell(watcher, absent)).to_have_attribute("data-status", "ABSENT")

    # A tap to PRESENT ends the excuse, on the tapping phone and on the other view, live.
    cell(phone, absent).locator(".cell-tap").tap()  # ABSENT → LATE keeps it
    settled(phone)
    expect(cell(phone, absent)).to_have_attribute("data-status", "LATE")
    expect(cell(phone, absent)).to_have_attribute("data-excused", "ILLNESS")
    expect(cell(watcher, absent)).to_have_attribute("data-status", "LATE")
    expect(cell(watcher, absent)).to_have_attribute("data-excused", "ILLNESS")
    cell(phone, absent).locator(".cell-tap").tap()  # LATE → PRESENT clears it
    settled(phone)
    for view in (phone, watcher):
        tile = cell(view, absent)
        expect(tile).to_have_attribute("data-status", "PRESENT")
        expect(tile).to_have_attribute("data-excused", "")
        expect(tile).not_to_have_class(re.compile(r"\bexcused\b"))
        expect(tile.locator(".excused-marker")).to_have_count(0)
    [record] = [
        r
        for r in api_view(server, admin, session_id)["records"]
        if r["student"]["id"] == str(absent.profile_id)
    ]
    assert (record["status"], record["excused"], record["absence_reason"]) == (
        "PRESENT",
        False,
        None,
    )

    screenshot(phone, "roster-after-excuse-phone")
