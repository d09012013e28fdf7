"""The server process killed (SIGKILL) in the middle of a bulk mark of 500 students: the
database keeps all of it or none of it, and a restarted server serves the same request."""

from __future__ import annotations

import contextlib
import random
import signal
import threading

import requests
from sqlalchemy import create_engine, text

from attendance_app.config import normalise_database_url
from tests.factories import make_admin, make_class, make_session, make_students
from tests.faults.conftest import wait_until
from tests.live.conftest import start_server

STUDENTS = 500


def _bulk(server, klass, session_id) -> dict:
    return {
        "url": f"{server.url}/api/attendance/mark/",
        "json": {
            "session_id": str(session_id),
            "records": [
                {"student_id": str(s.profile_id), "status": "PRESENT"} for s in klass.students
            ],
        },
        "headers": {"Authorization": f"Bearer {klass.teacher.token}"},
        "timeout": 30,
    }


def _post_in_background(request: dict) -> threading.Thread:
    def post() -> None:
        with contextlib.suppress(requests.RequestException):  # the server dies under it
            requests.post(**request)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def _saved(engine, session_id) -> tuple[int, int]:
    """(records, audit rows) the database holds for the session."""
    with engine.connect() as conn:
        records = conn.scalar(
            text("SELECT count(*) FROM attendance WHERE session_id = :s"), {"s": session_id}
        )
        changes = conn.scalar(
            text("SELECT count(*) FROM attendance_changes WHERE session_id = :s"),
            {"s": session_id},
        )
    return records, changes


def test_a_server_killed_during_a_bulk_mark_of_500_saves_all_or_nothing(app, postgres_only):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=make_students(app, STUDENTS))
    engine = create_engine(normalise_database_url(postgres_only))
    teacher_user = klass.teacher.user_id
    try:
        # 1. Killed for certain mid-transaction: the test holds the teacher's user row, so the
        #    bulk INSERT (its marked_by foreign key) waits inside the server's open transaction
        #    (session row locked, every rule checked) until the process is gone.
        session_id = make_session(app, klass)
        server = start_server(postgres_only, "eventlet")
        blocker = engine.connect()
        try:
            blocker.execute(
                text("SELECT 1 FROM users WHERE id = :u FOR UPDATE"), {"u": teacher_user}
            )
            _post_in_background(_bulk(server, klass, session_id))
            wait_until(
                lambda: _waiting_on_lock(engine),
                what="the bulk mark waiting inside its transaction",
            )
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(10)
        finally:
            # Released whatever happened: a failure above must not leave the suite's later
            # tests (and the database's teardown) waiting on this row lock.
            blocker.rollback()
            blocker.close()
            server.stop()
        # The orphaned backend finishes its INSERT, finds its client gone and rolls back.
        wait_until(lambda: not _server_backends(engine), what="the killed server's backend ending")
        assert _saved(engine, session_id) == (0, 0)

        # 2. Killed at an arbitrary moment of the request: never a part of it.
        for delay in (random.uniform(0.0, 0.5),):
            other = make_session(app, klass)
            server = start_server(postgres_only, "eventlet")
            thread = _post_in_background(_bulk(server, klass, other))
            threading.Event().wait(delay)
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(10)
            thread.join(30)
            wait_until(lambda: not _server_backends(engine), what="the backend ending")
            records, changes = _saved(engine, other)
            assert (records, changes) in {(0, 0), (STUDENTS, STUDENTS)}, (delay, records, changes)

        # 3. A restarted server serves the same request normally.
        server = start_server(postgres_only, "eventlet")
        try:
            response = requests.post(**_bulk(server, klass, session_id))
            assert response.status_code == 201, response.text
            assert response.json()["count"] == STUDENTS
            assert _saved(engine, session_id) == (STUDENTS, STUDENTS)
        finally:
            server.stop()
    finally:
        engine.dispose()


def _waiting_on_lock(engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                    # PostgreSQL's bulk mark is one statement: WITH … (INSERT INTO attendance …)
                    " AND query ILIKE '%INSERT INTO attendance %'"
                )
            )
        )


def _server_backends(engine) -> int:
    """Backends of this database in a transaction, other than ours (a killed server's)."""
    with engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            )
        )
