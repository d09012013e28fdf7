"""Self check-in against real server processes (eventlet and gevent): a check-in, through the
API or the student's page, reaches a client joined to the session like a tap does."""

from __future__ import annotations

import re

import pytest
import requests

from tests.factories import PASSWORD, make_admin, make_class, make_session
from tests.live.conftest import api, browser_login

pytestmark = pytest.mark.live


@pytest.fixture
def lesson(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=3, name="TEST101 Section A")
    return klass, make_session(app, klass)


def current_code(server, klass, session_id) -> str:
    response = api(server, klass.teacher.token).post(
        f"{server.url}/api/sessions/{session_id}/check-in-code/", timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["code"]


def student_token(server, student) -> str:
    response = requests.post(
        f"{server.url}/api/auth/token/",
        json={"email": student.email, "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


def test_a_check_in_reaches_the_teachers_joined_client(live_server, listeners, lesson):
    klass, session_id = lesson
    student = klass.students[0]
    teacher = listeners().connect(live_server.url, token=klass.teacher.token)
    assert teacher.join(session_id)["ok"]
    code = current_code(live_server, klass, session_id)

    response = api(live_server, student_token(live_server, student)).post(
        f"{live_server.url}/api/attendance/check-in/",
        json={"session_id": str(session_id), "code": code},
        timeout=10,
    )

    assert response.status_code == 201, response.text
    event = teacher.wait_for("attendance", lambda d: d["session_id"] == str(session_id))
    [record] = event["records"]
    assert record["student"] == {"id": str(student.profile_id), "student_id": student.number}
    assert record["status"] == "PRESENT"
    assert record["marked_by"] == student.full_name
    assert record["checked_in"] is True
    assert record["id"] == response.json()["attendance"]["id"]
    stats = teacher.wait_for("statistics", lambda d: d["statistics"]["present"] == 1)
    assert stats["statistics"]["not_marked"] == 2


def test_a_check_in_from_the_students_page_reaches_the_client_and_a_wrong_code_does_not(
    live_server, listeners, lesson
):
    klass, session_id = lesson
    guesser, student = klass.students[1], klass.students[2]
    teacher = listeners().connect(live_server.url, token=klass.teacher.token)
    assert teacher.join(session_id)["ok"]
    code = current_code(live_server, klass, session_id)
    wrong = f"{(int(code) + 500_000) % 1_000_000:06d}"

    for person, typed in ((guesser, wrong), (student, code)):
        browser = browser_login(live_server, person.email, PASSWORD)
        page = browser.get(f"{live_server.url}/check-in?session={session_id}", timeout=10).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        response = browser.post(
            f"{live_server.url}/check-in",
            data={"session": str(session_id), "code": typed, "csrf_token": token},
            timeout=10,
            allow_redirects=False,
        )
        assert response.status_code == (400 if person is guesser else 303), response.text

    # The first attendance event after joining is the right code's: the wrong one sent none.
    event = teacher.wait_for("attendance", lambda d: d["session_id"] == str(session_id))
    assert [r["student"]["id"] for r in event["records"]] == [str(student.profile_id)]
    assert event["records"][0]["checked_in"] is True
    assert [name for name in teacher.names() if name == "attendance"] == ["attendance"]
