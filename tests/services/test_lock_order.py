"""Every change of attendance locks the session's row before the record's, whichever way it
finds the record (a correction by the record's id, a tap by session and student, an excuse):
two changes of one record at once then queue on the session, never wait for each other in a
cycle (PostgreSQL's deadlock, 40P01, which would be a 500 for one of them).

The interleaving is forced, not hoped for: a connection of the test's own holds the session's
row lock while the tap queues for it, then the correction (or the excuse) starts; the holder
lets go and the tap, first in the queue, runs on to the record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, create_engine, select, text

from attendance_app.extensions import db
from attendance_app.models import AbsenceReason, Attendance, AttendanceStatus, Channel, User
from attendance_app.services.marking import attendance, excuses, taps
from tests.factories import ClassInfo, make_admin, make_class, make_session, mark
from tests.faults.conftest import wait_until


@pytest.fixture
def postgres_only(database_url: str) -> str:
    """The test's PostgreSQL database (the fixture also marks the test PostgreSQL-only)."""
    assert database_url.startswith("postgresql"), "deselected outside the PostgreSQL pass"
    return database_url


@pytest.fixture
def monitor(postgres_only: str) -> Iterator[Connection]:
    """A connection of the test's own (autocommit), to hold a lock and watch the others."""
    engine = create_engine(postgres_only)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        yield conn
    engine.dispose()


def waiting_on_locks(monitor: Connection) -> int:
    """How many other backends of this database are waiting for a lock."""
    return monitor.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
    )


def as_teacher(app, klass: ClassInfo, call: Callable[[User], object]) -> Callable[[], object]:
    """``call(actor)`` in an app context of its own (its own database session and connection),
    as a request of the class's teacher."""

    def run() -> object:
        with app.app_context():
            try:
                return call(db.session.get_one(User, klass.teacher.user_id))
            finally:
                db.session.remove()

    return run


def tap_and_change_at_once(
    app, monitor: Connection, session_id: uuid.UUID, tap: Callable[[], object], change
) -> tuple[object, object]:
    """Hold the session's row lock, queue ``tap`` on it, start ``change`` while the tap waits,
    then let go: both results (a failed call raises here)."""
    holder = monitor.engine.connect()  # in a transaction (the monitor is not)
    try:
        with holder.begin():
            holder.execute(
                text("SELECT id FROM class_sessions WHERE id = :id FOR UPDATE"), {"id": session_id}
            )
            with ThreadPoolExecutor(2) as pool:
                tapped: Future = pool.submit(tap)
                wait_until(lambda: waiting_on_locks(monitor) == 1, what="the tap waiting")
                changed: Future = pool.submit(change)
                wait_until(lambda: waiting_on_locks(monitor) == 2, what="the change waiting")
                holder.rollback()  # lets go: the tap is first in the session's queue
                return tapped.result(60), changed.result(60)
    finally:
        holder.close()


def stored(app, record_id: uuid.UUID) -> Attendance:
    with app.app_context():
        record = db.session.scalars(select(Attendance).where(Attendance.id == record_id)).one()
        db.session.remove()
    return record


@pytest.fixture
def marked(app) -> tuple[ClassInfo, uuid.UUID, uuid.UUID]:
    """A class, an ACTIVE session of it and one student's record (ABSENT)."""
    klass = make_class(app, admin=make_admin(app), students=1)
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")
    return klass, session_id, record_id


def tapping(app, klass: ClassInfo, session_id: uuid.UUID, status: AttendanceStatus):
    return as_teacher(
        app,
        klass,
        lambda actor: taps.set_status(
            actor=actor,
            session_id=session_id,
            student_id=klass.students[0].profile_id,
            status=status,
            channel=Channel.WEB,
        ),
    )


def test_a_correction_and_a_tap_of_one_record_at_once_both_succeed(
    app, postgres_only, monitor, marked
):
    klass, session_id, record_id = marked
    tap = tapping(app, klass, session_id, AttendanceStatus.LATE)
    correction = as_teacher(
        app,
        klass,
        lambda actor: attendance.update_attendance(
            actor=actor,
            attendance_id=record_id,
            status=AttendanceStatus.PRESENT,
            channel=Channel.API,
        ),
    )

    tapped, corrected = tap_and_change_at_once(app, monitor, session_id, tap, correction)

    assert tapped.applied
    assert tapped.row.record.version == 2
    assert corrected.row.record.version == 3  # after the tap, which had the lock first
    record = stored(app, record_id)
    assert (record.status, record.version) == (AttendanceStatus.PRESENT, 3)


def test_an_excuse_and_a_tap_of_one_record_at_once_both_succeed(
    app, postgres_only, monitor, marked
):
    klass, session_id, record_id = marked
    tap = tapping(app, klass, session_id, AttendanceStatus.LATE)
    excuse = as_teacher(
        app,
        klass,
        lambda actor: excuses.excuse_absence(
            actor=actor,
            attendance_id=record_id,
            reason=AbsenceReason.ILLNESS,
            channel=Channel.API,
        ),
    )

    tapped, excused = tap_and_change_at_once(app, monitor, session_id, tap, excuse)

    assert tapped.applied and excused.changed
    record = stored(app, record_id)
    assert (record.status, record.absence_reason, record.version) == (
        AttendanceStatus.LATE,
        AbsenceReason.ILLNESS,
        3,
    )
