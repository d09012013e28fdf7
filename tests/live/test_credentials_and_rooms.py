"""A live connection ends with the login it was opened with, a class's former teacher stops
hearing its sessions at once, password hashing never stalls the server, and a huge body is
refused unread — against real server processes (eventlet and gevent), over the network."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid

import pytest
import requests
from werkzeug.security import generate_password_hash

from attendance_app.extensions import db
from attendance_app.models import Role
from attendance_app.services.school import people, tokens
from tests.factories import PASSWORD, actor, make_admin, make_class, make_session, make_teacher
from tests.live.conftest import ASYNC_MODES, REDIS_URL, browser_login, start_server

pytestmark = pytest.mark.live

#: Tokens obtained from these servers live 3 s, cookie sessions 4 s idle; connections are
#: checked twice a second. Short, for the tests that wait for an expiry, yet each leaves a
#: test seconds for what must happen before it (a connect; a request every half second).
IDLE_SECONDS = 4
SHORT_LIVED = {
    "API_TOKEN_DAYS": str(3 / 86400),
    "SESSION_IDLE_MINUTES": str(IDLE_SECONDS / 60),
    "LIVE_SWEEP_SECONDS": "0.5",
}


@pytest.fixture(scope="module", params=ASYNC_MODES)
def server(request, database_url):
    served = start_server(database_url, request.param, extra_env=SHORT_LIVED)
    yield served
    served.stop()


def wait_disconnected(listener, within: float = 15) -> bool:
    deadline = time.monotonic() + within
    while listener.client.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    return not listener.client.connected


def cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


# --- tokens ----------------------------------------------------------------------------------


def test_revoking_a_token_ends_the_connection_opened_with_it(server, app, listeners):
    teacher = make_teacher(app)
    # Issued with the usual lifetime (not by this module's short-lived server): its expiry
    # cannot end the connection in its stead.
    with app.app_context():
        token = tokens.issue_token(email=teacher.email, password=PASSWORD).token
        db.session.remove()
    doomed = listeners().connect(server.url, token=token)
    other = listeners().connect(server.url, token=teacher.token)  # another token of theirs

    revoked = requests.delete(
        f"{server.url}/api/auth/token/", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )

    assert revoked.status_code == 204
    assert wait_disconnected(doomed, within=5)
    assert other.client.connected


def test_a_token_revoked_by_another_process_ends_its_connection(server, app, listeners):
    teacher = make_teacher(app)
    view = listeners().connect(server.url, token=teacher.token)
    with app.app_context():  # the CLI, or a second server process
        tokens.revoke_token(raw=teacher.token)
        db.session.remove()

    assert wait_disconnected(view)


def test_an_expired_token_ends_its_connection(server, app, listeners):
    teacher = make_teacher(app)
    token = requests.post(
        f"{server.url}/api/auth/token/",
        json={"email": teacher.email, "password": PASSWORD},
        timeout=10,
    ).json()["token"]
    view = listeners().connect(server.url, token=token)

    assert wait_disconnected(view, within=20)
    with pytest.raises(Exception, match=r"(?i)connect"):
        listeners().connect(server.url, token=token)


def test_deactivation_ends_connections_and_reactivation_revives_no_token(server, app, listeners):
    admin, teacher = make_admin(app), make_teacher(app)
    view = listeners().connect(server.url, token=teacher.token)
    with app.app_context():
        people.set_active(actor=actor(admin.user_id), user_id=teacher.user_id, active=False)
        people.set_active(actor=actor(admin.user_id), user_id=teacher.user_id, active=True)
        db.session.remove()

    assert wait_disconnected(view)
    with pytest.raises(Exception, match=r"(?i)connect"):
        listeners().connect(server.url, token=teacher.token)


# --- browser sessions ------------------------------------------------------------------------


def test_an_expired_browser_session_ends_its_connection(server, app, listeners):
    teacher = make_teacher(app)
    browser = browser_login(server, teacher.email, PASSWORD)
    view = listeners().connect(server.url, headers={"Cookie": cookie_header(browser)})

    assert wait_disconnected(view, within=20)
    with pytest.raises(Exception, match=r"(?i)connect"):
        listeners().connect(server.url, headers={"Cookie": cookie_header(browser)})
    assert browser.get(f"{server.url}/", allow_redirects=False, timeout=10).status_code == 302


def test_a_browser_that_keeps_making_requests_keeps_its_connection(server, app, listeners):
    teacher = make_teacher(app)
    browser = browser_login(server, teacher.email, PASSWORD)
    view = listeners().connect(server.url, headers={"Cookie": cookie_header(browser)})

    for _ in range(4 * IDLE_SECONDS):  # twice the idle time, two requests a second (taps)
        assert browser.get(f"{server.url}/", allow_redirects=False, timeout=10).status_code == 200
        time.sleep(0.5)
    assert view.client.connected  # its login is alive, though the socket's cookie is old

    assert wait_disconnected(view, within=20)  # requests stopped: the session ends


# --- a class's former teacher ----------------------------------------------------------------


def change_teacher(server, admin, klass, new_teacher) -> None:
    """Give the class another teacher through the back office page, as an admin would."""
    browser = browser_login(server, admin.email, PASSWORD)
    page = browser.get(f"{server.url}/admin/classes/{klass.id}", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    resp = browser.post(
        f"{server.url}/admin/classes/{klass.id}",
        data={
            "csrf_token": token,
            "name": klass.name,
            "subject_id": str(klass.subject_id),
            "teacher_id": str(new_teacher.profile_id),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 302, resp.text


def tap(server, token: str, session_id, student, status: str) -> None:
    resp = requests.post(
        f"{server.url}/api/attendance/mark/",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "session_id": str(session_id),
            "student_id": str(student.profile_id),
            "status": status,
        },
        timeout=10,
    )
    assert resp.status_code == 201, resp.text


def test_a_teacher_removed_from_a_class_stops_hearing_it_at_once(server, app, listeners):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2)
    session_id = make_session(app, klass)
    successor = make_teacher(app)
    former = listeners().connect(server.url, token=klass.teacher.token)
    watcher = listeners().connect(server.url, token=admin.token)
    assert former.join(session_id)["ok"] and watcher.join(session_id)["ok"]

    change_teacher(server, admin, klass, successor)
    tap(server, admin.token, session_id, klass.students[0], "PRESENT")

    watcher.wait_for("attendance")
    assert "attendance" not in former.names()
    assert former.join(session_id)["ok"] is False  # and cannot join again


def test_across_processes_the_former_teacher_leaves_the_room_at_once(app, database_url, listeners):
    channel = f"attendance-test-{uuid.uuid4().hex[:8]}"
    servers = [
        start_server(database_url, "gevent", message_queue=REDIS_URL, channel=channel)
        for _ in range(2)
    ]
    try:
        first, second = servers
        admin = make_admin(app)
        klass = make_class(app, admin=admin, students=2)
        session_id = make_session(app, klass)
        successor = make_teacher(app)
        former = listeners().connect(first.url, token=klass.teacher.token)
        watcher = listeners().connect(first.url, token=admin.token)
        assert former.join(session_id)["ok"] and watcher.join(session_id)["ok"]

        change_teacher(second, admin, klass, successor)  # made through the other process
        tap(second, admin.token, session_id, klass.students[0], "ABSENT")

        watcher.wait_for("attendance")
        assert "attendance" not in former.names()
    finally:
        for served in servers:
            served.stop()


# --- hashing off the event loop --------------------------------------------------------------

#: PBKDF2 iterations that take a few seconds: long enough to watch other requests go by.
SLOW_HASH = "pbkdf2:sha256:3000000"


def test_a_login_being_hashed_never_stalls_other_requests(server, app):
    admin = make_admin(app)
    with app.app_context():
        people.create_user(
            actor=actor(admin.user_id),
            email="slow@school.test",
            password=PASSWORD,
            password_hash=generate_password_hash(PASSWORD, SLOW_HASH),
            first_name="Slow",
            last_name="Hash",
            role=Role.TEACHER,
        )
        db.session.remove()
    login_done = threading.Event()
    answers: list[int] = []

    def login() -> None:
        resp = requests.post(
            f"{server.url}/api/auth/token/",
            json={"email": "slow@school.test", "password": "a-wrong-password"},
            timeout=120,
        )
        answers.append(resp.status_code)
        login_done.set()

    threading.Thread(target=login, daemon=True).start()
    served_meanwhile = 0
    with requests.Session() as other:
        other.headers["Authorization"] = f"Bearer {admin.token}"
        while not login_done.is_set():
            resp = other.get(f"{server.url}/api/subjects/", timeout=120)
            if not login_done.is_set():
                assert resp.status_code == 200
                served_meanwhile += 1
    # Blocking the event loop, the hash would let at most the request already in flight
    # through; in a thread it lets one after another.
    assert answers == [401]
    assert served_meanwhile >= 5, served_meanwhile


# --- a huge body ----------------------------------------------------------------------------


def test_a_multi_gigabyte_body_is_refused_before_it_is_read(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/auth/token/ HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: application/json\r\nContent-Length: 5000000000\r\n\r\n" + b"{" * 65536
        )
        answer = b""
        while b'"}' not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk

    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert answer.split(b"\r\n\r\n", 1)[1].strip() == b'{"detail":"Request body too large."}'

    assert requests.get(f"{server.url}/api/openapi.json", timeout=10).status_code == 200
