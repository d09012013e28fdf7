"""The command line: ``create-user``, ``demo`` and ``serve`` (real server processes)."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import socketio
from flask import Flask
from sqlalchemy import func, select

from attendance_app.demo.loader import load_demo
from attendance_app.demo.plan import CLASSES, DEMO_PASSWORD
from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    ClassSession,
    Enrollment,
    Guardian,
    Role,
    SchoolClass,
    SessionStatus,
    Student,
    Subject,
    User,
)
from attendance_app.services.marking import check_in
from attendance_app.services.school import people

ROOT = Path(__file__).resolve().parents[1]


# --- create-user -------------------------------------------------------------------------------


def create_user_args(email: str, role: str = "TEACHER", *extra: str) -> list[str]:
    return [
        "create-user",
        "--email",
        email,
        "--password",
        "long-enough-password",
        "--role",
        role,
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        *extra,
    ]


def test_create_user_creates_a_user_who_can_log_in(app: Flask):
    result = app.test_cli_runner().invoke(
        args=create_user_args("Ada@School.example", "STUDENT", "--student-id", "S777")
    )

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Created STUDENT ada@school.example (")
    with app.app_context():
        user = people.authenticate("ada@school.example", "long-enough-password")
        assert user is not None
        assert (user.role, user.full_name) == (Role.STUDENT, "Ada Lovelace")
        assert user.student.student_number == "S777"


def test_create_user_refuses_a_duplicate_email_with_a_clear_message(app: Flask):
    runner = app.test_cli_runner()
    assert runner.invoke(args=create_user_args("ada@school.example")).exit_code == 0

    result = runner.invoke(args=create_user_args("ADA@school.example", "ADMIN"))

    assert result.exit_code != 0
    assert "Error: email: A user with this email already exists." in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_create_user_refuses_a_student_without_a_student_id(app: Flask):
    result = app.test_cli_runner().invoke(args=create_user_args("kid@school.example", "STUDENT"))

    assert result.exit_code != 0
    assert "Error: student_id: This field is required." in result.output


# --- demo --------------------------------------------------------------------------------------


def demo_counts() -> dict:
    """What the database holds, counted straight from the tables."""

    def count(model, *where) -> int:
        return db.session.scalar(select(func.count()).select_from(model).where(*where))

    return {
        "users": dict(
            Counter(db.session.scalars(select(User.role)).all()),
        ),
        "subjects": count(Subject),
        "classes": count(SchoolClass),
        "enrolments": count(Enrollment),
        "sessions": dict(Counter(db.session.scalars(select(ClassSession.status)).all())),
        "records": count(Attendance),
        "guardians": count(Guardian),
        "guardians_notified": count(Guardian, Guardian.notify.is_(True)),
    }


def test_demo_loads_the_school_once_and_keeps_one_lesson_running_each_day(app: Flask, caplog):
    # One test, because loading the demo takes seconds: first run, rerun, run a day later.
    runner = app.test_cli_runner()
    caplog.set_level(logging.INFO, logger="attendance.security")

    first = runner.invoke(args=["demo"])
    with app.app_context():
        after_first = demo_counts()
    second = runner.invoke(args=["demo"])
    with app.app_context():
        after_second = demo_counts()

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert after_second == after_first
    assert after_first["users"] == {Role.ADMIN: 1, Role.TEACHER: 3, Role.STUDENT: 80}
    assert (after_first["subjects"], after_first["classes"]) == (4, 5)
    assert after_first["sessions"] == {SessionStatus.ENDED: 60, SessionStatus.ACTIVE: 1}
    # Guardians for some students (every one at risk among them), one with emails off.
    assert 10 <= after_first["guardians"] < 80
    assert after_first["guardians_notified"] == after_first["guardians"] - 1
    assert first.output.startswith("Loaded: ")
    # The made-up guardians' security lines are counted in one line, not logged one by one.
    assert not [r for r in caplog.records if r.name == "attendance.security"]
    counted = re.search(
        r"security events were counted, not logged: (\d+) guardian_added", first.output
    )
    assert counted and int(counted[1]) == after_first["guardians"], first.output
    assert second.output.startswith("Already loaded")
    for output in (first.output, second.output):
        assert f'password is "{DEMO_PASSWORD}"' in output
        assert "admin@northfield.example" in output
        assert output.count("TEACHER  ") == 3
        assert output.count("STUDENT  ") >= 2
        assert "60 ended sessions" in output
        # Today's lesson shows a student who checked in with the code (before the printed
        # student tries it below).
        assert "6 of " in output and "students marked (1 checked in with the code)" in output
    excused = re.search(r"\((\d+) absences excused by the office afterwards", first.output)
    assert excused and int(excused[1]) >= 10, first.output
    with app.app_context():
        emails = re.findall(r"^  (?:ADMIN|TEACHER|STUDENT) +(\S+@\S+)", first.output, re.M)
        assert len(emails) == 7
        for email in emails:
            assert people.authenticate(email, DEMO_PASSWORD) is not None, email
        assert_the_printed_self_check_in_works(first.output)
        assert_realistic_school(datetime.now(UTC))
    assert_a_later_day_run_ends_the_stale_lesson_and_starts_that_days(app)


def assert_the_printed_self_check_in_works(output: str) -> None:
    """The output says how to try the self check-in on the live lesson, and it works."""
    shown = re.search(r"Self check-in: as (\S+), open /sessions/(\S+)/check-in-code", output)
    student = re.search(r"sign in as (\S+) \(not marked yet\)", output)
    assert shown and student, output
    session_id = uuid.UUID(shown.group(2))
    teacher = people.authenticate(shown.group(1), DEMO_PASSWORD)
    code = check_in.check_in_code(actor=teacher, session_id=session_id).code
    result = check_in.check_in(
        actor=people.authenticate(student.group(1), DEMO_PASSWORD),
        session_id=session_id,
        code=code,
    )
    assert result.row.record.status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE)


def assert_realistic_school(now: datetime) -> None:
    """Varied names, 20-35 per class, 6 weeks of ended lessons with everyone marked and
    believable patterns, and exactly one lesson running, started today."""
    sessions = db.session.scalars(select(ClassSession)).unique().all()
    records = db.session.scalars(select(Attendance)).all()
    sizes = dict(
        db.session.execute(
            select(Enrollment.class_id, func.count()).group_by(Enrollment.class_id)
        ).all()
    )
    names = db.session.execute(
        select(User.first_name, User.last_name, Student.student_number).join(Student)
    ).all()

    assert sorted(sizes.values()) == sorted(c.size for c in CLASSES)
    assert all(20 <= n <= 35 for n in sizes.values())
    assert len({first for first, _, _ in names}) > 30
    assert len({last for _, last, _ in names}) > 30
    assert all(re.fullmatch(r"S1\d{4}", number) for _, _, number in names)

    (live,) = [s for s in sessions if s.status == SessionStatus.ACTIVE]
    assert live.start_time.date() == now.date()
    assert now - timedelta(minutes=30) < live.start_time <= now
    assert 0 < sum(r.session_id == live.id for r in records) < sizes[live.class_id]

    ended = {s.id: s for s in sessions if s.status == SessionStatus.ENDED}
    assert len(ended) == 60
    per_session = Counter(r.session_id for r in records)
    for s in ended.values():
        assert s.end_time - s.start_time == timedelta(minutes=50)
        assert now - timedelta(weeks=6, days=1) < s.start_time
        assert s.start_time.date() < now.date()
        assert 8 <= s.start_time.hour <= 15  # school hours
        assert per_session[s.id] == sizes[s.class_id]  # everyone was marked

    # Each student's record in each class, oldest lesson first.
    history: dict = {}
    for r in sorted(
        (r for r in records if r.session_id in ended),
        key=lambda r: ended[r.session_id].start_time,
    ):
        history.setdefault((r.student_id, ended[r.session_id].class_id), []).append(r.status)
    statuses = Counter(status for h in history.values() for status in h)
    assert statuses[AttendanceStatus.PRESENT] > statuses[AttendanceStatus.LATE] > 50
    assert statuses[AttendanceStatus.ABSENT] > 50
    always_there = [h for h in history.values() if AttendanceStatus.ABSENT not in h]
    assert len(always_there) > len(history) / 3
    assert any(h.count(AttendanceStatus.LATE) >= 3 for h in history.values())
    at_risk = [
        h
        for h in history.values()
        if h.count(AttendanceStatus.ABSENT) >= 4 and h[-3:] == [AttendanceStatus.ABSENT] * 3
    ]
    assert len(at_risk) >= len(CLASSES) * 2  # a couple per class, missing the latest lessons
    assert any(r.late_at is not None and r.notes for r in records)
    # The office excused the absences it was told about, after the lessons ended; the at-risk
    # runs stay unexcused.
    excused = [r for r in records if r.absence_reason is not None]
    assert len(excused) >= 10
    assert all(r.status == AttendanceStatus.ABSENT and r.session_id in ended for r in excused)
    assert all(r.excused_at > ended[r.session_id].end_time for r in excused)
    # One student of the live lesson checked in with the code: PRESENT, in the audit trail
    # with the check-in channel, shown "Checked in" on the roster.
    checked_in = db.session.scalars(
        select(AttendanceChange).where(
            AttendanceChange.session_id == live.id, AttendanceChange.channel == Channel.CHECK_IN
        )
    ).all()
    assert any(c.new_status == AttendanceStatus.PRESENT for c in checked_in), checked_in


def assert_a_later_day_run_ends_the_stale_lesson_and_starts_that_days(app: Flask) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    with app.app_context():
        stale = db.session.scalars(
            select(ClassSession.id).where(ClassSession.status == SessionStatus.ACTIVE)
        ).one()
        summary = load_demo(now=tomorrow)
        again = load_demo(now=tomorrow)
        by_status = Counter(db.session.scalars(select(ClassSession.status)).all())
        old = db.session.get(ClassSession, stale)
        db.session.refresh(old)
        live = db.session.scalars(
            select(ClassSession).where(ClassSession.status == SessionStatus.ACTIVE)
        ).one()
        old_records = db.session.scalar(
            select(func.count()).select_from(Attendance).where(Attendance.session_id == stale)
        )
        enrolled = db.session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.class_id == old.class_id)
        )

    assert by_status == {SessionStatus.ENDED: 61, SessionStatus.ACTIVE: 1}
    assert old.status == SessionStatus.ENDED
    assert old_records == enrolled  # the rest of the class was marked before it ended
    assert live.start_time.date() == tomorrow.date()
    assert summary.live_session_id == again.live_session_id == live.id
    assert any("Ended the live session" in action for action in summary.actions)
    assert again.actions == []


# --- serve -------------------------------------------------------------------------------------


def subprocess_env(database_url: str, **extra: str) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "cli-test-secret",
        "ATTENDANCE_ENV": "production",
        "PYTHONUNBUFFERED": "1",
        # Fast hashing: these tests time a shutdown around a failed login, and production's
        # scrypt costs seconds on a busy machine.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **extra,
    }
    env.pop("SOCKETIO_MESSAGE_QUEUE", None)
    return env


def flask(*args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass(frozen=True)
class ServedDatabase:
    url: str
    email: str
    password: str


@pytest.fixture(scope="module")
def served_database(tmp_path_factory) -> ServedDatabase:
    """A SQLite file migrated by ``flask db upgrade``, with one teacher made by ``create-user``
    (SQLite whatever DATABASE_URL says: the server is under test here, not the database)."""
    url = "sqlite:///" + str(tmp_path_factory.mktemp("served") / "attendance.sqlite3")
    env = subprocess_env(url)
    upgrade = flask("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    email, password = "teacher@served.example", "served-password"
    created = flask(
        "create-user",
        "--email",
        email,
        "--password",
        password,
        "--role",
        "TEACHER",
        "--first-name",
        "Grace",
        "--last-name",
        "Hopper",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    return ServedDatabase(url, email, password)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    proc: subprocess.Popen
    port: int = 0
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)


def start_serving(command: list[str], env: dict) -> Served:
    """Run ``command``; return once it prints the URL it listens on (port read from it)."""
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    server = Served(proc)
    listening = threading.Event()

    def pump(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if match:
                server.port = int(match.group(1))
                listening.set()

    for stream, lines in ((proc.stdout, server.stdout), (proc.stderr, server.stderr)):
        threading.Thread(target=pump, args=(stream, lines), daemon=True).start()
    deadline = time.monotonic() + 60
    while not listening.wait(0.1) and proc.poll() is None and time.monotonic() < deadline:
        pass
    if not listening.is_set():
        stop(server)
        pytest.fail(f"server did not start:\n{server.text()}")
    return server


def stop(server: Served) -> None:
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait(5)


@pytest.fixture(params=["eventlet", "gevent"])
def served(request, served_database: ServedDatabase) -> Iterator[Served]:
    """``flask --app wsgi serve --port <free port>`` in each async mode, listening."""
    port = free_port()
    server = start_serving(
        [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port)],
        subprocess_env(served_database.url, SOCKETIO_ASYNC_MODE=request.param),
    )
    try:
        assert server.port == port
        yield server
    finally:
        stop(server)


def token_for(port: int, db_: ServedDatabase) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"email": db_.email, "password": db_.password})
    conn.request("POST", "/api/auth/token/", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200
    token = json.loads(response.read())["token"]
    conn.close()
    return token


def start_slow_request(port: int) -> socket.socket:
    """A request in flight: headers sent, the app reading the body, which has not arrived.

    ``Expect: 100-continue`` makes the server say so: it answers "100 Continue" once the
    application starts reading the body.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /api/auth/token/ HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(SLOW_BODY)
    )
    assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
    return sock


