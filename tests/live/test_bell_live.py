"""The bell is live: a mark that puts a student over the alert line reaches the teacher's and
the admins' open pages as a new unread count (real server processes, real Socket.IO clients)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from tests.factories import PASSWORD, make_admin, make_class, make_session, run_sessions
from tests.live.conftest import browser_login

pytestmark = pytest.mark.live

START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


def test_a_crossing_mark_rings_the_bell_of_the_teacher_and_the_admins_not_the_student(
    app, live_server, listeners
):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    ana = klass.students[0]
    run_sessions(
        app, klass, [{ana: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 2], first_start=START
    )
    session_id = make_session(app, klass)
    teacher = listeners().connect(live_server.url, token=klass.teacher.token)
    watching_admin = listeners().connect(live_server.url, token=admin.token)

    response = requests.post(
        f"{live_server.url}/api/attendance/mark/",
        json={"session_id": str(session_id), "student_id": str(ana.profile_id), "status": "ABSENT"},
        headers={"Authorization": f"Bearer {klass.teacher.token}"},
        timeout=10,
    )

    assert response.status_code == 201, response.text
    assert teacher.wait_for("notifications") == {"unread": 1}
    assert watching_admin.wait_for("notifications") == {"unread": 1}


def test_reading_a_notification_updates_the_count_on_the_readers_other_pages(
    app, live_server, listeners
):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    ana = klass.students[0]
    run_sessions(
        app, klass, [{ana: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 3], first_start=START
    )
    other_tab = listeners().connect(live_server.url, token=admin.token)

    browser = browser_login(live_server, admin.email, PASSWORD)

    response = browser.post(
        f"{live_server.url}/notifications/read-all",
        data={"csrf_token": browser.csrf},
        timeout=10,
        allow_redirects=False,
    )

    assert response.status_code == 303
    assert other_tab.wait_for("notifications") == {"unread": 0}
