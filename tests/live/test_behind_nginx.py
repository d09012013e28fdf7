"""Two server processes on PostgreSQL + Redis behind nginx running ``deploy/nginx.conf`` as
shipped: browsers spread over both processes and stay with theirs (Socket.IO long-polling
works through the balancer), a mark made through either process reaches the live views held
by the other, and plain API requests are spread over both.

Everything here is this module's own: a fresh PostgreSQL database (next to DATABASE_URL, or
the local ``test`` one when the suite runs on SQLite), a Redis channel, free ports and an
nginx with its own pid, logs and temp folders, so it runs beside any other test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests
import socketio

from tests.live.conftest import REDIS_URL, ROOT, start_server
from tests.live.nginx import nginx_command

# Always on a PostgreSQL database of its own: the same test in either pass of .ci/run.
pytestmark = [pytest.mark.live, pytest.mark.database_independent]

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
FAST_HASH = {"PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}
ADMIN = ("nginx-admin@example.com", "admin-pass-123")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A fresh PostgreSQL database of this module's own, migrated, with an admin."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql")):
        base = PG_DEFAULT
    base = base.replace("postgres://", "postgresql://", 1)
    name = f"attendance_test_nginx_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{base.rpartition('/')[0]}/{name}"
    env = {**os.environ, "DATABASE_URL": url, "ATTENDANCE_ENV": "test", **FAST_HASH}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    try:
        for args in (
            ["db", "upgrade"],
            [
                "create-user",
                "--email",
                ADMIN[0],
                "--password",
                ADMIN[1],
                "--role",
                "ADMIN",
                "--first-name",
                "Ada",
                "--last-name",
                "Admin",
            ],
        ):
            done = subprocess.run(
                flask + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stdout + done.stderr
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def cluster(postgres_url, tmp_path_factory):
    """Two gevent processes (the recommended production mode) on one Redis channel of their
    own, behind nginx: ``(nginx_url, [first, second])``."""
    channel = f"attendance-test-nginx-{uuid.uuid4().hex[:10]}"
    with ThreadPoolExecutor(2) as pool:
        servers = list(
            pool.map(
                lambda _: start_server(
                    postgres_url,
                    "gevent",
                    message_queue=REDIS_URL,
                    channel=channel,
                    extra_env=FAST_HASH,
                    timeout=120,  # two processes starting at once on a busy 2-core machine
                ),
                range(2),
            )
        )
    workdir = Path(tmp_path_factory.mktemp("nginx"))
    port = _free_port()
    ports = [int(s.url.rsplit(":", 1)[1]) for s in servers]
    nginx = subprocess.Popen(
        nginx_command(workdir, upstream_ports=ports, listen_port=port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert nginx.poll() is None, (workdir / "error.log").read_text()
            try:
                requests.get(f"{url}/login", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.1)
        yield url, servers
    finally:
        nginx.terminate()
        nginx.wait(10)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda server: server.stop(), servers))


def _expect(response: requests.Response, code: int) -> dict:
    assert response.status_code == code, response.text
    return response.json()


def _school(url: str, students: int = 3) -> dict:
    """A teacher, a class and an ACTIVE session, made over the API through nginx."""
    login = {"email": ADMIN[0], "password": ADMIN[1]}
    admin = {
        "Authorization": "Bearer "
        + _expect(requests.post(f"{url}/api/auth/token/", json=login, timeout=10), 200)["token"]
    }
    tag = uuid.uuid4().hex[:8]

    def post(path: str, body: dict, code: int = 201) -> dict:
        return _expect(requests.post(f"{url}{path}", json=body, headers=admin, timeout=10), code)

    person = {"password": "teacher-pass-123", "first_name": "Tess", "last_name": "Teacher"}
    teacher = post("/api/users/", {**person, "email": f"t{tag}@example.com", "role": "TEACHER"})
    student_ids = [
        post(
            "/api/users/",
            {
                **person,
                "email": f"s{tag}{i}@example.com",
                "role": "STUDENT",
                "student_id": f"N{tag}{i}",
            },
        )["student"]["id"]
        for i in range(students)
    ]
    subject = post("/api/subjects/", {"code": f"N{tag}", "name": "Nginx"})
    klass = post(
        "/api/classes/",
        {"subject_id": subject["id"], "name": f"N{tag} A", "teacher_id": teacher["teacher"]["id"]},
    )
    post(f"/api/classes/{klass['id']}/enrollments/", {"student_ids": student_ids})
    session = post("/api/sessions/", {"class_id": klass["id"]})
    post(f"/api/sessions/{session['id']}/start/", {}, 200)
    body = {"email": f"t{tag}@example.com", "password": "teacher-pass-123"}
    token = _expect(requests.post(f"{url}/api/auth/token/", json=body, timeout=10), 200)["token"]
    return {"token": token, "session": session["id"], "students": student_ids}


def _held_by(servers, needle: str, timeout: float = 10) -> int:
    """Index of the one server whose access log has ``needle``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = [i for i, server in enumerate(servers) if needle in server.output()]
        if hits:
            assert len(hits) == 1, f"{needle} reached both processes"
            return hits[0]
        time.sleep(0.05)
    raise AssertionError(f"{needle} reached no process")