SLOW_BODY = b'{"email": "nobody@served.example", "password": "wrong-password"}'


def refuses_connections(port: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.live
@pytest.mark.database_independent  # on served_database's SQLite file in either pass
def test_serve_answers_logs_and_stops_cleanly_on_sigterm(
    served: Served, served_database: ServedDatabase
):
    # A page of the API, on a keep-alive connection that then stays open, idle.
    idle = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    idle.request("GET", "/api/openapi.json")
    response = idle.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["openapi"]
    # A Socket.IO client, connected over WebSocket.
    client = socketio.Client(reconnection=False)
    disconnected = threading.Event()
    client.on("disconnect", lambda *args: disconnected.set())
    client.connect(
        f"http://127.0.0.1:{served.port}",
        auth={"token": token_for(served.port, served_database)},
        transports=["websocket"],
        wait_timeout=10,
    )
    slow = start_slow_request(served.port)

    served.proc.send_signal(signal.SIGTERM)

    assert disconnected.wait(5), served.text()
    assert refuses_connections(served.port, within=5), "still accepting after SIGTERM"
    slow.sendall(SLOW_BODY)  # the request in flight still gets its answer
    assert slow.recv(1024).startswith(b"HTTP/1.1 401"), served.text()
    assert served.proc.wait(10) == 0, served.text()
    client.disconnect()
    slow.close()
    idle.close()

    output = served.text()
    assert f"listening on http://127.0.0.1:{served.port}/" in output
    assert re.search(r'"GET /api/openapi\.json HTTP/1\.1" 200 ', output), output
    assert "SIGTERM received: shutting down" in output
    assert "disconnected 1 Socket.IO client(s)" in output
    # The idle keep-alive connection did not hold the exit until the grace period ran out.
    assert "still open: closing them" not in output, output
    # Monkey-patching came first: neither library complains about modules patched late.
    assert "monkey" not in output.lower(), output
    assert "Traceback" not in output, output


@pytest.mark.live
@pytest.mark.database_independent  # on served_database's SQLite file in either pass
def test_server_module_stops_cleanly_on_ctrl_c(served_database: ServedDatabase):
    """Ctrl-C (SIGINT) goes through the same shutdown as SIGTERM (eventlet, the default)."""
    server = start_serving(
        [sys.executable, "-m", "attendance_app.server", "--port", "0"],
        subprocess_env(served_database.url, SOCKETIO_ASYNC_MODE="eventlet"),
    )
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/api/openapi.json")
        assert conn.getresponse().status == 200
        conn.close()

        server.proc.send_signal(signal.SIGINT)

        assert server.proc.wait(10) == 0, server.text()
        assert "SIGINT received: shutting down" in server.text()
        assert "Traceback" not in server.text()
    finally:
        stop(server)


@pytest.mark.database_independent
def test_the_package_imports_nothing_before_the_server_monkey_patches():
    """``python -m attendance_app.server`` imports ``attendance_app`` first, so the package
    itself must not import socket, ssl, threading or the libraries using them."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, attendance_app; "
            "print(sorted(m for m in ('socket', 'ssl', 'threading', 'select', 'flask') "
            "if m in sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.stdout.strip() == "[]", probe.stderr


def test_send_mail_without_a_mail_server_says_so(app: Flask):
    result = app.test_cli_runner().invoke(args=["send-mail"])

    assert result.exit_code != 0
    assert "MAIL_SERVER is not set" in result.output


def test_send_mail_reports_a_mail_server_that_is_down_and_keeps_the_email(app: Flask, monkeypatch):

    from sqlalchemy import func, select

    from attendance_app.models import OutboxEmail
    from attendance_app.services.notifying import outbox

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", closed_port)
    with app.app_context():
        outbox.queue([outbox.Email(to="ada@school.example", subject="Hello", body="Hi\n")])
        db.session.commit()

    result = app.test_cli_runner().invoke(args=["send-mail"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("sent 0, failed 1, waiting 1 (Could not reach the mail server")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 1
        db.session.remove()


def test_weekly_summary_sends_each_teacher_one_summary_per_week(app: Flask):
    from tests.factories import make_admin, make_class

    make_class(app, admin=make_admin(app), students=1)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["weekly-summary", "--week-ending", "2026-11-22"])
    again = runner.invoke(args=["weekly-summary", "--week-ending", "2026-11-22"])

    assert first.output == "Weekly summaries for the week ending 2026-11-22: 1 sent.\n"
    assert again.output == "Weekly summaries for the week ending 2026-11-22: 0 sent.\n"


def test_weekly_summary_refuses_a_date_that_is_not_one(app: Flask):
    result = app.test_cli_runner().invoke(args=["weekly-summary", "--week-ending", "22/11/2026"])

    assert result.exit_code == 2
    assert "22/11/2026" in result.output


def test_guardian_digest_queues_a_days_absence_emails_once(app: Flask, monkeypatch):
    from tests.factories import add_guardian, end_session, make_admin, make_class, make_session
    from tests.factories import mark as mark_one

    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    add_guardian(app, klass.students[0], admin=admin)
    session_id = make_session(app, klass, start_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    mark_one(app, klass, session_id, klass.students[0], "ABSENT")
    end_session(app, klass, session_id)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["guardian-digest", "--day", "2026-11-20"])
    again = runner.invoke(args=["guardian-digest", "--day", "2026-11-20"])

    assert first.output == "Guardian emails for 2026-11-20: 1 queued.\n"
    assert again.output == "Guardian emails for 2026-11-20: 0 queued.\n"


def test_demo_refuses_outside_development(app: Flask, monkeypatch):
    # The demo's superuser has a published password: never in a real school's database.
    monkeypatch.setitem(app.config, "ENV_NAME", "production")

    result = app.test_cli_runner().invoke(args=["demo"])

    assert result.exit_code != 0
    assert "runs only with ATTENDANCE_ENV=development" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
