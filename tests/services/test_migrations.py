"""Migrations that move data, run on a database of their own from an older revision."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy.engine import make_url

from attendance_app import create_app
from attendance_app.extensions import db
from attendance_app.models import Attendance, AttendanceChange, AttendanceStatus, Channel
from attendance_app.services.marking import taps, undo
from attendance_app.services.school.people import name_search_key
from tests import factories
from tests.conftest import TEST_SETTINGS


@pytest.fixture
def empty_database(database_url: str, tmp_path) -> Iterator[str]:
    """A new, empty database beside the test run's (a file for SQLite, a database for
    PostgreSQL), dropped afterwards."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrating.sqlite3'}"
        return
    url = make_url(database_url)
    name = f"{url.database}_m{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


CREATED = datetime(2025, 9, 1, 8, 0)
USERS = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("first_name", sa.String()),
    sa.column("last_name", sa.String()),
    sa.column("role", sa.String()),
    sa.column("is_active", sa.Boolean()),
    sa.column("session_version", sa.Integer()),
    sa.column("created_at", sa.DateTime()),
    sa.column("updated_at", sa.DateTime()),
)


def test_people_who_existed_before_the_search_key_are_found_after_it(empty_database):
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": empty_database})
    people = {uuid.uuid4(): ("Zoë", "Ñúñez"), uuid.uuid4(): ("Jamal", "Silva")}
    with app.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as conn:
            conn.execute(
                USERS.insert(),
                [
                    {
                        "id": uid,
                        "email": f"{last.lower()}@school.test",
                        "password_hash": "x",
                        "first_name": first,
                        "last_name": last,
                        "role": "TEACHER",
                        "is_active": True,
                        "session_version": 1,
                        "created_at": CREATED,
                        "updated_at": CREATED,
                    }
                    for uid, (first, last) in people.items()
                ],
            )
        upgrade()
        with db.engine.connect() as conn:
            keys = dict(conn.execute(sa.text("SELECT id, name_search FROM users")).all())
        db.engine.dispose()

    assert {uuid.UUID(str(k)): v for k, v in keys.items()} == {
        uid: name_search_key(first, last) for uid, (first, last) in people.items()
    }


def test_audit_rows_written_before_0013_stay_and_an_undo_of_one_still_works(empty_database):
    """0013 adds the audit trail's late times: the rows already there keep everything and
    have none, and undoing such a row (within its few minutes) makes a LATE record late
    from the undo, as before 0013."""
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": empty_database})
    start = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    with app.app_context():
        upgrade()
    klass = factories.make_class(app, admin=factories.make_admin(app), students=1)
    student = klass.students[0]
    session_id = factories.make_session(app, klass, start_at=start)
    record_id = factories.mark(
        app, klass, session_id, student, "LATE", at=start + timedelta(minutes=5)
    )
    with app.app_context():
        tapped = taps.set_status(
            actor=factories.actor(klass.teacher.user_id),
            session_id=session_id,
            student_id=student.profile_id,
            status=AttendanceStatus.PRESENT,
            channel=Channel.WEB,
            at=start + timedelta(minutes=10),
        )
        downgrade(revision="0012")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("attendance_changes")}
        assert "old_late_at" not in columns
        upgrade()
        db.session.remove()
    before = factories.audit_trail(app, session_id)

    with app.app_context():
        rows = db.session.execute(
            sa.select(AttendanceChange.old_late_at, AttendanceChange.new_late_at)
        ).all()
        undo.undo_change(
            actor=factories.actor(klass.teacher.user_id),
            session_id=session_id,
            change_id=tapped.change_id,
            channel=Channel.WEB,
            at=start + timedelta(minutes=12),
        )
        late_at = db.session.get_one(Attendance, record_id).late_at
        db.session.remove()
        db.engine.dispose()

    assert [(r["old_status"], r["new_status"]) for r in before] == [
        (None, AttendanceStatus.LATE),
        (AttendanceStatus.LATE, AttendanceStatus.PRESENT),
    ]
    assert rows == [(None, None), (None, None)]
    assert late_at == start + timedelta(minutes=12)
