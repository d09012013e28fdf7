"""The roster page and its htmx endpoints: the contract's hooks, the tap cycle, the rules."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest

from attendance_app.models import AttendanceStatus, Channel, utcnow
from tests.factories import (
    audit_trail,
    end_session,
    make_session,
    mark,
    stored_attendance,
)
from tests.web.conftest import cells, htmx_headers, parse, stats

LOCKED = "Cannot modify attendance - session ended and is locked"
NOT_STARTED = "Cannot mark attendance - session has not started"


@pytest.fixture
def active(app, classroom):
    """An ACTIVE session of the school's class."""
    return make_session(app, classroom.klass)


@pytest.fixture
def teacher(classroom, browser_as):
    return browser_as(classroom.teacher)


class Roster:
    """The roster page in a logged-in test client, posting as htmx does from that page."""

    def __init__(self, client, session_id):
        self.client = client
        self.session_id = session_id
        self.page = client.get(f"/sessions/{session_id}")
        assert self.page.status_code == 200
        self.headers = htmx_headers(self.page.text)

    def tap(self, student, **form):
        return self.client.post(
            f"/sessions/{self.session_id}/students/{student.profile_id}/status",
            data=form,
            headers=self.headers,
        )

    def note(self, student, text):
        return self.client.post(
            f"/sessions/{self.session_id}/students/{student.profile_id}/notes",
            data={"notes": text},
            headers=self.headers,
        )

    def mark_unmarked(self, status):
        return self.client.post(
            f"/sessions/{self.session_id}/mark-unmarked",
            data={"status": status},
            headers=self.headers,
        )


def _api_view(api_as, classroom, session_id) -> dict:
    response = api_as(classroom.teacher).get(f"/api/attendance/session/{session_id}/")
    assert response.status_code == 200
    return response.get_json()


def _api_statuses(api_as, classroom, session_id) -> dict[str, str]:
    body = _api_view(api_as, classroom, session_id)
    return {r["student"]["id"]: r["status"] for r in body["records"]}


def _oob_stats(html: str) -> dict[str, str]:
    """The statistics the response swaps out of band."""
    oob = [
        el
        for el in parse(html).find_all(attrs={"hx-swap-oob": True})
        if el.find_all(attrs={"data-stat": True})
    ]
    assert len(oob) == 1
    return {el.get("data-stat"): el.text for el in oob[0].find_all(attrs={"data-stat": True})}


def _expected_stats(api_body: dict) -> dict[str, str]:
    return {k: str(v) for k, v in api_body["statistics"].items()}


# --- the page ---------------------------------------------------------------------------


def test_roster_lists_every_enrolled_student_unmarked_with_statistics(classroom, teacher, active):
    page = teacher.get(f"/sessions/{active}")

    assert page.status_code == 200
    found = cells(page.text)
    assert set(found) == {str(s.profile_id) for s in classroom.klass.students}
    assert {el.get("data-status") for el in found.values()} == {""}
    assert stats(page.text) == {
        "total_enrolled": "3",
        "present": "0",
        "absent": "0",
        "late": "0",
        "not_marked": "3",
        "attendance_rate": "0.0",
    }


def test_roster_orders_students_by_last_name_and_tells_the_page_about_the_session(
    classroom, teacher, active
):
    doc = parse(teacher.get(f"/sessions/{active}").text)

    names = [
        el.get("data-name").split(",")[0] for el in doc.find_all(attrs={"data-student-id": True})
    ]
    assert names == ["Adams", "Baker", "Clark"]
    body = doc.one("body")
    assert body.get("data-session-id") == str(active)
    assert body.get("data-session-status") == "ACTIVE"
    assert body.get("data-live") == "connecting"


def test_each_cell_carries_the_folded_name_and_number_the_roster_search_compares(
    classroom, teacher, active
):
    """The roster reads its rows as columns: every value the cell shows or searches on must
    come with them (a missing one would render empty, silently)."""
    found = cells(teacher.get(f"/sessions/{active}").text)

    for student in classroom.klass.students:
        search = found[str(student.profile_id)].get("data-search")
        first, last = student.first_name.lower(), student.last_name.lower()
        assert f"{first} {last}" in search and f"{last} {first}" in search, search
        assert student.number.lower() in search


