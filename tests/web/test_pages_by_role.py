"""Every page × every role: who gets the page, who gets 403/404, and nothing ever 500s."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from attendance_app.models import utcnow
from tests.factories import make_class, make_session, mark
from tests.web.conftest import htmx_headers, parse

ROLES = ("teacher", "admin", "other_teacher", "student", "outsider")


def _person(classroom, role: str):
    if role == "student":
        return classroom.klass.students[0]
    return getattr(classroom, role)


def _is_html_page(response) -> bool:
    return response.content_type.startswith("text/html") and "<html" in response.text


# --- home -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["teacher", "admin"])
def test_home_shows_todays_sessions_and_classes_to_staff(app, classroom, browser_as, role):
    session_id = make_session(app, classroom.klass)
    client = browser_as(_person(classroom, role))

    response = client.get("/")

    assert response.status_code == 200
    doc = parse(response.text)
    assert doc.find("a", {"href": f"/sessions/{session_id}"}) is not None
    assert doc.find("a", {"href": f"/classes/{classroom.klass.id}"}) is not None
    assert classroom.klass.name in response.text


def test_home_lists_only_the_teachers_own_classes_and_sessions(app, classroom, browser_as):
    other_class = make_class(
        app, admin=classroom.admin, teacher=classroom.other_teacher, students=1
    )
    other_session = make_session(app, other_class)

    teacher_home = parse(browser_as(classroom.teacher).get("/").text)
    admin_home = parse(browser_as(classroom.admin).get("/").text)

    assert teacher_home.find("a", {"href": f"/classes/{other_class.id}"}) is None
    assert teacher_home.find("a", {"href": f"/sessions/{other_session}"}) is None
    assert admin_home.find("a", {"href": f"/classes/{other_class.id}"}) is not None
    assert admin_home.find("a", {"href": f"/sessions/{other_session}"}) is not None


def test_home_leaves_out_sessions_that_ended_before_today(app, classroom, browser_as):
    yesterday = utcnow() - timedelta(days=1, hours=1)
    old = make_session(
        app, classroom.klass, end=True, start_at=yesterday, end_at=yesterday + timedelta(minutes=50)
    )
    today = make_session(app, classroom.klass)

    doc = parse(browser_as(classroom.teacher).get("/").text)

    assert doc.find("a", {"href": f"/sessions/{today}"}) is not None
    assert doc.find("a", {"href": f"/sessions/{old}"}) is None


def test_home_with_nothing_yet_says_so(app, browser_as, classroom):
    response = browser_as(classroom.other_teacher).get("/")

    assert response.status_code == 200
    assert "No sessions today yet." in response.text
    assert "No classes yet." in response.text


@pytest.mark.parametrize("role", ["student", "outsider"])
def test_home_sends_a_student_to_their_own_history(classroom, browser_as, role):
    person = _person(classroom, role)

    response = browser_as(person).get("/")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/students/{person.profile_id}/history"


# --- class, roster, end and grid pages ----------------------------------------------------

CLASS_ACCESS = {"teacher": 200, "admin": 200, "other_teacher": 403, "student": 403, "outsider": 403}


@pytest.mark.parametrize("role", ROLES)
def test_class_page_is_for_its_teacher_and_admins(classroom, browser_as, role):
    response = browser_as(_person(classroom, role)).get(f"/classes/{classroom.klass.id}")

    assert response.status_code == CLASS_ACCESS[role]
    assert _is_html_page(response)
    if response.status_code == 200:
        for student in classroom.klass.students:
            assert student.last_name in response.text
    else:
        assert "You do not have permission" in response.text


@pytest.mark.parametrize("suffix", ["", "/end", "/grid"])
@pytest.mark.parametrize("role", ROLES)
def test_session_pages_are_for_the_class_teacher_and_admins(
    app, classroom, browser_as, role, suffix
):
    session_id = make_session(app, classroom.klass)

    response = browser_as(_person(classroom, role)).get(f"/sessions/{session_id}{suffix}")

    assert response.status_code == CLASS_ACCESS[role]
    if response.status_code == 200:
        for student in classroom.klass.students:
            assert student.last_name in response.text
    else:
        # (students[0] is the "student" viewer: their own name is in the navigation.)
        assert classroom.klass.students[-1].last_name not in response.text


@pytest.mark.parametrize("role", ["teacher", "admin"])
@pytest.mark.parametrize(
    "path",
    [
        "/sessions/{unknown}",
        "/sessions/{unknown}/end",
        "/sessions/{unknown}/grid",
        "/classes/{unknown}",
        "/students/{unknown}/history",
    ],
)
def test_an_unknown_id_is_a_404_html_page(classroom, browser_as, role, path):
    response = browser_as(_person(classroom, role)).get(path.format(unknown=uuid.uuid4()))

    assert response.status_code == 404
    assert _is_html_page(response)
    assert "Not found" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/sessions/not-a-uuid",
        "/sessions/123",
        "/sessions/not-a-uuid/end",
        "/sessions/not-a-uuid/grid",
        "/classes/%27%20OR%201=1",
        "/students/xyz/history",
        "/students/" + "9" * 40 + "/history",
        "/sessions/%00",
        "/nowhere",
    ],
)
def test_a_malformed_id_in_a_path_is_a_404_not_a_500(classroom, browser_as, path):
    response = browser_as(classroom.teacher).get(path)

    assert response.status_code == 404
    assert _is_html_page(response)


def test_an_htmx_request_for_an_unknown_session_gets_the_message_in_the_flash_region(
    classroom, browser_as
):
    client = browser_as(classroom.teacher)
    page = client.get("/").text

    response = client.get(f"/sessions/{uuid.uuid4()}/grid", headers=htmx_headers(page))

    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#flash"
    assert "<html" not in response.text
    assert "flash-error" in response.text


@pytest.mark.parametrize(
    "action",
    [
        "/sessions/{session}/students/not-a-uuid/status",
        "/sessions/not-a-uuid/students/{student}/status",
        "/sessions/{session}/students/not-a-uuid/notes",
        "/sessions/not-a-uuid/mark-unmarked",
        "/sessions/not-a-uuid/end",
        "/sessions/not-a-uuid/start",
        "/classes/not-a-uuid/sessions",
    ],
)
def test_a_post_with_a_malformed_id_is_a_404(app, classroom, browser_as, action):
    session_id = make_session(app, classroom.klass)
    client = browser_as(classroom.teacher)
    page = client.get(f"/sessions/{session_id}").text
    path = action.format(session=session_id, student=classroom.klass.students[0].profile_id)

    response = client.post(path, data={"seen": ""}, headers=htmx_headers(page))

    assert response.status_code == 404


@pytest.mark.parametrize("role", ["other_teacher", "student"])
def test_staff_actions_on_a_session_are_refused_to_others(app, classroom, browser_as, role):
    session_id = make_session(app, classroom.klass)
    student = classroom.klass.students[0]
    client = browser_as(_person(classroom, role))
    page = client.get(f"/students/{student.profile_id}/history").text if role == "student" else ""
    headers = htmx_headers(page or client.get("/").text)

    posts = [
        (f"/sessions/{session_id}/students/{student.profile_id}/status", {"seen": ""}),
        (f"/sessions/{session_id}/mark-unmarked", {"status": "ABSENT"}),
        (f"/sessions/{session_id}/end", {"unmarked": "absent"}),
        (f"/classes/{classroom.klass.id}/sessions", {"start": "1"}),
    ]
    for path, data in posts:
        assert client.post(path, data=data, headers=headers).status_code == 403, path

    teacher = browser_as(classroom.teacher)
    roster = teacher.get(f"/sessions/{session_id}").text
    assert 'data-status=""' in roster and 'data-status="ABSENT"' not in roster
    assert 'data-session-status="ACTIVE"' in roster


# --- history ------------------------------------------------------------------------------

HISTORY_ACCESS = {"teacher": 200, "admin": 200, "other_teacher": 403, "student": 200}


@pytest.mark.parametrize("role", ["teacher", "admin", "other_teacher", "student"])
def test_history_is_for_the_student_their_teachers_and_admins(app, classroom, browser_as, role):
    student = classroom.klass.students[0]
    session_id = make_session(app, classroom.klass)
    mark(app, classroom.klass, session_id, student, "PRESENT")

    response = browser_as(_person(classroom, role)).get(f"/students/{student.profile_id}/history")

    assert response.status_code == HISTORY_ACCESS[role]
    assert _is_html_page(response)
    if response.status_code == 200:
        assert student.number in response.text
    else:
        assert student.number not in response.text


def test_another_student_may_not_read_a_students_history(classroom, browser_as):
    classmate = classroom.klass.students[1]

    response = browser_as(classroom.klass.students[0]).get(
        f"/students/{classmate.profile_id}/history"
    )

    assert response.status_code == 403
    assert classmate.number not in response.text


def test_a_teacher_without_a_class_in_common_may_not_read_a_history(classroom, browser_as):
    response = browser_as(classroom.teacher).get(
        f"/students/{classroom.outsider.profile_id}/history"
    )

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"date_from": "2026-13-45"},
            "From: “2026-13-45” is not a date (use YYYY-MM-DD), so it is not applied.",
        ),
        (
            {"date_to": "yesterday"},
            "To: “yesterday” is not a date (use YYYY-MM-DD), so it is not applied.",
        ),
        (
            {"date_from": "2026-01-10", "date_to": "not-a-date"},
            "To: “not-a-date” is not a date (use YYYY-MM-DD), so it is not applied.",
        ),
        (
            {"date_from": "a\x00b"},
            "From: “ab” is not a date (use YYYY-MM-DD), so it is not applied.",
        ),
        (
            {"date_from": "2027-01-01", "date_to": "2026-01-01"},
            "The start of the period must not be after its end.",
        ),
        ({"subject_id": "not-a-uuid"}, "Unknown subject."),
        ({"status": "FOO"}, "Unknown status."),
    ],
)
def test_a_bad_history_filter_gives_the_page_with_a_message(
    app, classroom, browser_as, query, message
):
    student = classroom.klass.students[0]
    session_id = make_session(app, classroom.klass)
    mark(app, classroom.klass, session_id, student, "PRESENT")

    response = browser_as(student).get(
        f"/students/{student.profile_id}/history", query_string=query
    )

    assert response.status_code == 200
    alerts = [p.text for p in parse(response.text).find_all("p", {"role": "alert"})]
    assert message in alerts
    assert student.number in response.text


@pytest.mark.parametrize(
    "query",
    [
        {"subject_id": str(uuid.uuid4())},
        {"status": "present"},
        {"date_from": "0001-01-01"},
        {"date_to": "0001-01-01"},
        {"date_from": "9999-12-31"},
        {"date_to": "9999-12-31"},
        {"unknown": "x"},
    ],
)
def test_odd_but_well_formed_history_filters_give_the_page(app, classroom, browser_as, query):
    student = classroom.klass.students[0]
    session_id = make_session(app, classroom.klass)
    mark(app, classroom.klass, session_id, student, "PRESENT")

    response = browser_as(student).get(
        f"/students/{student.profile_id}/history", query_string=query
    )

    assert response.status_code == 200
    assert student.number in response.text
    assert parse(response.text).find("p", {"role": "alert"}) is None