class View:
    """A live view through nginx, like a browser's: its own cookie jar, Socket.IO over
    long-polling (upgraded to WebSocket or not), joined to a session."""

    def __init__(self, url: str, token: str, transports: list[str]) -> None:
        self.stats: list[dict] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("statistics", lambda data: self.stats.append(data["statistics"]))
        self.client.connect(url, auth={"token": token}, transports=transports, wait_timeout=10)

    def marked(self) -> set[int]:
        return {s["present"] + s["absent"] + s["late"] for s in self.stats}

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def test_marks_through_either_process_reach_views_held_by_the_other(cluster):
    url, servers = cluster
    school = _school(url)
    views: list[tuple[View, int]] = []
    try:
        # Browsers behind one address still spread: connect views until both processes hold
        # some (each view is a new client with its own cookie; bounded).
        for i in range(40):
            transports = ["polling"] if i % 2 == 0 else ["polling", "websocket"]
            view = View(url, school["token"], transports)
            views.append((view, _held_by(servers, f"sid={view.client.eio.sid}")))
            if len(views) >= 4 and {held for _, held in views} == {0, 1}:
                break
        assert {held for _, held in views} == {0, 1}, "every view landed on one process"
        for view, _ in views:
            ack = view.client.call("join_session", {"session_id": school["session"]}, timeout=10)
            assert ack["ok"] is True

        auth = {"Authorization": f"Bearer {school['token']}"}
        for k, server in enumerate(servers, start=1):  # one mark straight into each process
            body = {"session_id": school["session"], "student_id": school["students"][k - 1]}
            response = requests.post(
                f"{server.url}/api/attendance/mark/",
                json={**body, "status": "PRESENT"},
                headers=auth,
                timeout=10,
            )
            _expect(response, 201)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not all(k in v.marked() for v, _ in views):
                time.sleep(0.02)
            missing = [held for v, held in views if k not in v.marked()]
            assert not missing, f"mark {k} via process {k - 1} missed views on {missing}"
        # The views that took long-polling only were served through nginx the whole time.
        assert all(v.client.transport() == "polling" for v, _ in views[::2])
    finally:
        for view, _ in views:
            view.close()


def test_api_requests_spread_over_both_processes_and_a_cookie_keeps_a_client_on_one(cluster):
    url, servers = cluster
    school = _school(url, students=1)
    auth = {"Authorization": f"Bearer {school['token']}"}
    path = f"/api/sessions/{school['session']}/"

    probes = [uuid.uuid4().hex for _ in range(24)]
    for probe in probes:  # a script without a cookie jar: every request balanced anew
        _expect(requests.get(f"{url}{path}?probe={probe}", headers=auth, timeout=10), 200)
    counts = [0, 0]
    for probe in probes:
        counts[_held_by(servers, f"probe={probe}")] += 1
    assert counts[0] > 0 and counts[1] > 0, counts

    browser = requests.Session()  # keeps the balancer's cookie, like a browser
    first = browser.get(f"{url}{path}?probe=first", headers=auth, timeout=10)
    assert re.fullmatch(r"[0-9a-f]{32}", browser.cookies["attendance_lb"])
    assert "HttpOnly" in first.headers["Set-Cookie"]
    sticky = [uuid.uuid4().hex for _ in range(8)]
    for probe in sticky:
        response = browser.get(f"{url}{path}?probe={probe}", headers=auth, timeout=10)
        assert (
            "Set-Cookie" not in response.headers
            or "attendance_lb" not in response.headers["Set-Cookie"]
        )
    assert len({_held_by(servers, f"probe={probe}") for probe in sticky}) == 1