def test_each_cell_of_an_active_roster_posts_the_status_it_shows(classroom, teacher, active, app):
    mark(app, classroom.klass, active, classroom.klass.students[1], "ABSENT")

    found = cells(teacher.get(f"/sessions/{active}").text)

    for student in classroom.klass.students:
        cell = found[str(student.profile_id)]
        button = cell.one("button", {"class": "cell-tap"})
        assert button.get("hx-post") == (f"/sessions/{active}/students/{student.profile_id}/status")
        assert json.loads(button.get("hx-vals")) == {"seen": cell.get("data-status")}
    assert found[str(classroom.klass.students[1].profile_id)].get("data-status") == "ABSENT"


def test_the_page_reflects_marks_made_through_the_api(app, classroom, teacher, active, api_as):
    a, b, c = classroom.klass.students
    mark(app, classroom.klass, active, a, "PRESENT")
    mark(app, classroom.klass, active, b, "LATE")

    page = teacher.get(f"/sessions/{active}").text

    found = cells(page)
    assert [found[str(s.profile_id)].get("data-status") for s in (a, b, c)] == [
        "PRESENT",
        "LATE",
        "",
    ]
    assert stats(page) == _expected_stats(_api_view(api_as, classroom, active))


# --- taps -------------------------------------------------------------------------------


def test_a_tap_on_an_unmarked_student_marks_present_and_returns_cell_and_statistics(
    classroom, teacher, active, api_as
):
    student = classroom.klass.students[0]

    response = Roster(teacher, active).tap(student, seen="")

    assert response.status_code == 200
    assert "<html" not in response.text
    cell = parse(response.text).one(attrs={"data-student-id": str(student.profile_id)})
    assert cell.get("data-status") == "PRESENT"
    assert json.loads(cell.one("button", {"class": "cell-tap"}).get("hx-vals")) == {
        "seen": "PRESENT"
    }
    oob = _oob_stats(response.text)
    assert oob["present"] == "1"
    assert oob["not_marked"] == "2"
    assert oob["attendance_rate"] == "33.33"
    assert oob == _expected_stats(_api_view(api_as, classroom, active))
    assert _api_statuses(api_as, classroom, active) == {str(student.profile_id): "PRESENT"}


def test_taps_cycle_present_absent_late_present_and_the_api_agrees(
    classroom, teacher, active, api_as
):
    student = classroom.klass.students[1]
    roster = Roster(teacher, active)
    seen = ""

    for expected in ("PRESENT", "ABSENT", "LATE", "PRESENT"):
        response = roster.tap(student, seen=seen)

        assert response.status_code == 200
        cell = cells(response.text)[str(student.profile_id)]
        assert cell.get("data-status") == expected
        api = _api_view(api_as, classroom, active)
        assert {r["student"]["id"]: r["status"] for r in api["records"]} == {
            str(student.profile_id): expected
        }
        assert _oob_stats(response.text) == _expected_stats(api)
        assert stats(teacher.get(f"/sessions/{active}").text) == _expected_stats(api)
        seen = cell.get("data-status")


def test_a_tap_moves_on_from_what_the_page_showed_so_two_devices_agree(
    classroom, browser_as, active, api_as
):
    student = classroom.klass.students[0]
    phone = Roster(browser_as(classroom.teacher), active)
    tablet = Roster(browser_as(classroom.teacher), active)

    # Both showed "not marked" and both were tapped: the student is PRESENT, not ABSENT.
    first = phone.tap(student, seen="")
    second = tablet.tap(student, seen="")

    assert first.status_code == second.status_code == 200
    assert cells(second.text)[str(student.profile_id)].get("data-status") == "PRESENT"
    assert _api_statuses(api_as, classroom, active) == {str(student.profile_id): "PRESENT"}


@pytest.mark.parametrize("status", ["PRESENT", "ABSENT", "LATE", "late"])
def test_status_sets_a_status_directly(classroom, teacher, active, api_as, status):
    student = classroom.klass.students[2]
    roster = Roster(teacher, active)
    roster.tap(student, seen="")

    response = roster.tap(student, status=status, seen="ABSENT")

    assert response.status_code == 200
    assert cells(response.text)[str(student.profile_id)].get("data-status") == status.upper()
    assert _api_statuses(api_as, classroom, active) == {str(student.profile_id): status.upper()}


