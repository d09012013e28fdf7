"""Excusing from the pages: a roster tile's panel (htmx), a student's history, the admin's
records list and a record's page (also of an ENDED session); excused tiles and rows say so."""

from __future__ import annotations

import pytest

from attendance_app.models import AbsenceReason
from tests.factories import audit_trail, end_session, make_session, mark
from tests.web.conftest import cells, csrf_from, htmx_headers, parse


@pytest.fixture
def lesson(app, classroom):
    """An ACTIVE session: Adams ABSENT, Baker PRESENT, Clark LATE."""
    session_id = make_session(app, classroom.klass)
    adams, baker, clark = classroom.klass.students
    ids = {
        "adams": mark(app, classroom.klass, session_id, adams, "ABSENT"),
        "baker": mark(app, classroom.klass, session_id, baker, "PRESENT"),
        "clark": mark(app, classroom.klass, session_id, clark, "LATE"),
    }
    return session_id, ids


def _excuse_on_roster(client, page_html, session_id, student, **form):
    return client.post(
        f"/sessions/{session_id}/students/{student.profile_id}/excuse",
        data=form,
        headers=htmx_headers(page_html),
    )


def test_the_roster_menu_offers_the_excuse_for_an_absence_or_a_late_arrival_only(
    classroom, lesson, browser_as
):
    session_id, _ = lesson
    page = browser_as(classroom.teacher).get(f"/sessions/{session_id}").text

    # The tiles' menus share one body, which static/js/cell_menu.js fills in for the tile's
    # student: its excuse form is kept for the statuses named here, for a marked student
    # (tests/browser/test_excuse_in_browser.py shows it kept and dropped).
    menu = parse(page).one("template", {"id": "cell-menu-template"})
    assert menu.get("data-excusable").split() == ["ABSENT", "LATE"]
    form = menu.one("form", {"data-excuse-form": True})
    assert form.has("data-if-excusable") and form.has("data-if-marked")
    assert form.get("data-action") == "excuse"
    withdraw = menu.one("form", {"data-excuse-withdraw": True})
    assert withdraw.has("data-if-excused") and withdraw.get("data-action") == "excuse/withdraw"


def test_excusing_from_the_tile_returns_it_excused_and_says_so_to_screen_readers(
    app, classroom, lesson, browser_as
):
    session_id, _ids = lesson
    client = browser_as(classroom.teacher)
    page = client.get(f"/sessions/{session_id}").text
    adams = classroom.klass.students[0]

    resp = _excuse_on_roster(client, page, session_id, adams, reason="ILLNESS", note="flu")

    assert resp.status_code == 200, resp.text
    tile = cells(resp.text)[str(adams.profile_id)]
    assert tile.get("data-status") == "ABSENT"
    assert tile.get("data-excused") == "ILLNESS"
    assert "excused" in tile.get("class").split()
    assert "Excused: Illness" in tile.one("button", {"class": "cell-tap"}).text
    assert tile.find(attrs={"class": "excused-marker"}).text == "Excused: Illness"
    assert "Adams" in parse(resp.text).one(attrs={"id": "announce"}).text
    assert "excused" in parse(resp.text).one(attrs={"id": "announce"}).text
    assert audit_trail(app, session_id)[-1]["channel"].value == "WEB"

    withdrawn = client.post(
        f"/sessions/{session_id}/students/{adams.profile_id}/excuse/withdraw",
        headers=htmx_headers(page),
    )
    assert cells(withdrawn.text)[str(adams.profile_id)].get("data-excused") == ""


def test_a_tap_to_present_returns_the_tile_no_longer_excused_and_a_tap_to_late_keeps_it(
    classroom, lesson, browser_as
):
    session_id, _ = lesson
    client = browser_as(classroom.teacher)
    page = client.get(f"/sessions/{session_id}").text
    adams = classroom.klass.students[0]
    _excuse_on_roster(client, page, session_id, adams, reason="ILLNESS")
    tap_url = f"/sessions/{session_id}/students/{adams.profile_id}/status"

    late = client.post(tap_url, data={"seen": "ABSENT"}, headers=htmx_headers(page))
    tile = cells(late.text)[str(adams.profile_id)]
    assert (tile.get("data-status"), tile.get("data-excused")) == ("LATE", "ILLNESS")

    present = client.post(tap_url, data={"seen": "LATE"}, headers=htmx_headers(page))

    assert present.status_code == 200, present.text
    tile = cells(present.text)[str(adams.profile_id)]
    assert (tile.get("data-status"), tile.get("data-excused")) == ("PRESENT", "")
    assert "excused" not in tile.get("class").split()
    assert tile.find(attrs={"class": "excused-marker"}) is None
    assert "excused" not in parse(present.text).one(attrs={"id": "announce"}).text


def test_excusing_a_present_tile_shows_the_rule_on_the_tile(classroom, lesson, browser_as):
    session_id, _ = lesson
    client = browser_as(classroom.teacher)
    page = client.get(f"/sessions/{session_id}").text
    baker = classroom.klass.students[1]

    resp = _excuse_on_roster(client, page, session_id, baker, reason="ILLNESS")

    assert resp.status_code == 400
    tile = cells(resp.text)[str(baker.profile_id)]
    assert "Only an absence or a late arrival can be excused." in tile.text
    assert tile.get("data-excused") == ""


def test_a_bad_reason_is_named(classroom, lesson, browser_as):
    session_id, _ = lesson
    client = browser_as(classroom.teacher)
    page = client.get(f"/sessions/{session_id}").text

    resp = _excuse_on_roster(client, page, session_id, classroom.klass.students[0], reason="NAP")

    assert resp.status_code == 400
    tile = cells(resp.text)[str(classroom.klass.students[0].profile_id)]
    assert '"NAP" is not a valid choice.' in tile.text


