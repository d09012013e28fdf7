"""PostgreSQL restarted mid-day (a cluster of the test's own): while it is down, requests get a
clear 503 at once instead of hanging or a bare 500; when it is back the same server process
answers normally again, without a restart."""

from __future__ import annotations

import requests
from flask_migrate import upgrade

from attendance_app import create_app
from attendance_app.extensions import db
from attendance_app.services.errors import DATABASE_UNAVAILABLE
from tests.conftest import TEST_SETTINGS
from tests.factories import make_admin, make_class, make_session, stored_attendance
from tests.live.conftest import browser_login, start_server


def _tap(browser, server, session_id, student, status: str) -> requests.Response:
    return browser.post(
        f"{server.url}/sessions/{session_id}/students/{student.profile_id}/status",
        data={"status": status},
        headers={"HX-Request": "true", "X-CSRFToken": browser.csrf},
        timeout=10,
    )


def test_requests_during_a_postgres_restart_get_503_and_the_server_reconnects(own_postgres):
    url = own_postgres.create_database()
    school = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": url})
    with school.app_context():
        upgrade()
        db.session.remove()
    admin = make_admin(school)
    klass = make_class(school, admin=admin, students=3)
    session_id = make_session(school, klass)
    first, second, third = klass.students
    token = {"Authorization": f"Bearer {klass.teacher.token}"}

    server = start_server(url, "eventlet")
    try:
        browser = browser_login(server, klass.teacher.email, "correct-horse-battery")
        assert _tap(browser, server, session_id, first, "PRESENT").status_code == 200
        report = f"{server.url}/api/attendance/session/{session_id}/"
        assert requests.get(report, headers=token, timeout=10).status_code == 200
        with school.app_context():
            db.engine.dispose()  # the test's own connections go too

        own_postgres.down()

        # The API: 503 with the message, a Retry-After, no hang (timeouts fail the test).
        response = requests.get(report, headers=token, timeout=10)
        assert response.status_code == 503, response.text
        assert response.json() == {"detail": DATABASE_UNAVAILABLE}
        assert response.headers["Retry-After"].isdigit()
        mark = requests.post(
            f"{server.url}/api/attendance/mark/",
            json={
                "session_id": str(session_id),
                "student_id": str(second.profile_id),
                "status": "LATE",
            },
            headers=token,
            timeout=10,
        )
        assert mark.status_code == 503 and mark.json() == {"detail": DATABASE_UNAVAILABLE}
        # A page and an htmx tap: the same message as HTML (the tap's in the flash region).
        page = browser.get(f"{server.url}/sessions/{session_id}", timeout=10)
        assert page.status_code == 503
        assert "text/html" in page.headers["Content-Type"]
        assert "The database is unavailable right now" in page.text
        tap = _tap(browser, server, session_id, second, "ABSENT")
        assert tap.status_code == 503 and "The database is unavailable right now" in tap.text
        assert "database unavailable" in server.output()

        own_postgres.up()

        # The same process, its pool reconnected by itself: the very next requests succeed.
        assert requests.get(report, headers=token, timeout=10).status_code == 200
        assert _tap(browser, server, session_id, third, "LATE").status_code == 200
        again = browser.get(f"{server.url}/sessions/{session_id}", timeout=10)
        assert again.status_code == 200
        stored = stored_attendance(school, session_id)
        assert {k: v.value for k, v in stored.items()} == {
            first.profile_id: "PRESENT",
            third.profile_id: "LATE",
        }
        assert server.proc.poll() is None
    finally:
        server.stop()
        with school.app_context():
            db.engine.dispose()