def test_a_late_student_shows_how_many_minutes_late(app, classroom, browser_as, api_as):
    session_id = make_session(app, classroom.klass, start_at=utcnow() - timedelta(minutes=12))
    student = classroom.klass.students[0]

    response = Roster(browser_as(classroom.teacher), session_id).tap(student, status="LATE")

    assert response.status_code == 200
    cell = cells(response.text)[str(student.profile_id)]
    assert cell.get("data-status") == "LATE"
    assert cell.one(attrs={"class": "late-minutes"}).text == "+12 min"
    page_cell = cells(browser_as(classroom.teacher).get(f"/sessions/{session_id}").text)[
        str(student.profile_id)
    ]
    assert page_cell.one(attrs={"class": "late-minutes"}).text == "+12 min"


def test_an_unknown_status_is_refused_by_the_cell_and_changes_nothing(
    app, classroom, teacher, active
):
    student = classroom.klass.students[0]

    response = Roster(teacher, active).tap(student, status="HERE")

    assert response.status_code == 400
    cell = cells(response.text)[str(student.profile_id)]
    assert cell.get("data-status") == ""
    assert cell.one(attrs={"class": "cell-error"}).text == '"HERE" is not a valid choice.'
    assert stored_attendance(app, active) == {}


def test_a_tap_for_a_student_not_in_the_class_is_refused_with_rule_4s_message(
    app, classroom, teacher, active
):
    response = Roster(teacher, active).tap(classroom.outsider, seen="")

    assert response.status_code == 400
    assert parse(response.text).text == (
        f"Student '{classroom.outsider.number}' is not enrolled in '{classroom.klass.name}'"
    )
    assert response.headers["HX-Retarget"] == "#flash"
    assert stored_attendance(app, active) == {}


def test_a_tap_for_an_unknown_student_is_a_404(app, classroom, teacher, active):
    response = Roster(teacher, active).tap(SimpleNamespace(profile_id=uuid.uuid4()), seen="")

    assert response.status_code == 404
    assert stored_attendance(app, active) == {}


def test_taps_are_recorded_in_the_audit_trail_as_web_changes_by_the_teacher(
    app, classroom, teacher, active
):
    student = classroom.klass.students[0]
    roster = Roster(teacher, active)
    roster.tap(student, seen="")
    roster.tap(student, seen="PRESENT")
    roster.note(student, "left early")

    trail = audit_trail(app, active)

    assert [(row["old_status"], row["new_status"]) for row in trail] == [
        (None, AttendanceStatus.PRESENT),
        (AttendanceStatus.PRESENT, AttendanceStatus.ABSENT),
        (AttendanceStatus.ABSENT, AttendanceStatus.ABSENT),
    ]
    assert {row["channel"] for row in trail} == {Channel.WEB}
    assert {row["actor_id"] for row in trail} == {classroom.teacher.user_id}
    assert {row["student_id"] for row in trail} == {student.profile_id}
    assert trail[-1]["new_notes"] == "left early"


def test_an_admin_may_tap_too_and_becomes_the_marker(app, classroom, browser_as, active, api_as):
    student = classroom.klass.students[0]

    response = Roster(browser_as(classroom.admin), active).tap(student, seen="")

    assert response.status_code == 200
    record = _api_view(api_as, classroom, active)["records"][0]
    assert record["status"] == "PRESENT"
    assert record["marked_by"] == classroom.admin.full_name


# --- CSRF --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"HX-Request": "true"},
        {"HX-Request": "true", "X-CSRFToken": "forged"},
        {},
    ],
    ids=["no-token", "forged-token", "plain-post"],
)
def test_a_tap_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    app, classroom, teacher, active, headers
):
    student = classroom.klass.students[0]
    teacher.get(f"/sessions/{active}")

    response = teacher.post(
        f"/sessions/{active}/students/{student.profile_id}/status",
        data={"seen": ""},
        headers=headers,
    )

    assert response.status_code == 400
    assert stored_attendance(app, active) == {}
    assert audit_trail(app, active) == []


def test_a_csrf_token_in_the_form_field_works_as_well_as_the_header(
    app, classroom, teacher, active
):
    student = classroom.klass.students[0]
    token = Roster(teacher, active).headers["X-CSRFToken"]

    response = teacher.post(
        f"/sessions/{active}/students/{student.profile_id}/status",
        data={"seen": "", "csrf_token": token},
    )

    assert response.status_code == 200
    assert stored_attendance(app, active) == {student.profile_id: AttendanceStatus.PRESENT}


