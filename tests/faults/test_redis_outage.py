"""Redis (a throwaway one, the two server processes' message queue) stopped while a teacher
taps: the taps still succeed and are saved; live updates to the other process stop with a
logged warning and come back once Redis is back, with no process restarted."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.factories import make_admin, make_class, make_session, stored_attendance
from tests.faults.conftest import wait_until
from tests.live.conftest import browser_login, start_server


def _tap(browser, server, session_id, student, status: str) -> requests.Response:
    return browser.post(
        f"{server.url}/sessions/{session_id}/students/{student.profile_id}/status",
        data={"status": status},
        headers={"HX-Request": "true", "X-CSRFToken": browser.csrf},
        timeout=10,
    )


def _has_record(student, status: str):
    def check(data) -> bool:
        return any(
            r["student"]["id"] == str(student.profile_id) and r["status"] == status
            for r in data["records"]
        )

    return check


def test_taps_succeed_while_redis_is_down_and_live_updates_recover_after(
    app, postgres_only, own_redis, listeners
):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=6)
    session_id = make_session(app, klass)
    students = klass.students
    view = listeners()
    channel = f"attendance-faults-{uuid.uuid4().hex[:10]}"
    # A short idle limit makes every request after 0.6 s record the login's activity in
    # Redis (normally at most every 30 s), so the taps during the outage do.
    with ThreadPoolExecutor(2) as pool:
        tapping, watching = pool.map(
            lambda _: start_server(
                postgres_only,
                "eventlet",
                message_queue=own_redis.url,
                channel=channel,
                extra_env={"SESSION_IDLE_MINUTES": "0.1"},
            ),
            range(2),
        )
    try:
        browser = browser_login(tapping, klass.teacher.email, "correct-horse-battery")
        view.connect(watching.url, token=klass.teacher.token)
        assert view.join(session_id)["ok"] is True
        assert _tap(browser, tapping, session_id, students[0], "PRESENT").status_code == 200
        view.wait_for("attendance", _has_record(students[0], "PRESENT"))

        own_redis.stop()
        # Past the activity resolution (0.6 s, counted in whole seconds of the cookie's
        # stamps): only after a full second is the next request sure to write.
        threading.Event().wait(1.1)
        during = {students[1]: "ABSENT", students[2]: "LATE", students[3]: "PRESENT"}
        for student, status in during.items():
            response = _tap(browser, tapping, session_id, student, status)
            assert response.status_code == 200, response.text
        # A page still loads (the login's activity is kept in memory meanwhile).
        assert browser.get(f"{tapping.url}/sessions/{session_id}", timeout=10).status_code == 200
        # A page that (re)connects meanwhile still joins the session's room.
        late = listeners().connect(watching.url, token=klass.teacher.token)
        assert late.join(session_id)["ok"] is True
        late.close()
        assert "presence: Redis unreachable" in watching.output()
        assert "Cannot publish to redis" in tapping.output()
        assert "login activity: Redis unreachable" in tapping.output()

        own_redis.start()
        # Each process finds Redis again by itself (its listener retries with a back-off):
        # tap until a change reaches the other process's client.
        statuses = ["ABSENT", "LATE", "PRESENT"]
        rounds = iter(range(1000))

        def a_tap_arrives() -> bool:
            status = statuses[next(rounds) % 3]
            assert _tap(browser, tapping, session_id, students[4], status).status_code == 200
            try:
                view.wait_for("attendance", _has_record(students[4], status), timeout=1)
            except AssertionError:
                return False
            return True

        wait_until(a_tap_arrives, what="a live update after Redis came back", timeout=30)
        assert _tap(browser, tapping, session_id, students[5], "LATE").status_code == 200
        view.wait_for("attendance", _has_record(students[5], "LATE"))

        stored = {k: v.value for k, v in stored_attendance(app, session_id).items()}
        for student, status in {students[0]: "PRESENT", **during}.items():
            assert stored[student.profile_id] == status
        assert tapping.proc.poll() is None and watching.proc.poll() is None
    finally:
        view.close()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda server: server.stop(), (tapping, watching)))
