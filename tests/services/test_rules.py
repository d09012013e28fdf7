"""The domain rules called directly: the tap cycle, the ended-session message, rate rounding,
the rule order of a mark, and who counts in a session's statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from attendance_app.extensions import db
from attendance_app.models import AttendanceStatus, Channel
from attendance_app.services.errors import Conflict, Invalid, NotFound
from attendance_app.services.marking import attendance, sessions
from attendance_app.services.marking.attendance import (
    ALREADY_MARKED,
    NOT_STARTED,
    next_status,
    session_ended_message,
)
from attendance_app.services.reporting import statistics
from attendance_app.services.reporting.statistics import rate
from tests.factories import (
    actor,
    make_admin,
    make_class,
    make_session,
    make_student,
    mark,
    unenroll,
)

P, A, L = AttendanceStatus.PRESENT, AttendanceStatus.ABSENT, AttendanceStatus.LATE


# --- the tap cycle ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "after"), [(None, P), (P, A), (A, L), (L, P)], ids=["unmarked", "P", "A", "L"]
)
def test_a_tap_moves_to_the_next_status(current, after):
    assert next_status(current) == after


def test_tapping_cycles_present_absent_late_and_back():
    seen, status = [], None
    for _ in range(7):
        status = next_status(status)
        seen.append(status)
    assert seen == [P, A, L, P, A, L, P]


# --- the ended-session message (rule 1) ---------------------------------------------------


@pytest.mark.parametrize(
    ("end_time", "expected"),
    [
        (datetime(2026, 1, 5, 9, 5, tzinfo=UTC), "09:05 on Jan 5, 2026"),
        (datetime(2026, 1, 10, 14, 30, tzinfo=UTC), "14:30 on Jan 10, 2026"),
        (datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), "23:59 on Dec 31, 2025"),
        (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), "00:00 on Mar 1, 2026"),
        # Given in another zone, still told in UTC (here across midnight and a year).
        (datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), "23:30 on Dec 31, 2025"),
    ],
)
def test_the_ended_message_gives_the_utc_end_time_with_an_unpadded_day(end_time, expected):
    assert (
        session_ended_message(end_time) == f"Cannot mark attendance - session ended at {expected}"
    )


def test_marking_an_ended_session_is_refused_with_its_end_time(app, ctx):
    klass = make_class(app, admin=make_admin(app), students=1)
    session_id = make_session(
        app,
        klass,
        end=True,
        start_at=datetime(2026, 1, 10, 13, 30, tzinfo=UTC),
        end_at=datetime(2026, 1, 10, 14, 30, tzinfo=UTC),
    )

    with pytest.raises(Invalid) as refused:
        attendance.mark_attendance(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            student_id=klass.students[0].profile_id,
            status=P,
            channel=Channel.API,
        )

    assert refused.value.field == "session"
    assert refused.value.message == (
        "Cannot mark attendance - session ended at 14:30 on Jan 10, 2026"
    )


def test_marking_a_session_that_has_not_started_is_refused(app, ctx):
    klass = make_class(app, admin=make_admin(app), students=1)
    session_id = make_session(app, klass, start=False)

    with pytest.raises(Invalid) as refused:
        attendance.mark_attendance(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            student_id=klass.students[0].profile_id,
            status=P,
            channel=Channel.API,
        )

    assert (refused.value.field, refused.value.message) == ("session", NOT_STARTED)


def test_a_mark_checks_session_state_before_the_student(app, ctx):
    # Order: rule 1 (400) comes before "student exists" (404) and rule 4 (400).
    klass = make_class(app, admin=make_admin(app), students=1)
    session_id = make_session(app, klass, start=False)
    teacher = actor(klass.teacher.user_id)
    stranger = make_student(app, with_token=False)

    with pytest.raises(Invalid, match=NOT_STARTED):
        attendance.mark_attendance(
            actor=teacher,
            session_id=session_id,
            student_id=stranger.profile_id,
            status=P,
            channel=Channel.API,
        )
    sessions.start_session(actor=teacher, session_id=session_id)
    with pytest.raises(NotFound):
        attendance.mark_attendance(
            actor=teacher,
            session_id=session_id,
            student_id=klass.id,  # an id that is no student's
            status=P,
            channel=Channel.API,
        )
    with pytest.raises(Invalid, match="is not enrolled in") as not_enrolled:
        attendance.mark_attendance(
            actor=teacher,
            session_id=session_id,
            student_id=stranger.profile_id,
            status=P,
            channel=Channel.API,
        )
    assert not_enrolled.value.message == (
        f"Student '{stranger.number}' is not enrolled in '{klass.name}'"
    )
    assert not_enrolled.value.field == "student"


def test_a_second_mark_of_a_student_is_a_conflict(app, ctx):
    klass = make_class(app, admin=make_admin(app), students=1)
    session_id = make_session(app, klass)
    mark(app, klass, session_id, klass.students[0], "PRESENT")

    with pytest.raises(Conflict) as conflict:
        attendance.mark_attendance(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            student_id=klass.students[0].profile_id,
            status=A,
            channel=Channel.API,
        )

    assert (conflict.value.field, conflict.value.message) == ("non_field_errors", ALREADY_MARKED)


# --- rates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attended", "base", "expected"),
    [
        (2, 3, 66.67),
        (1, 3, 33.33),
        (1, 6, 16.67),
        (5, 7, 71.43),
        (1, 8, 12.5),
        (3, 3, 100.0),
        (0, 3, 0.0),
        (0, 0, 0.0),
        (4, 0, 0.0),
    ],
)
def test_a_rate_is_a_percentage_rounded_to_two_decimals_and_zero_on_an_empty_base(
    attended, base, expected
):
    assert rate(attended, base) == expected


def test_session_statistics_count_present_and_late_as_attended(app, ctx):
    klass = make_class(app, admin=make_admin(app), students=7)
    session_id = make_session(app, klass)
    for student, status in zip(klass.students, "PPPLAA", strict=False):
        mark(app, klass, session_id, student, {"P": P, "A": A, "L": L}[status])

    stats = statistics.session_statistics(sessions.load_session(session_id))

    assert stats.as_dict() == {
        "total_enrolled": 7,
        "present": 3,
        "absent": 2,
        "late": 1,
        "not_marked": 1,
        "attendance_rate": 57.14,
    }


# --- who counts: the roster union ---------------------------------------------------------


def test_a_student_unenrolled_after_being_marked_still_counts_in_that_session(app, ctx):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=4)
    session_id = make_session(app, klass)
    marked_then_left, absent, late, _unmarked = klass.students
    mark(app, klass, session_id, marked_then_left, "PRESENT")
    mark(app, klass, session_id, absent, "ABSENT")
    mark(app, klass, session_id, late, "LATE")

    unenroll(app, klass, marked_then_left, admin=admin)
    stats = statistics.session_statistics(sessions.load_session(session_id))

    assert stats.total_enrolled == 4
    assert (stats.present, stats.absent, stats.late, stats.not_marked) == (1, 1, 1, 1)
    assert stats.present + stats.absent + stats.late + stats.not_marked == stats.total_enrolled
    assert stats.attendance_rate == 50.0


def test_a_student_unenrolled_before_being_marked_no_longer_counts(app, ctx):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=3)
    session_id = make_session(app, klass)
    mark(app, klass, session_id, klass.students[0], "PRESENT")

    unenroll(app, klass, klass.students[2], admin=admin)
    stats = statistics.session_statistics(sessions.load_session(session_id))

    assert (stats.total_enrolled, stats.present, stats.not_marked) == (2, 1, 1)
    assert stats.attendance_rate == 50.0


def test_the_session_view_reports_the_same_union_as_the_service(app, api_as):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=3)
    session_id = make_session(app, klass)
    mark(app, klass, session_id, klass.students[0], "LATE")
    unenroll(app, klass, klass.students[0], admin=admin)

    body = api_as(klass.teacher).get(f"/api/attendance/session/{session_id}/").json

    assert body["statistics"] == {
        "total_enrolled": 3,
        "present": 0,
        "absent": 0,
        "late": 1,
        "not_marked": 2,
        "attendance_rate": 33.33,
    }
    assert [r["student"]["id"] for r in body["records"]] == [str(klass.students[0].profile_id)]


def test_statistics_of_many_sessions_match_each_session_alone(app, ctx):
    klass = make_class(app, admin=make_admin(app), students=3)
    first = make_session(app, klass)
    second = make_session(app, klass)
    empty = make_session(app, klass, start=False)
    mark(app, klass, first, klass.students[0], "PRESENT")
    mark(app, klass, second, klass.students[1], "ABSENT")
    mark(app, klass, second, klass.students[2], "LATE")

    together = statistics.statistics_for_sessions([first, second, empty])

    for session_id in (first, second, empty):
        alone = statistics.session_statistics(sessions.load_session(session_id))
        assert together[session_id] == alone
    assert together[empty].not_marked == 3 and together[empty].attendance_rate == 0.0
    db.session.remove()
