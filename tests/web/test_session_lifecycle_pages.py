"""Starting, scheduling and ending sessions from the class page and the roster."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest

from attendance_app.models import AttendanceStatus, Channel
from tests.factories import audit_trail, end_session, make_session, mark, stored_attendance
from tests.web.conftest import cells, csrf_from, parse


@pytest.fixture
def teacher(classroom, browser_as):
    return browser_as(classroom.teacher)


def _session_view(api_as, classroom, session_id) -> dict:
    response = api_as(classroom.teacher).get(f"/api/attendance/session/{session_id}/")
    assert response.status_code == 200
    return response.get_json()


def _session(api_as, classroom, session_id) -> dict:
    response = api_as(classroom.teacher).get(f"/api/sessions/{session_id}/")
    assert response.status_code == 200
    return response.get_json()


def _roster_id(location: str) -> uuid.UUID:
    path = urlsplit(location).path
    assert path.startswith("/sessions/")
    return uuid.UUID(path.removeprefix("/sessions/"))


def _class_form(client, classroom):
    """The class page's session form: its action, CSRF token and buttons."""
    doc = parse(client.get(f"/classes/{classroom.klass.id}").text)
    form = doc.one("form", {"action": f"/classes/{classroom.klass.id}/sessions"})
    return form


def _submit_end(client, session_id, unmarked: str):
    page = client.get(f"/sessions/{session_id}/end")
    return client.post(
        f"/sessions/{session_id}/end",
        data={"unmarked": unmarked, "csrf_token": csrf_from(page.text)},
    )


# --- create and start -----------------------------------------------------------------------


def test_start_a_session_now_creates_and_starts_it_and_opens_its_roster(classroom, teacher, api_as):
    form = _class_form(teacher, classroom)
    button = form.one("button", {"name": "start", "value": "1"})
    assert button.text == "Start a session now"

    response = teacher.post(
        form.get("action"),
        data={"start": "1", "csrf_token": form.one("input", {"name": "csrf_token"}).get("value")},
    )

    assert response.status_code == 302
    session_id = _roster_id(response.headers["Location"])
    session = _session(api_as, classroom, session_id)
    assert session["status"] == "ACTIVE"
    assert session["start_time"] is not None
    assert session["class_id"] == str(classroom.klass.id)
    roster = teacher.get(f"/sessions/{session_id}")
    doc = parse(roster.text)
    assert doc.one("body").get("data-session-status") == "ACTIVE"
    assert "Session started" in doc.one(attrs={"id": "flash"}).text
    assert len(cells(roster.text)) == 3
    class_page = parse(teacher.get(f"/classes/{classroom.klass.id}").text)
    assert class_page.find("a", {"href": f"/sessions/{session_id}"}) is not None


def test_schedule_a_session_then_start_it_from_its_roster(classroom, teacher, api_as):
    form = _class_form(teacher, classroom)
    token = form.one("input", {"name": "csrf_token"}).get("value")
    assert form.one("button", {"name": "start", "value": "0"}).text == "Schedule a session"

    scheduled = teacher.post(form.get("action"), data={"start": "0", "csrf_token": token})

    assert scheduled.status_code == 302
    session_id = _roster_id(scheduled.headers["Location"])
    assert _session(api_as, classroom, session_id)["status"] == "SCHEDULED"
    assert _session(api_as, classroom, session_id)["start_time"] is None

    roster = parse(teacher.get(f"/sessions/{session_id}").text)
    start_form = roster.one("form", {"action": f"/sessions/{session_id}/start"})
    started = teacher.post(
        start_form.get("action"),
        data={"csrf_token": start_form.one("input", {"name": "csrf_token"}).get("value")},
    )

    assert started.status_code == 302
    assert _roster_id(started.headers["Location"]) == session_id
    session = _session(api_as, classroom, session_id)
    assert session["status"] == "ACTIVE" and session["start_time"] is not None
    assert parse(teacher.get(f"/sessions/{session_id}").text).find_all(attrs={"hx-post": True})


def test_starting_a_session_twice_shows_the_rule_and_changes_nothing(
    app, classroom, teacher, api_as
):
    session_id = make_session(app, classroom.klass)
    before = _session(api_as, classroom, session_id)
    token = csrf_from(teacher.get(f"/sessions/{session_id}").text)

    response = teacher.post(f"/sessions/{session_id}/start", data={"csrf_token": token})

    assert response.status_code == 400
    assert "Cannot start a session that is ACTIVE" in response.text
    assert _session(api_as, classroom, session_id) == before


def test_creating_a_session_without_csrf_is_refused(app, classroom, teacher, api_as):
    teacher.get(f"/classes/{classroom.klass.id}")

    response = teacher.post(f"/classes/{classroom.klass.id}/sessions", data={"start": "1"})

    assert response.status_code == 400
    assert "No sessions yet." in teacher.get(f"/classes/{classroom.klass.id}").text


def test_creating_a_session_for_an_unknown_class_is_a_404(classroom, teacher):
    token = csrf_from(teacher.get("/").text)

    response = teacher.post(
        f"/classes/{uuid.uuid4()}/sessions", data={"start": "1", "csrf_token": token}
    )

    assert response.status_code == 404


# --- end ----------------------------------------------------------------------------------


