"""A late arrival straight to Late (one audited step), and its minutes late corrected: a whole
number from 0 to the minutes since the start, on a LATE record only, decided in the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import Attendance, AttendanceStatus, Channel
from attendance_app.services.errors import Invalid
from attendance_app.services.marking import attendance, bulk, taps
from tests.factories import actor, audit_trail, make_admin, make_class, make_session, mark

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
NOW = START + timedelta(minutes=30)


@pytest.fixture
def lesson(app):
    klass = make_class(app, admin=make_admin(app), students=2)
    return klass, make_session(app, klass, start_at=START)


def set_minutes(klass, session_id, student, minutes):
    return attendance.set_student_minutes_late(
        actor=actor(klass.teacher.user_id),
        session_id=session_id,
        student_id=student.profile_id,
        minutes=minutes,
        channel=Channel.WEB,
        at=NOW,
    )


def test_a_tap_straight_to_late_is_one_step_in_the_audit_trail(app, ctx, lesson):
    klass, session_id = lesson
    student = klass.students[0]

    taps.set_status(
        actor=actor(klass.teacher.user_id),
        session_id=session_id,
        student_id=student.profile_id,
        status=AttendanceStatus.LATE,
        channel=Channel.WEB,
        at=START + timedelta(minutes=7),
    )

    trail = audit_trail(app, session_id)
    assert [(row["old_status"], row["new_status"]) for row in trail] == [
        (None, AttendanceStatus.LATE)
    ]


def test_minutes_late_are_corrected_and_audited_as_one_change(app, ctx, lesson):
    klass, session_id = lesson
    student = klass.students[0]
    mark(app, klass, session_id, student, "LATE", at=START + timedelta(minutes=20))

    result = set_minutes(klass, session_id, student, 12)

    assert result.row.record.minutes_late(START) == 12
    assert result.row.record.status == AttendanceStatus.LATE
    assert result.row.record.version == 2
    trail = audit_trail(app, session_id)
    assert [(row["old_status"], row["new_status"]) for row in trail] == [
        (None, AttendanceStatus.LATE),
        (AttendanceStatus.LATE, AttendanceStatus.LATE),
    ]


def test_minutes_late_may_be_0_and_up_to_the_minutes_since_the_start(app, ctx, lesson):
    klass, session_id = lesson
    student = klass.students[0]
    mark(app, klass, session_id, student, "LATE", at=START + timedelta(minutes=5))

    assert set_minutes(klass, session_id, student, 0).row.record.minutes_late(START) == 0
    assert set_minutes(klass, session_id, student, 30).row.record.minutes_late(START) == 30


@pytest.mark.parametrize("minutes", [-1, 31, 10_000])
def test_minutes_late_outside_the_lesson_so_far_are_refused(app, ctx, lesson, minutes):
    klass, session_id = lesson
    student = klass.students[0]
    mark(app, klass, session_id, student, "LATE", at=START + timedelta(minutes=5))

    with pytest.raises(Invalid) as refused:
        set_minutes(klass, session_id, student, minutes)

    assert (refused.value.field, refused.value.message) == (
        "minutes",
        "Minutes late must be a whole number from 0 to 30 (the minutes since the session started).",
    )


@pytest.mark.parametrize("status", ["PRESENT", "ABSENT", None])
def test_only_a_late_student_has_minutes_late(app, ctx, lesson, status):
    klass, session_id = lesson
    student = klass.students[0]
    if status:
        mark(app, klass, session_id, student, status, at=START + timedelta(minutes=5))

    with pytest.raises(Invalid) as refused:
        set_minutes(klass, session_id, student, 3)

    assert (refused.value.field, refused.value.message) == (
        "minutes",
        "Only a late arrival has minutes late: mark the student Late first.",
    )


def _first_marks(klass, session_id, status, how):
    """Give both students a first mark ``status`` at NOW the way ``how`` writes it."""
    ids = [s.profile_id for s in klass.students]
    common = {
        "actor": actor(klass.teacher.user_id),
        "session_id": session_id,
        "channel": Channel.API,
        "at": NOW,
    }
    if how == "one by one":
        for student_id in ids:
            attendance.mark_attendance(student_id=student_id, status=status, **common)
    elif how == "bulk":
        entries = [attendance.MarkEntry(sid, status) for sid in ids]
        bulk.mark_records(entries=entries, **common)
    else:
        bulk.mark_unmarked(default_status=status, **common)


@pytest.mark.parametrize("how", ["one by one", "bulk", "all unmarked"])
@pytest.mark.parametrize("status", list(AttendanceStatus))
def test_a_late_first_mark_is_late_from_the_marking_time_however_it_is_written(
    app, ctx, lesson, how, status
):
    klass, session_id = lesson

    _first_marks(klass, session_id, status, how)

    late_at = db.session.scalars(
        select(Attendance.late_at).where(Attendance.session_id == session_id)
    ).all()
    expected = NOW if status == AttendanceStatus.LATE else None
    assert [a and (a if a.tzinfo else a.replace(tzinfo=UTC)) for a in late_at] == [expected] * 2