def test_the_teacher_excuses_from_the_students_history(app, classroom, lesson, browser_as):
    _session_id, ids = lesson
    adams = classroom.klass.students[0]
    client = browser_as(classroom.teacher)
    url = f"/students/{adams.profile_id}/history"
    page = client.get(url).text
    row = parse(page).one("tr", {"data-record-id": str(ids["adams"])})
    form = row.one("form", {"data-excuse-form": True})

    resp = client.post(
        form.get("action"),
        data={
            "reason": "MEDICAL",
            "note": "dentist",
            "next": url,
            "csrf_token": csrf_from(page),
        },
    )

    assert resp.status_code == 302 and resp.headers["Location"].endswith(url)
    after = client.get(url).text
    assert "Absence excused: " in after
    row = parse(after).one("tr", {"data-record-id": str(ids["adams"])})
    assert row.get("data-excused") == "MEDICAL"
    assert "Excused: Medical appointment" in row.text
    assert "dentist" in row.text


def test_the_student_sees_the_excuse_but_neither_the_form_nor_the_staff_note(
    app, classroom, lesson, browser_as, api_as
):
    _session_id, ids = lesson
    adams = classroom.klass.students[0]
    api_as(classroom.teacher).post(
        f"/api/attendance/{ids['adams']}/excuse/", json={"reason": "FAMILY", "note": "private"}
    )
    page = browser_as(adams).get(f"/students/{adams.profile_id}/history").text

    row = parse(page).one("tr", {"data-record-id": str(ids["adams"])})
    assert row.get("data-excused") == "FAMILY"
    assert "Excused: Family reasons" in row.text
    assert "private" not in page
    assert parse(page).find("form", {"data-excuse-form": True}) is None


def test_another_teacher_may_not_excuse(classroom, lesson, browser_as):
    _, ids = lesson
    client = browser_as(classroom.other_teacher)
    page = client.get("/").text

    resp = client.post(
        f"/attendance/{ids['adams']}/excuse",
        data={"reason": "ILLNESS", "csrf_token": csrf_from(page)},
    )

    assert resp.status_code == 403


def test_an_admin_excuses_an_ended_sessions_record_on_its_page(app, classroom, lesson, browser_as):
    session_id, ids = lesson
    end_session(app, classroom.klass, session_id)
    client = browser_as(classroom.admin)
    url = f"/admin/records/{ids['adams']}"
    page = client.get(url).text
    assert "locked" in parse(page).one("section", {"id": "excuse"}).text

    resp = client.post(
        f"/attendance/{ids['adams']}/excuse",
        data={"reason": "SCHOOL_ACTIVITY", "next": url, "csrf_token": csrf_from(page)},
    )

    assert resp.status_code == 302
    after = client.get(url).text
    doc = parse(after)
    assert "Excused: School activity" in doc.one("dd", {"data-record-excuse": True}).text
    assert "excused: School activity" in doc.one("table", {"class": "striped audit-table"}).text
    assert audit_trail(app, session_id)[-1]["new_status"].value == "ABSENT"


def test_the_records_list_shows_excused_rows_and_offers_the_excuse(
    app, classroom, lesson, browser_as, api_as
):
    _, ids = lesson
    api_as(classroom.admin).post(
        f"/api/attendance/{ids['clark']}/excuse/", json={"reason": "OTHER"}
    )
    client = browser_as(classroom.admin)

    page = client.get("/admin/records").text

    doc = parse(page)
    clark = doc.one("tr", {"data-record-id": str(ids["clark"])})
    baker = doc.one("tr", {"data-record-id": str(ids["baker"])})
    adams = doc.one("tr", {"data-record-id": str(ids["adams"])})
    assert clark.get("data-excused") == AbsenceReason.OTHER.value
    assert "Excused: Other" in clark.text
    assert clark.find(attrs={"data-excuse-withdraw": True}) is not None
    assert adams.find("form", {"data-excuse-form": True}) is not None
    assert baker.find("form", {"data-excuse-form": True}) is None

    form = adams.one("form", {"data-excuse-form": True})
    resp = client.post(
        form.get("action"),
        data={"reason": "ILLNESS", "next": "/admin/records", "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/records")
    listed = parse(client.get("/admin/records").text)
    assert listed.one("tr", {"data-record-id": str(ids["adams"])}).get("data-excused") == "ILLNESS"


def test_a_next_address_on_another_site_is_not_followed(classroom, lesson, browser_as):
    _, ids = lesson
    client = browser_as(classroom.admin)
    page = client.get("/").text

    resp = client.post(
        f"/attendance/{ids['adams']}/excuse",
        data={"reason": "ILLNESS", "next": "https://evil.test/", "csrf_token": csrf_from(page)},
    )

    assert "evil.test" not in resp.headers["Location"]


def test_the_records_trail_shows_an_excuse_note_as_a_comment_not_a_reason(
    app, classroom, lesson, browser_as, api_as
):
    """The excuse's reason has its own words in the Status column; its note sits under
    "Comment", so the trail never shows two different things both called a reason."""
    _, ids = lesson
    api_as(classroom.admin).post(
        f"/api/attendance/{ids['clark']}/excuse/", json={"reason": "MEDICAL", "note": "letter"}
    )
    trail = parse(browser_as(classroom.admin).get(f"/admin/records/{ids['clark']}").text).one(
        "table", {"class": "striped audit-table"}
    )
    headers = [th.text for th in trail.find_all("th")]
    last = trail.find_all("tr")[-1].find_all("td")

    assert headers[-1] == "Comment" and "Reason" not in headers
    assert "excused: Medical appointment" in last[3].text
    assert last[headers.index("Comment")].text == "letter"