def test_the_end_page_lists_the_unmarked_students(app, classroom, teacher):
    a, b, c = classroom.klass.students
    session_id = make_session(app, classroom.klass)
    mark(app, classroom.klass, session_id, a, "PRESENT")

    response = teacher.get(f"/sessions/{session_id}/end")

    assert response.status_code == 200
    doc = parse(response.text)
    listed = doc.one("ul", {"class": "unmarked-list"}).text
    assert b.last_name in listed and b.number in listed
    assert c.last_name in listed and c.number in listed
    assert a.last_name not in listed
    assert "2 students not marked yet" in doc.text
    assert doc.one("button", {"id": "end-mark-absent"}).get("value") == "absent"
    assert doc.one("button", {"id": "end-anyway"}).get("value") == "keep"


def test_the_end_page_says_when_everyone_is_marked(app, classroom, teacher):
    session_id = make_session(app, classroom.klass)
    for student in classroom.klass.students:
        mark(app, classroom.klass, session_id, student, "PRESENT")

    doc = parse(teacher.get(f"/sessions/{session_id}/end").text)

    assert "Every student is marked." in doc.text
    assert doc.find("button", {"id": "end-mark-absent"}) is None
    assert doc.one("button", {"id": "end-anyway"}).text == "End the session"


@pytest.mark.parametrize("state", ["scheduled", "ended"])
def test_the_end_page_of_a_session_that_is_not_active_offers_no_end(app, classroom, teacher, state):
    session_id = make_session(app, classroom.klass, start=False, end=state == "ended")

    response = teacher.get(f"/sessions/{session_id}/end")

    assert response.status_code == 200
    doc = parse(response.text)
    assert f"This session is {state} and cannot be ended." in doc.text
    assert doc.find("form", {"action": f"/sessions/{session_id}/end"}) is None


def test_ending_with_unmarked_absent_marks_them_absent_and_ends_in_one_go(
    app, classroom, teacher, api_as
):
    a, b, c = classroom.klass.students
    session_id = make_session(app, classroom.klass)
    mark(app, classroom.klass, session_id, a, "LATE")

    response = _submit_end(teacher, session_id, "absent")

    assert response.status_code == 302
    assert _roster_id(response.headers["Location"]) == session_id
    view = _session_view(api_as, classroom, session_id)
    assert view["session"]["status"] == "ENDED"
    assert view["session"]["is_locked"] is True
    assert view["statistics"]["not_marked"] == 0
    assert {r["student"]["id"]: r["status"] for r in view["records"]} == {
        str(a.profile_id): "LATE",
        str(b.profile_id): "ABSENT",
        str(c.profile_id): "ABSENT",
    }
    roster = teacher.get(f"/sessions/{session_id}")
    doc = parse(roster.text)
    assert "marked absent and the session has ended" in doc.one(attrs={"id": "flash"}).text
    assert doc.find(attrs={"class": "notice locked"}) is not None
    assert doc.find_all(attrs={"hx-post": True}) == []
    filled = [row for row in audit_trail(app, session_id) if row["student_id"] != a.profile_id]
    assert {row["channel"] for row in filled} == {Channel.WEB}


def test_ending_with_unmarked_kept_leaves_them_unmarked(app, classroom, teacher, api_as):
    a, b, c = classroom.klass.students
    session_id = make_session(app, classroom.klass)
    mark(app, classroom.klass, session_id, a, "PRESENT")

    response = _submit_end(teacher, session_id, "keep")

    assert response.status_code == 302
    view = _session_view(api_as, classroom, session_id)
    assert view["session"]["status"] == "ENDED"
    assert view["statistics"]["not_marked"] == 2
    assert stored_attendance(app, session_id) == {a.profile_id: AttendanceStatus.PRESENT}
    found = cells(teacher.get(f"/sessions/{session_id}").text)
    assert found[str(b.profile_id)].get("data-status") == ""
    assert found[str(c.profile_id)].get("data-status") == ""


def test_ending_without_csrf_is_refused_and_the_session_stays_active(
    app, classroom, teacher, api_as
):
    session_id = make_session(app, classroom.klass)
    teacher.get(f"/sessions/{session_id}/end")

    response = teacher.post(f"/sessions/{session_id}/end", data={"unmarked": "absent"})

    assert response.status_code == 400
    assert _session(api_as, classroom, session_id)["status"] == "ACTIVE"
    assert stored_attendance(app, session_id) == {}


@pytest.mark.parametrize("unmarked", ["absent", "keep"])
def test_ending_an_ended_session_again_is_refused_and_changes_nothing(
    app, classroom, teacher, api_as, unmarked
):
    session_id = make_session(app, classroom.klass)
    mark(app, classroom.klass, session_id, classroom.klass.students[0], "PRESENT")
    token = csrf_from(teacher.get(f"/sessions/{session_id}").text)
    end_session(app, classroom.klass, session_id)
    before = _session_view(api_as, classroom, session_id)

    response = teacher.post(
        f"/sessions/{session_id}/end", data={"unmarked": unmarked, "csrf_token": token}
    )

    assert response.status_code == 400
    assert "<html" in response.text
    assert _session_view(api_as, classroom, session_id) == before


@pytest.mark.parametrize(
    ("unmarked", "message"),
    [
        ("keep", "Cannot end a session that is SCHEDULED"),
        ("absent", "Cannot mark attendance - session has not started"),
    ],
)
def test_ending_a_scheduled_session_is_refused_with_the_rule(
    app, classroom, teacher, api_as, unmarked, message
):
    session_id = make_session(app, classroom.klass, start=False)
    token = csrf_from(teacher.get(f"/sessions/{session_id}").text)

    response = teacher.post(
        f"/sessions/{session_id}/end", data={"unmarked": unmarked, "csrf_token": token}
    )

    assert response.status_code == 400
    assert message in response.text
    assert _session(api_as, classroom, session_id)["status"] == "SCHEDULED"
    assert stored_attendance(app, session_id) == {}
