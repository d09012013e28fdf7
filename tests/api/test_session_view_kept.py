"""The session view kept between requests (services/reporting/session_view.py): a body is
given again only while the database's data is the same (services/data_version.py), whoever
changed it and however, and only to those who may see it."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import text, update

from attendance_app.extensions import db
from attendance_app.models import User
from attendance_app.services import data_version
from attendance_app.services.reporting import session_view
from tests.factories import (
    make_admin,
    make_class,
    make_session,
    make_student,
    make_teacher,
    mark,
)


def url(session_id, query: str = "") -> str:
    return f"/api/attendance/session/{session_id}/{query}"


@pytest.fixture
def lesson(app):
    """A class of three (two marked) in an ACTIVE session, and its admin."""
    students = [make_student(app, first_name=n, last_name="Pupil") for n in ("Ann", "Ben", "Cat")]
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=students)
    session_id = make_session(app, klass)
    mark(app, klass, session_id, students[0], "PRESENT")
    mark(app, klass, session_id, students[1], "ABSENT")
    return admin, klass, session_id, students


def records_read(statements: list[str]) -> int:
    """How many of ``statements`` read the session's records."""
    return sum("FROM attendance JOIN students" in s for s in statements)


def other_process_runs(app, sql: str) -> None:
    """``sql`` committed by another process, on the same database, with no code of ours."""
    script = (
        "import sys; from sqlalchemy import create_engine, text\n"
        "engine = create_engine(sys.argv[1])\n"
        "with engine.begin() as conn: conn.execute(text(sys.argv[2]))\n"
    )
    database = app.config["SQLALCHEMY_DATABASE_URI"]
    subprocess.run([sys.executable, "-c", script, database, sql], check=True, timeout=60)


@pytest.fixture
def sqlite_only(app) -> None:
    """conftest.py leaves tests using this out of a PostgreSQL run (they run in the SQLite
    one): PostgreSQL's transaction ids are the whole cluster's, so any writer anywhere (the
    other test worker, another database) between two requests makes a new version, and a
    hit cannot be arranged there; SQLite's version is this database file's."""
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def test_a_repeated_view_is_answered_without_reading_the_records_again(
    app, api_as, count_queries, lesson, sqlite_only
):
    _, klass, session_id, _ = lesson
    api = api_as(klass.teacher)
    # On SQLite each pooled connection has versions of its own (the test client's pool keeps
    # up to five and hands them out in turn): one view made on each.
    first, *_ = [api.get(url(session_id)) for _ in range(6)]

    with count_queries() as queries:
        again = api.get(url(session_id))

    assert again.status_code == 200
    assert again.data == first.data
    assert records_read(queries.statements) == 0


def test_a_kept_view_has_the_same_bytes_and_headers_as_one_made_afresh(app, api_as, lesson):
    _, klass, session_id, _ = lesson
    api = api_as(klass.teacher)
    made = api.get(url(session_id, "?status=PRESENT"))
    kept = api.get(url(session_id, "?status=PRESENT"))
    app.config["SESSION_VIEW_CACHE_BYTES"] = 0
    try:
        fresh = api.get(url(session_id, "?status=PRESENT"))
    finally:
        app.config["SESSION_VIEW_CACHE_BYTES"] = 16 * 1024 * 1024

    assert made.data == kept.data == fresh.data
    assert list(made.headers.items()) == list(kept.headers.items()) == list(fresh.headers.items())


def test_each_filter_is_kept_apart(app, api_as, lesson):
    _, klass, session_id, _ = lesson
    api = api_as(klass.teacher)
    queries = ["", "?status=ABSENT", "?status=PRESENT", "?include_absent=false"]
    first = {q: api.get(url(session_id, q)).json for q in queries}

    again = {q: api.get(url(session_id, q)).json for q in queries}

    assert again == first
    assert [len(first[q]["records"]) for q in queries] == [2, 1, 1, 1]


def test_a_mark_shows_in_the_next_view(app, api_as, lesson):
    _, klass, session_id, students = lesson
    api = api_as(klass.teacher)
    assert api.get(url(session_id)).json["statistics"]["not_marked"] == 1

    mark(app, klass, session_id, students[2], "LATE")

    body = api.get(url(session_id)).json
    assert body["statistics"]["not_marked"] == 0
    assert body["records"][0]["status"] == "LATE"


def test_a_rename_by_another_process_shows_in_the_next_view(app, api_as, lesson):
    _, klass, session_id, students = lesson
    api = api_as(klass.teacher)
    api.get(url(session_id))
    api.get(url(session_id))

    other_process_runs(
        app, f"UPDATE users SET first_name = 'Annie' WHERE email = '{students[0].email}'"
    )

    names = [r["student"]["first_name"] for r in api.get(url(session_id)).json["records"]]
    assert "Annie" in names


def test_a_write_by_another_connection_of_this_process_shows_in_the_next_view(app, api_as, lesson):
    _, klass, session_id, _ = lesson
    api = api_as(klass.teacher)
    api.get(url(session_id))
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE school_classes SET name = 'Renamed'"))

    assert api.get(url(session_id)).json["session"]["class_name"] == "Renamed"


def test_an_uncommitted_change_is_never_kept(app, lesson):
    admin, _, session_id, students = lesson

    def view() -> bytes:
        return session_view.session_view(
            db.session.get(User, admin.user_id),
            session_id,
            status=None,
            marked_after=None,
            include_absent=True,
            render=lambda summary, stats, rows: repr((summary, stats, list(rows))).encode(),
        )

    with app.app_context():
        before = view()
        db.session.execute(
            update(User).where(User.id == students[0].user_id).values(first_name="Temporary")
        )
        assert data_version.data_version() is None
        during = view()
        db.session.rollback()
        after = view()
        db.session.remove()

    assert b"Temporary" in during
    assert after == before


def test_a_kept_view_is_refused_to_who_may_not_see_it(app, api_as, lesson):
    admin, klass, session_id, _ = lesson
    outsider = make_teacher(app)
    seen = api_as(klass.teacher).get(url(session_id))

    refused = api_as(outsider).get(url(session_id))
    by_admin = api_as(admin).get(url(session_id))
    unknown = api_as(klass.teacher).get(url(uuid.uuid4()))

    assert refused.status_code == 403
    assert refused.json == {"detail": "You do not have permission to perform this action."}
    assert by_admin.status_code == 200 and by_admin.data == seen.data
    assert unknown.status_code == 404
