"""Undo gives back the late time a record had: a student LATE since 09:12 whose tap to
another status is undone is late since 09:12 again, not since the undo, so the minutes late
every view shows (roster, record page, exports) stay as they were."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import Attendance, AttendanceChange, AttendanceStatus, Channel
from attendance_app.services.marking import attendance, bulk, taps, undo
from tests.factories import actor, make_session, mark

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def minutes(m: int) -> datetime:
    return START + timedelta(minutes=m)


@pytest.fixture
def lesson(app, classroom):
    """A session of the classroom's class that started at 09:00."""
    return classroom.klass, make_session(app, classroom.klass, start_at=START)


def tap(app, klass, session_id, student, status: str, at: datetime) -> uuid.UUID:
    with app.app_context():
        result = taps.set_status(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            student_id=student.profile_id,
            status=AttendanceStatus(status),
            channel=Channel.WEB,
            at=at,
        )
        db.session.remove()
    assert result.change_id is not None
    return result.change_id


def undo_it(app, klass, session_id, at: datetime, **which) -> None:
    with app.app_context():
        undo.undo_change(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            channel=Channel.WEB,
            at=at,
            **which,
        )
        db.session.remove()


def stored(app, record_id: uuid.UUID) -> tuple[AttendanceStatus, datetime | None, int | None]:
    """The record's status, late time and minutes late."""
    with app.app_context():
        record = db.session.get_one(Attendance, record_id)
        out = (record.status, record.late_at, record.minutes_late(START))
        db.session.remove()
    return out


def last_change(app, record_id: uuid.UUID) -> AttendanceChange:
    with app.app_context():
        row = db.session.scalars(
            select(AttendanceChange)
            .where(AttendanceChange.attendance_id == record_id)
            .order_by(AttendanceChange.changed_at.desc(), AttendanceChange.id)
            .limit(1)
        ).one()
        db.session.expunge(row)
        db.session.remove()
    return row


@pytest.mark.parametrize("away", ["PRESENT", "ABSENT"])
def test_undoing_a_tap_away_from_late_gives_back_the_minutes_late(app, lesson, away):
    klass, session_id = lesson
    student = klass.students[0]
    record_id = mark(app, klass, session_id, student, "LATE", at=minutes(12))
    change_id = tap(app, klass, session_id, student, away, at=minutes(20))
    assert stored(app, record_id) == (AttendanceStatus(away), None, None)

    undo_it(app, klass, session_id, at=minutes(22), change_id=change_id)

    assert stored(app, record_id) == (AttendanceStatus.LATE, minutes(12), 12)
    # The undo's audit row says so too: the late time before it (none) and after it.
    row = last_change(app, record_id)
    assert (row.reason, row.old_late_at, row.new_late_at) == ("undo", None, minutes(12))


def test_a_corrected_minutes_late_comes_back_after_an_undone_tap(app, lesson):
    klass, session_id = lesson
    student = klass.students[0]
    record_id = mark(app, klass, session_id, student, "LATE", at=minutes(20))
    with app.app_context():
        attendance.set_minutes_late(
            actor=actor(klass.teacher.user_id),
            attendance_id=record_id,
            minutes=7,
            channel=Channel.WEB,
            at=minutes(21),
        )
        db.session.remove()
    change_id = tap(app, klass, session_id, student, "PRESENT", at=minutes(25))

    undo_it(app, klass, session_id, at=minutes(26), change_id=change_id)

    assert stored(app, record_id) == (AttendanceStatus.LATE, minutes(7), 7)


def test_undoing_a_tap_to_late_leaves_no_late_time_behind(app, lesson):
    klass, session_id = lesson
    student = klass.students[0]
    record_id = mark(app, klass, session_id, student, "ABSENT", at=minutes(1))
    change_id = tap(app, klass, session_id, student, "LATE", at=minutes(15))
    assert stored(app, record_id) == (AttendanceStatus.LATE, minutes(15), 15)

    undo_it(app, klass, session_id, at=minutes(16), change_id=change_id)

    assert stored(app, record_id) == (AttendanceStatus.ABSENT, None, None)
    row = last_change(app, record_id)
    assert (row.old_late_at, row.new_late_at) == (minutes(15), None)


def test_an_undone_minutes_correction_gives_back_the_minutes_before_it(app, lesson):
    """The page offers no Undo after a minutes correction, but the service takes its change
    id: the minutes before the correction come back, not a late time of the undo's."""
    klass, session_id = lesson
    student = klass.students[0]
    record_id = mark(app, klass, session_id, student, "LATE", at=minutes(20))
    with app.app_context():
        corrected = attendance.set_minutes_late(
            actor=actor(klass.teacher.user_id),
            attendance_id=record_id,
            minutes=7,
            channel=Channel.WEB,
            at=minutes(21),
        )
        db.session.remove()

    undo_it(app, klass, session_id, at=minutes(23), change_id=corrected.change_id)

    assert stored(app, record_id) == (AttendanceStatus.LATE, minutes(20), 20)


def test_an_undone_bulk_action_removes_its_late_records_and_keeps_the_taps_before(app, lesson):
    """A bulk action only creates records, so its undo removes them; a LATE student marked
    before it keeps their late time."""
    klass, session_id = lesson
    first, *others = klass.students
    record_id = mark(app, klass, session_id, first, "LATE", at=minutes(9))
    with app.app_context():
        done = bulk.mark_unmarked(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            default_status=AttendanceStatus.LATE,
            channel=Channel.WEB,
            at=minutes(30),
        )
        db.session.remove()
    assert done.count == len(others)

    undo_it(app, klass, session_id, at=minutes(31), group_id=done.group_id)

    with app.app_context():
        left = db.session.scalars(
            select(Attendance.id).where(Attendance.session_id == session_id)
        ).all()
        db.session.remove()
    assert left == [record_id]
    assert stored(app, record_id) == (AttendanceStatus.LATE, minutes(9), 9)