@pytest.mark.parametrize("endpoint", ["mark-unmarked", "notes"])
def test_other_roster_posts_without_csrf_are_refused_and_change_nothing(
    app, classroom, teacher, active, endpoint
):
    student = classroom.klass.students[0]
    mark(app, classroom.klass, active, student, "PRESENT")
    path = (
        f"/sessions/{active}/mark-unmarked"
        if endpoint == "mark-unmarked"
        else f"/sessions/{active}/students/{student.profile_id}/notes"
    )

    response = teacher.post(
        path, data={"status": "ABSENT", "notes": "x"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 400
    assert stored_attendance(app, active) == {student.profile_id: AttendanceStatus.PRESENT}
    assert len(audit_trail(app, active)) == 1


# --- mark everyone unmarked ---------------------------------------------------------------


def test_mark_unmarked_absent_marks_only_unmarked_students_and_returns_the_grid(
    app, classroom, teacher, active, api_as
):
    a, b, c = classroom.klass.students
    roster = Roster(teacher, active)
    roster.tap(a, seen="")  # PRESENT
    roster.tap(b, status="LATE")

    response = roster.mark_unmarked("ABSENT")

    assert response.status_code == 200
    doc = parse(response.text)
    assert doc.one("ul", {"id": "roster-grid"}) is not None
    found = cells(response.text)
    assert {k: v.get("data-status") for k, v in found.items()} == {
        str(a.profile_id): "PRESENT",
        str(b.profile_id): "LATE",
        str(c.profile_id): "ABSENT",
    }
    api = _api_view(api_as, classroom, active)
    assert _oob_stats(response.text) == _expected_stats(api)
    assert api["statistics"]["not_marked"] == 0
    assert doc.one(attrs={"id": "announce"}).text == "1 unmarked students marked absent"
    assert _api_statuses(api_as, classroom, active) == {
        k: v.get("data-status") for k, v in found.items()
    }


def test_mark_unmarked_from_the_page_is_recorded_as_web_changes(app, classroom, teacher, active):
    roster = Roster(teacher, active)

    roster.mark_unmarked("ABSENT")

    trail = audit_trail(app, active)
    assert len(trail) == len(classroom.klass.students)
    assert {row["channel"] for row in trail} == {Channel.WEB}


def test_mark_unmarked_a_second_time_changes_nothing(app, classroom, teacher, active):
    roster = Roster(teacher, active)
    roster.mark_unmarked("ABSENT")
    before = stored_attendance(app, active)

    response = roster.mark_unmarked("PRESENT")

    assert response.status_code == 200
    assert stored_attendance(app, active) == before
    assert set(before.values()) == {AttendanceStatus.ABSENT}
    assert parse(response.text).one(attrs={"id": "announce"}).text == (
        "0 unmarked students marked present"
    )


def test_mark_unmarked_present_is_the_default(app, classroom, teacher, active):
    response = Roster(teacher, active).mark_unmarked("")

    assert response.status_code == 200
    assert set(stored_attendance(app, active).values()) == {AttendanceStatus.PRESENT}
    assert stats(response.text)["present"] == "3"


def test_mark_unmarked_with_an_unknown_status_is_refused(app, classroom, teacher, active):
    response = Roster(teacher, active).mark_unmarked("MAYBE")

    assert response.status_code == 400
    assert parse(response.text).text == '"MAYBE" is not a valid choice.'
    assert stored_attendance(app, active) == {}


# --- notes --------------------------------------------------------------------------------


def test_a_note_is_saved_and_shown_in_the_cell_the_page_and_the_api(
    classroom, teacher, active, api_as
):
    student = classroom.klass.students[0]
    roster = Roster(teacher, active)
    roster.tap(student, seen="")

    response = roster.note(student, "  arrived 10 minutes late  ")

    assert response.status_code == 200
    cell = cells(response.text)[str(student.profile_id)]
    assert cell.get("data-status") == "PRESENT"
    assert cell.one(attrs={"class": "cell-note"}).text == "arrived 10 minutes late"
    page_cell = cells(teacher.get(f"/sessions/{active}").text)[str(student.profile_id)]
    assert page_cell.one(attrs={"class": "cell-note"}).text == "arrived 10 minutes late"
    assert _api_view(api_as, classroom, active)["records"][0]["notes"] == "arrived 10 minutes late"


def test_the_note_field_says_that_only_staff_read_notes(classroom, teacher, active):
    student = classroom.klass.students[0]
    roster = Roster(teacher, active)
    roster.tap(student, seen="")

    # The menu's body is the page's one template (static/js/cell_menu.js gives its ids).
    menu = parse(teacher.get(f"/sessions/{active}").text).one(
        "template", {"id": "cell-menu-template"}
    )

    field = menu.one("input", {"name": "notes"})
    hint = menu.one(attrs={"data-id": field.get("data-describedby").split()[0]})
    assert "Staff only" in hint.text
    assert "the student never does" in hint.text


def test_a_note_is_escaped_not_run(classroom, teacher, active):
    student = classroom.klass.students[0]
    roster = Roster(teacher, active)
    roster.tap(student, seen="")

    response = roster.note(student, '<script>alert("x")</script>')

    assert "<script>alert" not in response.text
    assert "&lt;script&gt;" in response.text
    cell = cells(response.text)[str(student.profile_id)]
    assert cell.one(attrs={"class": "cell-note"}).text == '<script>alert("x")</script>'


NUL_REFUSED = "Null characters are not allowed."
TOO_LONG = "Ensure this field has no more than 2000 characters."


def _api_note(api_as, classroom, session_id, text):
    """The same note through the JSON API: PUT on the student's record."""
    record_id = _api_view(api_as, classroom, session_id)["records"][0]["id"]
    return api_as(classroom.teacher).put(f"/api/attendance/{record_id}/", json={"notes": text})


@pytest.mark.parametrize(
    ("text", "message"),
    [("left\x00 early", NUL_REFUSED), ("x" * 2001, TOO_LONG)],
    ids=["nul", "2001-characters"],
)
def test_the_page_and_the_api_refuse_the_same_notes_with_the_same_message(
    classroom, teacher, active, api_as, text, message
):
    """Issue 11: one notes rule (in the service) answers both edges: refused, never cut or
    silently cleaned, and nothing stored."""
    student = classroom.klass.students[0]
    roster = Roster(teacher, active)
    roster.tap(student, seen="")

    page = roster.note(student, text)
    api = _api_note(api_as, classroom, active, text)

    assert page.status_code == 400
    assert cells(page.text)[str(student.profile_id)].one(attrs={"class": "cell-error"}).text == (
        message
    )
    assert api.status_code == 400
    assert api.get_json() == {"notes": [message]}
    assert _api_view(api_as, classroom, active)["records"][0]["notes"] == ""


def test_a_note_of_exactly_2000_characters_is_kept_whole_on_both_edges(
    classroom, teacher, active, api_as
):
    student = classroom.klass.students[0]
    roster = Roster(teacher, active)
    roster.tap(student, seen="")

    assert roster.note(student, "p" * 2000).status_code == 200
    assert _api_view(api_as, classroom, active)["records"][0]["notes"] == "p" * 2000
    assert _api_note(api_as, classroom, active, "a" * 2000).status_code == 200
    assert _api_view(api_as, classroom, active)["records"][0]["notes"] == "a" * 2000


def test_a_note_for_an_unmarked_student_asks_to_mark_first(app, classroom, teacher, active):
    student = classroom.klass.students[0]

    response = Roster(teacher, active).note(student, "hello")

    assert response.status_code == 400
    cell = cells(response.text)[str(student.profile_id)]
    assert cell.one(attrs={"class": "cell-error"}).text == "Mark the student before adding a note."
    assert stored_attendance(app, active) == {}


def test_a_note_for_a_student_not_on_the_roster_is_refused(app, classroom, teacher, active):
    response = Roster(teacher, active).note(classroom.outsider, "hello")

    assert response.status_code == 400
    assert "Student is not on this roster." in response.text


# --- ended and scheduled sessions ---------------------------------------------------------


@pytest.fixture
def ended(app, classroom):
    """An ENDED session in which the first student was marked PRESENT before the end."""
    session_id = make_session(app, classroom.klass)
    mark(app, classroom.klass, session_id, classroom.klass.students[0], "PRESENT")
    end_session(app, classroom.klass, session_id)
    return session_id


def test_an_ended_roster_is_read_only_with_the_locked_notice(classroom, teacher, ended):
    page = teacher.get(f"/sessions/{ended}")

    assert page.status_code == 200
    doc = parse(page.text)
    assert doc.find_all(attrs={"hx-post": True}) == []
    for cell in cells(page.text).values():
        assert cell.one("button", {"class": "cell-tap"}).get("aria-disabled") == "true"
    notice = doc.one(attrs={"class": "notice locked"})
    assert "locked" in notice.text
    assert doc.one("body").get("data-session-status") == "ENDED"
    assert doc.find(attrs={"id": "end-session"}) is None
    assert (
        cells(page.text)[str(classroom.klass.students[0].profile_id)].get("data-status")
        == "PRESENT"
    )


@pytest.mark.parametrize("form", [{"seen": "PRESENT"}, {"status": "LATE"}])
def test_a_tap_on_an_ended_session_is_refused_with_the_locked_message_in_the_cell(
    app, classroom, teacher, ended, api_as, form
):
    student = classroom.klass.students[0]
    before = _api_view(api_as, classroom, ended)

    response = Roster(teacher, ended).tap(student, **form)

    assert response.status_code == 400
    cell = cells(response.text)[str(student.profile_id)]
    assert cell.one(attrs={"class": "cell-error"}).text == LOCKED
    assert cell.get("data-status") == "PRESENT"
    assert cell.find(attrs={"hx-post": True}) is None
    assert _api_view(api_as, classroom, ended) == before
    assert stored_attendance(app, ended) == {student.profile_id: AttendanceStatus.PRESENT}


def test_a_tap_on_an_unmarked_student_of_an_ended_session_gets_rule_1s_message(
    app, classroom, teacher, ended
):
    student = classroom.klass.students[1]

    response = Roster(teacher, ended).tap(student, seen="")

    assert response.status_code == 400
    cell = cells(response.text)[str(student.profile_id)]
    assert cell.get("data-status") == ""
    assert cell.one(attrs={"class": "cell-error"}).text.startswith(
        "Cannot mark attendance - session ended at "
    )
    assert student.profile_id not in stored_attendance(app, ended)


def test_notes_and_mark_unmarked_on_an_ended_session_are_refused(app, classroom, teacher, ended):
    student = classroom.klass.students[0]
    roster = Roster(teacher, ended)

    note = roster.note(student, "too late")
    bulk = roster.mark_unmarked("ABSENT")

    assert note.status_code == 400
    assert cells(note.text)[str(student.profile_id)].one(attrs={"class": "cell-error"}).text == (
        LOCKED
    )
    assert bulk.status_code == 400
    assert "Cannot mark attendance - session ended at " in bulk.text
    assert stored_attendance(app, ended) == {student.profile_id: AttendanceStatus.PRESENT}


def test_a_scheduled_roster_offers_to_start_the_session_and_refuses_taps(app, classroom, teacher):
    session_id = make_session(app, classroom.klass, start=False)
    student = classroom.klass.students[0]
    roster = Roster(teacher, session_id)

    doc = parse(roster.page.text)
    start = doc.one("form", {"action": f"/sessions/{session_id}/start"})
    assert start.one("input", {"name": "csrf_token"}).get("value")
    assert "Start the session" in start.text
    assert doc.find_all(attrs={"hx-post": True}) == []

    response = roster.tap(student, seen="")

    assert response.status_code == 400
    cell = cells(response.text)[str(student.profile_id)]
    assert cell.one(attrs={"class": "cell-error"}).text == NOT_STARTED
    assert cell.get("data-status") == ""
    assert stored_attendance(app, session_id) == {}


# --- the grid (resynchronisation) ------------------------------------------------------------


def test_the_grid_returns_every_cell_and_statistics_with_a_live_sequence(
    app, classroom, teacher, active, api_as
):
    roster = Roster(teacher, active)
    first = teacher.get(f"/sessions/{active}/grid")
    page_seq = parse(roster.page.text).one("body").get("data-seq")

    assert first.status_code == 200
    assert first.headers["X-Live-Seq"] == page_seq
    assert set(cells(first.text)) == {str(s.profile_id) for s in classroom.klass.students}
    assert _oob_stats(first.text) == _expected_stats(_api_view(api_as, classroom, active))

    roster.tap(classroom.klass.students[0], seen="")
    mark(app, classroom.klass, active, classroom.klass.students[1], "LATE")
    second = teacher.get(f"/sessions/{active}/grid")

    assert int(second.headers["X-Live-Seq"]) == int(first.headers["X-Live-Seq"]) + 2
    found = cells(second.text)
    assert found[str(classroom.klass.students[0].profile_id)].get("data-status") == "PRESENT"
    assert found[str(classroom.klass.students[1].profile_id)].get("data-status") == "LATE"
    assert _oob_stats(second.text) == _expected_stats(_api_view(api_as, classroom, active))


def test_the_tap_that_puts_a_student_over_the_alert_line_flags_their_tile(app, classroom, teacher):
    from datetime import UTC, datetime

    from tests.factories import run_sessions

    adams = classroom.klass.students[0]
    plan = [{adams: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 2]
    run_sessions(app, classroom.klass, plan, first_start=datetime(2026, 9, 7, 9, tzinfo=UTC))
    roster = Roster(teacher, make_session(app, classroom.klass))
    assert "At risk" not in cells(roster.page.text)[str(adams.profile_id)].text

    roster.tap(adams, seen="")  # not marked → Present
    response = roster.tap(adams, seen="PRESENT")  # Present → Absent: three in a row

    flag = parse(response.text).one(attrs={"class": "alert-flag"})
    assert flag.text == "At risk: 3 absences in a row (at least 3)"
    assert flag.get("title") == "3 absences in a row (at least 3)"
    reloaded = Roster(teacher, roster.session_id)
    assert "At risk" in cells(reloaded.page.text)[str(adams.profile_id)].text


def test_the_roster_writes_its_rate_as_every_page_does(classroom, teacher, active):
    """One formatter (the ``rate`` filter, attendanceRate in scripts): "0.0", never "0"."""
    page = teacher.get(f"/sessions/{active}").text

    assert stats(page)["attendance_rate"] == "0.0"
    explained = parse(page).one("p", {"class": "rate-explained"}).text
    assert explained.startswith("0.0% = 0 of 3")


def test_the_status_filter_offers_the_status_words_of_the_one_source(classroom, teacher, active):
    from attendance_app.models import STATUS_WORDS

    page = parse(teacher.get(f"/sessions/{active}").text)
    options = page.one("select", {"id": "roster-filter"}).find_all("option")

    assert [(o.get("value"), o.text) for o in options] == [
        ("", "Everyone"),
        ("none", STATUS_WORDS[""]),
        *((value.lower(), word) for value, word in STATUS_WORDS.items() if value),
    ]


def _tile_html(html: str, student) -> str:
    """The student's ``<li>`` as sent (the tile holds no nested list item), its CSRF tokens
    left out."""
    found = re.search(
        rf'<li class="cell[^"]*" id="cell-{student.profile_id}".*?</li>', html, re.DOTALL
    )
    assert found, "no tile for the student"
    # Its forms' CSRF tokens are signed with the second they were made in.
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', found.group(0))


def test_a_taps_answer_is_the_tile_and_the_statistics_the_page_shows(app, classroom, teacher):
    from datetime import UTC, datetime

    from tests.factories import run_sessions

    adams, baker = classroom.klass.students[:2]
    plan = [{adams: s, baker: "PRESENT"} for s in ["PRESENT", "LATE"] + ["ABSENT"] * 3]
    run_sessions(app, classroom.klass, plan, first_start=datetime(2026, 9, 7, 9, tzinfo=UTC))
    roster = Roster(teacher, make_session(app, classroom.klass))
    roster.tap(baker, seen="")
    roster.note(baker, "Left at break")

    answer = roster.tap(adams, status="ABSENT")
    page = teacher.get(f"/sessions/{roster.session_id}").text

    tile = _tile_html(answer.text, adams)
    assert 'data-status="ABSENT"' in tile and "At risk" in tile and "dot-late" in tile
    assert tile == _tile_html(page, adams)
    assert stats(answer.text) == stats(page)
    assert stats(page)["absent"] == "1" and stats(page)["present"] == "1"
