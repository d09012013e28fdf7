"""Excused absences: an annotation beside the status, given and withdrawn by the class's
teacher or an admin (also once the session ended and locked), audited, cleared by a change to
PRESENT, counted apart in the figures and never part of a run of absences."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import (
    AbsenceReason,
    AlertState,
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    ClassSession,
    Notification,
    NotificationKind,
)
from attendance_app.services import events
from attendance_app.services.errors import Forbidden, Invalid, NotFound
from attendance_app.services.marking import attendance, excuses, undo
from attendance_app.services.reporting import analytics
from tests.factories import (
    actor,
    make_session,
    make_teacher,
    mark,
    run_sessions,
)

START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


def record(app, record_id: uuid.UUID) -> Attendance:
    with app.app_context():
        row = db.session.get(Attendance, record_id)
        db.session.expunge(row)
        db.session.remove()
    return row


def trail(app, record_id: uuid.UUID) -> list[AttendanceChange]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AttendanceChange)
                .where(AttendanceChange.attendance_id == record_id)
                .order_by(AttendanceChange.changed_at, AttendanceChange.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


def excuse(app, person, record_id, reason="ILLNESS", note=None, channel=Channel.API):
    with app.app_context():
        result = excuses.excuse_absence(
            actor=actor(person.user_id),
            attendance_id=record_id,
            reason=AbsenceReason(reason),
            note=note,
            channel=channel,
        )
        db.session.remove()
    return result


def withdraw(app, person, record_id, channel=Channel.API):
    with app.app_context():
        result = excuses.withdraw_excuse(
            actor=actor(person.user_id), attendance_id=record_id, channel=channel
        )
        db.session.remove()
    return result


def set_status(app, person, record_id, status):
    with app.app_context():
        result = attendance.update_attendance(
            actor=actor(person.user_id),
            attendance_id=record_id,
            status=AttendanceStatus(status),
            channel=Channel.WEB,
        )
        db.session.remove()
    return result


def test_the_teacher_excuses_an_absence_with_a_reason_and_a_note_and_the_status_stays(
    app, classroom
):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT", notes="no word")
    before = record(app, record_id)

    result = excuse(app, klass.teacher, record_id, "MEDICAL", note="  dentist  ")

    assert result.message == "Absence excused" and result.changed
    after = record(app, record_id)
    assert after.status == AttendanceStatus.ABSENT
    assert after.excused and after.absence_reason == AbsenceReason.MEDICAL
    assert after.excuse_note == "dentist"
    assert after.excused_by_id == klass.teacher.user_id and after.excused_at is not None
    assert after.notes == "no word"
    assert (after.marked_at, after.marked_by_id) == (before.marked_at, before.marked_by_id)
    assert after.version == before.version + 1


def test_an_excuse_is_one_audit_row_with_its_channel_reasons_and_note(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")

    excuse(app, klass.teacher, record_id, "FAMILY", note="wedding", channel=Channel.WEB)
    withdraw(app, klass.teacher, record_id, channel=Channel.API)

    _, given, withdrawn = trail(app, record_id)
    assert given.channel == Channel.WEB and given.actor_id == klass.teacher.user_id
    assert (given.old_status, given.new_status) == (AttendanceStatus.ABSENT,) * 2
    assert (given.old_absence_reason, given.new_absence_reason) == (None, AbsenceReason.FAMILY)
    assert given.reason == "wedding"
    assert withdrawn.channel == Channel.API
    assert (withdrawn.old_absence_reason, withdrawn.new_absence_reason) == (
        AbsenceReason.FAMILY,
        None,
    )


def test_a_late_arrival_can_be_excused_too(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "LATE")

    excuse(app, klass.teacher, record_id, "SCHOOL_ACTIVITY")

    assert record(app, record_id).absence_reason == AbsenceReason.SCHOOL_ACTIVITY


def test_a_minutes_late_correction_of_an_excused_arrival_keeps_the_excuse_in_the_trail(
    app, classroom
):
    """The trail says what the record was at each step: a correction of the minutes late
    leaves the excuse as it was, and its audit row says so (not "not excused")."""
    klass = classroom.klass
    session_id = make_session(app, klass, start_at=datetime.now(UTC) - timedelta(minutes=30))
    record_id = mark(app, klass, session_id, klass.students[0], "LATE")
    excuse(app, klass.teacher, record_id, "MEDICAL")

    with app.app_context():
        attendance.set_minutes_late(
            actor=actor(klass.teacher.user_id),
            attendance_id=record_id,
            minutes=12,
            channel=Channel.WEB,
        )
        db.session.remove()

    correction = trail(app, record_id)[-1]
    assert correction.reason.startswith("minutes late")
    assert correction.old_absence_reason == correction.new_absence_reason == AbsenceReason.MEDICAL
    assert record(app, record_id).absence_reason == AbsenceReason.MEDICAL


def test_a_present_record_cannot_be_excused_and_nothing_is_written(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "PRESENT")

    with pytest.raises(Invalid) as err:
        excuse(app, klass.teacher, record_id)

    assert err.value.message == "Only an absence or a late arrival can be excused."
    assert err.value.field == "non_field_errors"
    assert len(trail(app, record_id)) == 1
    assert not record(app, record_id).excused


def test_an_admin_and_the_teacher_excuse_on_an_ended_session_which_stays_locked(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    session_id = make_session(app, klass)
    first = mark(app, klass, session_id, klass.students[0], "ABSENT")
    second = mark(app, klass, session_id, klass.students[1], "ABSENT")
    with app.app_context():
        from attendance_app.services.marking import sessions

        sessions.end_session(actor=actor(klass.teacher.user_id), session_id=session_id)
        db.session.remove()

    excuse(app, admin, first, "ILLNESS")
    excuse(app, klass.teacher, second, "RELIGIOUS")

    assert record(app, first).absence_reason == AbsenceReason.ILLNESS
    assert record(app, second).absence_reason == AbsenceReason.RELIGIOUS
    with app.app_context():
        ended = db.session.get(ClassSession, session_id)
        assert ended.status.value == "ENDED" and ended.is_locked
        db.session.remove()
    # Excusing changes no status: the record itself stays locked.
    with pytest.raises(Invalid):
        set_status(app, admin, first, "PRESENT")


def test_another_teacher_may_not_excuse_and_an_unknown_record_is_not_found(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")

    with pytest.raises(Forbidden):
        excuse(app, make_teacher(app), record_id)
    with pytest.raises(NotFound):
        excuse(app, klass.teacher, uuid.uuid4())
    with pytest.raises(Forbidden):
        withdraw(app, make_teacher(app), record_id)
    assert not record(app, record_id).excused


def test_a_note_over_200_characters_or_with_a_line_break_is_refused(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")

    for note in ("x" * 201, "two\nlines"):
        with pytest.raises(Invalid) as err:
            excuse(app, klass.teacher, record_id, note=note)
        assert err.value.field == "note"
    excuse(app, klass.teacher, record_id, note="x" * 200)
    assert record(app, record_id).excuse_note == "x" * 200


def test_the_same_excuse_again_writes_nothing_and_another_reason_replaces_it(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")
    excuse(app, klass.teacher, record_id, "ILLNESS")

    again = excuse(app, klass.teacher, record_id, "ILLNESS")
    assert not again.changed and len(trail(app, record_id)) == 2

    excuse(app, klass.teacher, record_id, "OTHER")
    assert record(app, record_id).absence_reason == AbsenceReason.OTHER
    assert len(trail(app, record_id)) == 3


def test_withdrawing_makes_the_absence_unexcused_and_withdrawing_again_is_harmless(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")
    excuse(app, klass.teacher, record_id, note="flu")

    result = withdraw(app, klass.teacher, record_id)
    again = withdraw(app, klass.teacher, record_id)

    assert result.message == "Excuse withdrawn" and result.changed and not again.changed
    after = record(app, record_id)
    assert not after.excused and after.excuse_note is None and after.excused_by_id is None
    assert len(trail(app, record_id)) == 3  # the mark, the excuse, its withdrawal


def test_a_change_to_present_clears_the_excuse_and_a_change_to_late_keeps_it(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")
    excuse(app, klass.teacher, record_id)

    set_status(app, klass.teacher, record_id, "LATE")
    assert record(app, record_id).absence_reason == AbsenceReason.ILLNESS

    set_status(app, klass.teacher, record_id, "PRESENT")
    after = record(app, record_id)
    assert not after.excused and after.excused_at is None
    last = trail(app, record_id)[-1]
    assert (last.old_absence_reason, last.new_absence_reason) == (AbsenceReason.ILLNESS, None)


def test_the_row_a_change_to_present_returns_is_no_longer_excused(app, classroom):
    """The roster's tap response is drawn from the returned row (and the session's loaded
    record): it must not show the excuse the change just ended."""
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")
    excuse(app, klass.teacher, record_id, note="flu")

    with app.app_context():
        result = attendance.update_attendance(
            actor=actor(klass.teacher.user_id),
            attendance_id=record_id,
            status=AttendanceStatus.PRESENT,
            channel=Channel.WEB,
        )
        returned = result.row.record
        loaded = db.session.get(Attendance, record_id)
        seen = (returned.absence_reason, returned.excuse_note, returned.excused_at, loaded.excused)
        db.session.remove()

    assert seen == (None, None, None, False)


def test_undoing_a_tap_that_cleared_an_excuse_gives_the_reason_back(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")
    excuse(app, klass.teacher, record_id, "MEDICAL")
    tap = set_status(app, klass.teacher, record_id, "PRESENT")

    with app.app_context():
        undo.undo_change(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            change_id=tap.change_id,
            channel=Channel.WEB,
        )
        db.session.remove()

    after = record(app, record_id)
    assert after.status == AttendanceStatus.ABSENT
    assert after.absence_reason == AbsenceReason.MEDICAL


def test_an_excuse_is_not_undone_like_a_tap(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")
    excuse(app, klass.teacher, record_id)
    change = trail(app, record_id)[-1]

    with app.app_context(), pytest.raises(NotFound):
        undo.undo_change(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            change_id=change.id,
            channel=Channel.WEB,
        )
    assert record(app, record_id).excused


def test_an_excuse_is_announced_after_commit_and_a_refused_one_is_not(app, classroom):
    klass = classroom.klass
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")
    present = mark(app, klass, session_id, klass.students[1], "PRESENT")
    seen: list = []
    events.subscribe(seen.extend)
    try:
        excuse(app, klass.teacher, record_id)
        with pytest.raises(Invalid):
            excuse(app, klass.teacher, present)
    finally:
        events.unsubscribe(seen.extend)

    changed = [e for e in seen if isinstance(e, events.AttendanceChanged)]
    assert len(changed) == 1
    assert changed[0].record_ids == (record_id,)
    assert changed[0].excused_student_ids == (klass.students[0].profile_id,)


# --- figures -------------------------------------------------------------------------------


def figures(app, admin, person):
    with app.app_context():
        result = analytics.student_analytics(
            actor=actor(admin.user_id), student_id=person.profile_id
        )
        db.session.remove()
    return result.figures


def plan(app, klass, student, statuses: str, start=START) -> list[uuid.UUID]:
    """One session per letter (P/A/L), a day apart; the record ids, oldest first."""
    words = {"P": "PRESENT", "A": "ABSENT", "L": "LATE"}
    session_ids = run_sessions(
        app, klass, [{student: words[c]} for c in statuses], first_start=start, end=True
    )
    with app.app_context():
        ids = [
            db.session.scalar(
                select(Attendance.id).where(
                    Attendance.session_id == sid, Attendance.student_id == student.profile_id
                )
            )
            for sid in session_ids
        ]
        db.session.remove()
    return ids


def test_excused_records_are_counted_and_rates_stay_as_they_were(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    ids = plan(app, klass, ana, "PPALA")
    before = figures(app, admin, ana)

    excuse(app, admin, ids[2])
    excuse(app, admin, ids[3])

    after = figures(app, admin, ana)
    assert after.excused == 2 and before.excused == 0
    assert after.as_dict()["excused"] == 2
    assert (after.attendance_rate, after.late_rate, after.absent) == (
        before.attendance_rate,
        before.late_rate,
        before.absent,
    )


def test_excused_absences_neither_count_in_nor_break_a_run_of_absences(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    ids = plan(app, klass, ana, "PAAAA")
    assert figures(app, admin, ana).consecutive_absences == 4

    excuse(app, admin, ids[2])  # A A(excused) A A → three in a row, not broken
    assert figures(app, admin, ana).consecutive_absences == 3

    excuse(app, admin, ids[4])  # the newest, excused: the run behind it still counts
    assert figures(app, admin, ana).consecutive_absences == 2


def test_a_student_whose_absences_are_all_excused_is_not_flagged_by_the_streak(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    ids = plan(app, klass, ana, "P" * 17 + "AAA")
    assert figures(app, admin, ana).risk_level == "high"

    for record_id in ids[-3:]:
        excuse(app, admin, record_id)

    fig = figures(app, admin, ana)
    assert fig.consecutive_absences == 0
    assert fig.attendance_rate == 85.0  # rates unchanged: not below 85
    assert fig.risk_level == "low" and fig.risk_reason == ""


def test_the_rate_reason_says_how_many_absences_were_excused(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    ids = plan(app, klass, ana, "PPAAA")

    excuse(app, admin, ids[2])

    fig = figures(app, admin, ana)
    assert fig.consecutive_absences == 2
    assert fig.risk_level == "high"
    assert fig.risk_reason == "attendance rate 40.0% is below 70% (including 1 excused absence)"


# --- alerts --------------------------------------------------------------------------------


def alerts_of(app, person) -> list[Notification]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(Notification).where(
                    Notification.recipient_id == person.user_id,
                    Notification.kind == NotificationKind.ALERT,
                )
            )
        )
        db.session.remove()
    return rows


def alert_states(app, class_id) -> list[AlertState]:
    with app.app_context():
        rows = list(db.session.scalars(select(AlertState).where(AlertState.class_id == class_id)))
        db.session.remove()
    return rows


def test_a_streak_alert_is_withdrawn_when_an_absence_of_the_streak_is_excused(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    ids = plan(app, klass, ana, "PPPPPPPPPPAAA")
    assert len(alerts_of(app, klass.teacher)) == 1
    assert len(alert_states(app, klass.id)) == 1

    # The first absence of the run, in an earlier session than the one that raised it.
    excuse(app, admin, ids[-3])

    assert alerts_of(app, klass.teacher) == []
    assert alerts_of(app, admin) == []
    assert alert_states(app, klass.id) == []


def test_withdrawing_the_excuse_raises_the_streak_alert_again(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    ids = plan(app, klass, ana, "PPPPPPPPPPPAAA")
    excuse(app, admin, ids[-1])
    assert alert_states(app, klass.id) == []

    withdraw(app, admin, ids[-1])

    assert len(alert_states(app, klass.id)) == 1
    assert len(alerts_of(app, admin)) == 1  # the first one was withdrawn with the excuse


def test_an_alert_still_true_by_its_rate_stays_and_says_so(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    ids = plan(app, klass, ana, "PAAAA", start=START - timedelta(days=30))
    [state] = alert_states(app, klass.id)

    excuse(app, admin, ids[-1])

    [state] = alert_states(app, klass.id)
    assert "including 1 excused absence" in state.reason
    assert len(alerts_of(app, admin)) == 1
