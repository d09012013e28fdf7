"""Issue 14 on the roster, in real Chromium on a phone (390×844) and a desktop: a refused tap
stays said, offline is in view wherever scrolled, focus stays on the tile after U and
Shift+P, and undo and ending say what happened."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import (
    api_post,
    api_view,
    cell,
    expect_stats,
    make_roster,
    open_roster,
    screenshot,
    settled,
    wait_live,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


def go_offline(page) -> None:
    page.context.set_offline(True)
    page.wait_for_function("() => navigator.onLine === false")


def go_online(page) -> None:
    page.context.set_offline(False)
    page.wait_for_function("() => document.body.dataset.live === 'live'")
    settled(page)


def api_statuses(server, person, session_id) -> dict[str, str]:
    records = api_view(server, person, session_id)["records"]
    return {r["student"]["id"]: r["status"] for r in records}


def focused_student(page) -> str | None:
    return page.evaluate(
        """() => { const c = document.activeElement && document.activeElement.closest(
                     '#roster-grid [data-student-id]'); return c ? c.dataset.studentId : null; }"""
    )


@VIEWPORTS
def test_a_refused_replayed_tap_stays_said_until_dismissed_or_applied(
    app, server, open_page, viewport
):
    admin, klass, session_id = make_roster(app)
    teacher = klass.teacher
    first, second = klass.students[:2]
    page = open_page(viewport=viewport)
    open_roster(page, teacher, session_id)

    # Offline, the teacher taps two students; meanwhile the admin marks both differently.
    go_offline(page)
    cell(page, first).locator(".cell-tap").click()
    cell(page, second).locator(".cell-tap").click()
    expect(page.locator("#pending-badge")).to_have_text("2 pending")
    for student, status in ((first, "ABSENT"), (second, "LATE")):
        response = api_post(
            server,
            admin.token,
            "/api/attendance/mark/",
            {
                "session_id": str(session_id),
                "student_id": str(student.profile_id),
                "status": status,
            },
        )
        assert response.status_code == 201, response.text
    go_online(page)

    # Neither replay overwrote the admin: each tile shows the admin's state and says, in
    # words and to screen readers, that the teacher's change was not saved.
    for student, theirs in ((first, "Absent"), (second, "Late")):
        tile = cell(page, student)
        expect(tile).to_have_attribute("data-status", theirs.upper())
        expect(tile).to_have_attribute("data-conflict", "PRESENT")
        message = tile.locator(".cell-conflict")
        expect(message).to_have_attribute("role", "alert")
        expect(message).to_contain_text(
            re.compile(rf"Not saved: Ada Admin changed this to {theirs} .*your Present was not")
        )
    assert api_statuses(server, teacher, session_id) == {
        str(first.profile_id): "ABSENT",
        str(second.profile_id): "LATE",
    }
    if viewport == PHONE:  # the README's picture of a refused tap
        settled(page)
        cell(page, first).scroll_into_view_if_needed()
        screenshot(page, "roster-conflict-phone", full_page=False)

    # A whole-grid refresh (here "Mark all unmarked present") does not clear it.
    page.click("#mark-unmarked-present")
    expect(page.locator('#roster-grid [data-status=""]')).to_have_count(0)
    settled(page)
    expect(cell(page, first)).to_have_attribute("data-conflict", "PRESENT")
    expect(cell(page, first).locator(".cell-conflict")).to_contain_text("Not saved")

    # Dismissed: gone, and the keyboard is back on the tile.
    cell(page, first).get_by_role("button", name="Keep Absent").click()
    expect(cell(page, first)).not_to_have_attribute("data-conflict", re.compile(".*"))
    expect(cell(page, first).locator(".cell-conflict")).to_have_count(0)
    assert focused_student(page) == str(first.profile_id)

    # One tap applies the teacher's own choice anyway.
    cell(page, second).get_by_role("button", name="Make it Present anyway").click()
    expect(cell(page, second)).to_have_attribute("data-status", "PRESENT")
    expect(cell(page, second)).not_to_have_attribute("data-conflict", re.compile(".*"))
    settled(page)
    assert api_statuses(server, teacher, session_id)[str(second.profile_id)] == "PRESENT"


@VIEWPORTS
def test_the_offline_notice_is_in_view_wherever_the_roster_is_scrolled(
    app, server, open_page, viewport
):
    admin = factories.make_admin(app)
    students = factories.make_students(app, 28)
    klass = factories.make_class(app, admin=admin, students=students, name="Year 8 History")
    session_id = factories.make_session(app, klass)
    page = open_page(viewport=viewport)
    open_roster(page, klass.teacher, session_id)
    notice = page.locator("#offline-notice")
    expect(notice).to_be_hidden()

    go_offline(page)
    expect(page.locator("body")).to_have_attribute("data-live", "offline")
    for where in ("top", "middle", "bottom"):
        page.evaluate(
            """(where) => window.scrollTo(0, where === 'top' ? 0 : where === 'middle'
                 ? document.body.scrollHeight / 2 : document.body.scrollHeight)""",
            where,
        )
        expect(notice).to_be_in_viewport()
        expect(notice).to_contain_text("Offline")
    last = cell(page, students[-1])
    last.scroll_into_view_if_needed()
    last.locator(".cell-tap").click()
    expect(last).to_have_class(re.compile(r"\bpending\b"))
    expect(notice).to_be_in_viewport()
    if viewport == PHONE:  # the README's picture: offline, scrolled into the grid
        screenshot(page, "roster-offline-scrolled-phone", full_page=False)

    go_online(page)
    expect(notice).to_be_hidden()


@VIEWPORTS
def test_focus_stays_on_the_tile_after_undo_and_shift_p(app, server, open_page, viewport):
    _admin, klass, session_id = make_roster(app)
    page = open_page(viewport=viewport)
    open_roster(page, klass.teacher, session_id)
    third = klass.students[2]

    cell(page, third).locator(".cell-tap").focus()
    page.keyboard.press("a")
    expect(cell(page, third)).to_have_attribute("data-status", "ABSENT")
    settled(page)
    expect(page.locator("#undo-button")).to_be_visible()

    page.keyboard.press("u")
    expect(cell(page, third)).to_have_attribute("data-status", "")
    settled(page)
    assert focused_student(page) == str(third.profile_id)

    page.keyboard.press("Shift+P")
    expect_stats(page, present=6, not_marked=0)
    settled(page)
    assert focused_student(page) == str(third.profile_id)

    # The next arrow moves on from there (the next tile in the grid), not from the first tile.
    after = cell(page, third).evaluate("c => c.nextElementSibling.dataset.studentId")
    page.keyboard.press("ArrowRight")
    assert focused_student(page) == after


@VIEWPORTS
def test_undo_says_who_and_marking_the_rest_absent_asks_first(app, server, open_page, viewport):
    _admin, klass, session_id = make_roster(app)
    page = open_page(viewport=viewport)
    open_roster(page, klass.teacher, session_id)
    first = klass.students[0]

    cell(page, first).locator(".cell-tap").click()
    expect(cell(page, first)).to_have_attribute("data-status", "PRESENT")
    settled(page)
    page.click("#undo-button")
    expect(page.locator("#undo-bar .undo-text")).to_have_text(
        f"Undone: {first.last_name}, {first.first_name} is Not marked again."
    )
    expect(page.locator("#undo-button")).to_have_count(0)

    # "Mark all unmarked absent" asks; declining changes nothing.
    asked: list[str] = []

    def decline(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    page.click("#mark-unmarked-absent")
    page.wait_for_function("() => true")
    assert asked and "absent" in asked[0]
    assert api_view(server, klass.teacher, session_id)["records"] == []
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#mark-unmarked-absent")
    expect_stats(page, absent=6, not_marked=0)


@VIEWPORTS
def test_an_ended_session_is_not_live_green_says_so_in_view_and_on_a_locked_tap(
    app, server, open_page, viewport
):
    admin = factories.make_admin(app)
    students = factories.make_students(app, 28)
    klass = factories.make_class(app, admin=admin, students=students, name="Year 9 Maths")
    session_id = factories.make_session(app, klass)
    teacher_page = open_page(viewport=viewport)
    second_device = open_page(viewport=viewport)
    open_roster(teacher_page, klass.teacher, session_id)
    open_roster(second_device, klass.teacher, session_id)
    second_device.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")

    teacher_page.click("#end-session")
    teacher_page.wait_for_url(f"**/sessions/{session_id}/end")
    with teacher_page.expect_navigation():
        teacher_page.click("#end-anyway")

    # The second device reloads into the ended state with the notice in view.
    second_device.wait_for_selector('body[data-session-status="ENDED"]', state="attached")
    wait_live(second_device)
    second_device.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    expect(second_device.locator("#ended-notice")).to_be_in_viewport()
    for page in (teacher_page, second_device):
        wait_live(page)
        expect(page.locator("#live-label")).to_have_text("Ended · read-only")
        dot = page.locator(".live-dot").evaluate("d => getComputedStyle(d).backgroundColor")
        assert dot != "rgb(22, 163, 74)"  # not the green of a live roster

    # A tap on a locked tile says why.
    tile = cell(second_device, students[-1])
    tile.locator(".cell-tap").click(force=True)
    expect(tile.locator(".cell-locked")).to_have_text(
        "This session has ended: its attendance is locked."
    )
    expect(tile).to_have_attribute("data-status", "")


@VIEWPORTS
def test_the_search_finds_names_as_tiles_show_them_and_moves_into_the_results(
    app, server, open_page, viewport
):
    _admin, klass, session_id = make_roster(app)
    page = open_page(viewport=viewport)
    open_roster(page, klass.teacher, session_id)
    chloe = next(s for s in klass.students if s.first_name == "Chloé")
    search = page.locator("input[type=search]")
    expect(search).to_have_count(1)
    shown = page.locator("#roster-grid [data-student-id]:visible")

    for query in ("Durand, Chloé", "Durand Chloe", "chloe durand", "DURAND,CHLOÉ", "  durand  "):
        search.fill(query)
        expect(shown).to_have_count(1)
        expect(cell(page, chloe)).to_be_visible()
    expect(page.locator("#roster-empty")).to_be_hidden()

    search.fill("Chloé Okafor")
    expect(shown).to_have_count(0)
    expect(page.locator("#roster-empty")).to_be_visible()
    expect(page.locator("#roster-empty")).to_contain_text(re.compile("no students match", re.I))

    # Enter goes to the first result; Escape clears the search.
    search.fill("durand")
    search.press("Enter")
    assert focused_student(page) == str(chloe.profile_id)
    search.focus()
    search.press("ArrowDown")
    assert focused_student(page) == str(chloe.profile_id)
    search.focus()
    search.press("Escape")
    expect(search).to_have_value("")
    expect(shown).to_have_count(len(klass.students))


SMALL_CONTROLS = """() => Array.from(document.querySelectorAll(
      'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]'))
    .filter(el => el.offsetParent !== null || getComputedStyle(el).position === 'fixed')
    .filter(el => !el.closest('.visually-hidden') && !el.classList.contains('skip-link'))
    .map(el => { const r = el.getBoundingClientRect();
                 return [el.id || el.className || el.tagName, el.textContent.trim().slice(0, 30),
                         Math.round(r.width * 10) / 10, Math.round(r.height * 10) / 10]; })
    .filter(([, , w, h]) => w < 44 || h < 44)"""


def test_every_roster_control_is_at_least_44_px_on_a_phone(app, server, open_page):
    _admin, klass, session_id = make_roster(app)
    page = open_page(viewport=PHONE)
    open_roster(page, klass.teacher, session_id)
    first = klass.students[0]
    cell(page, first).locator(".cell-tap").click()
    expect(cell(page, first)).to_have_attribute("data-status", "PRESENT")
    settled(page)
    cell(page, first).locator("summary").click()  # the note form open too

    small = page.evaluate(SMALL_CONTROLS)
    assert small == [], "\n".join(map(str, small))


def test_a_long_note_is_clamped_on_the_tile_counted_and_refused_over_the_limit(
    app, server, open_page
):
    _admin, klass, session_id = make_roster(app)
    teacher = klass.teacher
    first = klass.students[0]
    factories.mark(app, klass, session_id, first, "LATE", notes="Long. " * 333)  # 1,998
    page = open_page(viewport=PHONE)
    open_roster(page, teacher, session_id)
    tile = cell(page, first)

    height = tile.evaluate("c => c.getBoundingClientRect().height")
    assert height < 400, height
    expand = tile.locator(".note-expand")
    expect(expand).to_have_text("Show the whole note")
    expand.click()
    expect(expand).to_have_attribute("aria-expanded", "true")
    assert tile.locator(".cell-note").evaluate("n => n.scrollHeight > 200")

    # The field counts, and over the limit it says so and does not send.
    tile.locator("summary").click()
    field = tile.locator("input[name=notes]")
    expect(tile.locator(".notes-count")).to_have_text("1998 / 2000")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    field.fill("x" * 2001)
    expect(tile.locator(".notes-count")).to_contain_text("2001 / 2000: 1 too many")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value("x" * 2001)  # not cut
    expect(tile.get_by_role("button", name="Save note")).to_be_disabled()
    assert posts == []
    field.fill("x" * 2000)
    tile.get_by_role("button", name="Save note").click()
    settled(page)
    records = api_view(server, teacher, session_id)["records"]
    assert records[0]["notes"] == "x" * 2000
