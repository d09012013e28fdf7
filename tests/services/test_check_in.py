"""Self check-in called directly: the rotating code (periods, the acceptance window), the late
rule, no overwrite, the wrong-code throttle, rules 1 and 4, who may do what, the audit trail
and the teacher's correction. The clock is injected (``at=``), so nothing waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    CheckInSecret,
)
from attendance_app.services.errors import Conflict, Forbidden, Invalid, NotFound, Throttled
from attendance_app.services.marking import check_in, taps
from attendance_app.services.marking.attendance import (
    ALREADY_MARKED,
    NOT_STARTED,
    not_enrolled_message,
    session_ended_message,
)
from attendance_app.services.marking.check_in import (
    CODE_INVALID,
    MAX_WRONG_CODES,
    TOO_MANY_WRONG_CODES,
)
from attendance_app.services.marking.roster import roster_row
from tests.factories import (
    actor,
    make_admin,
    make_class,
    make_session,
    make_student,
    make_teacher,
    mark,
)

# A period boundary (a multiple of 30 s since the epoch), so times below say which period
# they fall in.
START = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
PERIOD = timedelta(seconds=30)


#: A known secret, so the codes below are known too (the service makes a random one).
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def lesson(app, ctx):
    """An ACTIVE session started at START (its code secret known), its class of three and
    their teacher."""
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=3)
    session_id = make_session(app, klass, start_at=START)
    db.session.add(CheckInSecret(session_id=session_id, secret=SECRET, created_at=START))
    db.session.commit()
    return klass, session_id, admin


def current(person):
    """``person``'s User, read afresh: ends the test's read transaction first, so what other
    app contexts (the factories) committed since is seen (SQLite reads from a snapshot)."""
    db.session.rollback()
    return actor(person.user_id)


def code_at(klass, session_id, at: datetime) -> str:
    return check_in.check_in_code(actor=current(klass.teacher), session_id=session_id, at=at).code


def check_in_as(student, session_id, code: str, at: datetime):
    return check_in.check_in(actor=current(student), session_id=session_id, code=code, at=at)


# --- the code ---------------------------------------------------------------------------------


def test_a_code_is_six_digits_with_its_period_and_when_the_next_replaces_it(lesson):
    klass, session_id, _ = lesson
    shown = check_in.check_in_code(
        actor=current(klass.teacher), session_id=session_id, at=START + timedelta(seconds=7)
    )
    assert len(shown.code) == 6 and shown.code.isdigit()
    assert shown.period_seconds == 30
    assert shown.valid_from == START
    assert shown.expires_at == START + PERIOD
    assert shown.seconds_left == 23


def test_the_code_stays_the_same_within_a_period_and_changes_with_the_next(lesson):
    klass, session_id, _ = lesson
    # RFC 6238's TOTP of SECRET for the periods from START on (as any authenticator app).
    assert code_at(klass, session_id, START) == "417333"
    assert code_at(klass, session_id, START + timedelta(seconds=29)) == "417333"
    assert code_at(klass, session_id, START + PERIOD) == "649314"
    assert code_at(klass, session_id, START + 2 * PERIOD) == "154697"


def test_the_period_is_a_setting(app, lesson):
    klass, session_id, _ = lesson
    app.config["CHECK_IN_PERIOD_SECONDS"] = 5
    try:
        shown = check_in.check_in_code(
            actor=current(klass.teacher),
            session_id=session_id,
            at=START + timedelta(seconds=7),
        )
    finally:
        app.config["CHECK_IN_PERIOD_SECONDS"] = 30
    assert shown.period_seconds == 5
    assert shown.valid_from == START + timedelta(seconds=5)
    assert shown.expires_at == START + timedelta(seconds=10)


def test_the_secret_is_made_once_per_session_and_kept_on_the_server(app, lesson):
    klass, _, _ = lesson
    session_id = make_session(app, klass, start_at=START)
    code_at(klass, session_id, START)
    code_at(klass, session_id, START + PERIOD)
    secrets = db.session.scalars(
        select(CheckInSecret.secret).where(CheckInSecret.session_id == session_id)
    ).all()
    assert len(secrets) == 1 and len(secrets[0]) >= 16
    other = make_session(app, klass, start_at=START)
    code_at(klass, other, START)
    assert (
        db.session.scalar(select(CheckInSecret.secret).where(CheckInSecret.session_id == other))
        != secrets[0]
    )


def test_an_admin_may_show_the_code_but_another_teacher_and_students_may_not(app, lesson):
    klass, session_id, admin = lesson
    assert check_in.check_in_code(actor=current(admin), session_id=session_id).code
    for person in (make_teacher(app), klass.students[0]):
        with pytest.raises(Forbidden):
            check_in.check_in_code(actor=current(person), session_id=session_id)


def test_a_code_for_a_session_that_is_not_active_is_refused_with_rule_1s_message(app, lesson):
    klass, _, _ = lesson
    scheduled = make_session(app, klass, start=False)
    with pytest.raises(Invalid) as refused:
        code_at(klass, scheduled, START)
    assert (refused.value.field, refused.value.message) == ("session", NOT_STARTED)
    end = START + timedelta(hours=1)
    ended = make_session(app, klass, end=True, start_at=START, end_at=end)
    with pytest.raises(Invalid) as refused:
        code_at(klass, ended, end)
    assert refused.value.message == session_ended_message(end)


def test_a_code_for_an_unknown_session_is_not_found(lesson):
    import uuid

    klass, _, _ = lesson
    with pytest.raises(NotFound):
        code_at(klass, uuid.uuid4(), START)


# --- the acceptance window ----------------------------------------------------------------


def test_a_code_is_accepted_during_its_own_period(lesson):
    klass, session_id, _ = lesson
    code = code_at(klass, session_id, START)
    result = check_in_as(klass.students[0], session_id, code, START + timedelta(seconds=29))
    assert result.row.record.status == AttendanceStatus.PRESENT


def test_a_code_is_still_accepted_during_the_next_period(lesson):
    klass, session_id, _ = lesson
    code = code_at(klass, session_id, START)
    result = check_in_as(
        klass.students[0], session_id, code, START + PERIOD + timedelta(seconds=29)
    )
    assert result.row.record.status == AttendanceStatus.PRESENT


def test_a_code_two_periods_old_is_expired(lesson):
    klass, session_id, _ = lesson
    code = code_at(klass, session_id, START)
    with pytest.raises(Invalid) as refused:
        check_in_as(klass.students[0], session_id, code, START + 2 * PERIOD)
    assert (refused.value.field, refused.value.message) == ("code", CODE_INVALID)
    assert stored_attendance_of(session_id) == {}


def test_a_code_is_not_accepted_before_its_period(lesson):
    klass, session_id, _ = lesson
    code_at(klass, session_id, START)  # the secret exists
    next_code = code_at(klass, session_id, START + PERIOD)
    with pytest.raises(Invalid, match="Invalid or expired"):
        check_in_as(klass.students[0], session_id, next_code, START + timedelta(seconds=10))


def test_spaces_in_a_typed_code_do_not_matter(lesson):
    klass, session_id, _ = lesson
    code = code_at(klass, session_id, START)
    spaced = f" {code[:3]} {code[3:]} "
    assert check_in_as(klass.students[0], session_id, spaced, START).row.record


def test_no_code_works_before_one_was_ever_shown(app, lesson):
    klass, _, _ = lesson
    session_id = make_session(app, klass, start_at=START)
    with pytest.raises(Invalid, match="Invalid or expired"):
        check_in_as(klass.students[0], session_id, "123456", START)


def test_a_wrong_code_marks_nobody(lesson):
    klass, session_id, _ = lesson
    code = code_at(klass, session_id, START)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    with pytest.raises(Invalid, match="Invalid or expired"):
        check_in_as(klass.students[0], session_id, wrong, START)
    assert stored_attendance_of(session_id) == {}


# --- present or late --------------------------------------------------------------------------


def test_checking_in_up_to_the_late_minutes_after_the_start_is_present(lesson):
    klass, session_id, _ = lesson
    at = START + timedelta(minutes=10)
    result = check_in_as(klass.students[0], session_id, code_at(klass, session_id, at), at)
    assert result.row.record.status == AttendanceStatus.PRESENT
    assert result.row.record.late_at is None


def test_checking_in_later_than_the_late_minutes_is_late_from_that_moment(lesson):
    klass, session_id, _ = lesson
    at = START + timedelta(minutes=10, seconds=1)
    result = check_in_as(klass.students[0], session_id, code_at(klass, session_id, at), at)
    record = db.session.get(Attendance, result.row.record.id)
    assert record.status == AttendanceStatus.LATE
    assert record.late_at == at
    assert record.minutes_late(START) == 10


def test_the_late_minutes_are_a_setting(app, lesson):
    klass, session_id, _ = lesson
    at = START + timedelta(minutes=3)
    app.config["CHECK_IN_LATE_MINUTES"] = 2
    try:
        result = check_in_as(klass.students[0], session_id, code_at(klass, session_id, at), at)
    finally:
        app.config["CHECK_IN_LATE_MINUTES"] = 10
    assert result.row.record.status == AttendanceStatus.LATE


def test_the_student_is_the_marker_and_the_check_in_is_audited_with_its_own_channel(lesson):
    klass, session_id, _ = lesson
    student = klass.students[0]
    result = check_in_as(student, session_id, code_at(klass, session_id, START), START)
    assert result.row.marked_by_name == student.full_name
    change = db.session.scalars(
        select(AttendanceChange).where(AttendanceChange.attendance_id == result.row.record.id)
    ).one()
    assert change.channel == Channel.CHECK_IN
    assert change.actor_id == student.user_id
    assert (change.old_status, change.new_status) == (None, AttendanceStatus.PRESENT)
    row = roster_row(result.session, student.profile_id)
    assert row.checked_in


# --- never overwrites; the teacher corrects -----------------------------------------------


def test_a_check_in_never_overwrites_a_teachers_mark(app, lesson):
    klass, session_id, _ = lesson
    student = klass.students[0]
    mark(app, klass, session_id, student, "ABSENT", at=START)
    with pytest.raises(Conflict) as refused:
        check_in_as(student, session_id, code_at(klass, session_id, START), START)
    assert (refused.value.field, refused.value.message) == ("non_field_errors", ALREADY_MARKED)
    assert stored_attendance_of(session_id) == {student.profile_id: AttendanceStatus.ABSENT}


def test_checking_in_twice_is_already_marked(lesson):
    klass, session_id, _ = lesson
    student = klass.students[0]
    code = code_at(klass, session_id, START)
    check_in_as(student, session_id, code, START)
    with pytest.raises(Conflict, match=ALREADY_MARKED):
        check_in_as(student, session_id, code, START + timedelta(seconds=5))


def test_the_teacher_can_correct_a_check_in_with_a_tap(lesson):
    klass, session_id, _ = lesson
    student = klass.students[0]
    checked = check_in_as(student, session_id, code_at(klass, session_id, START), START)
    tap = taps.set_status(
        actor=current(klass.teacher),
        session_id=session_id,
        student_id=student.profile_id,
        status=AttendanceStatus.ABSENT,
        channel=Channel.WEB,
        expected_version=checked.row.record.version,
    )
    assert tap.applied
    row = roster_row(tap.session, student.profile_id)
    assert row.status == AttendanceStatus.ABSENT
    assert row.marked_by_name == klass.teacher.full_name
    assert not row.checked_in
    assert check_in.checked_in_count(session_id) == 0


# --- the throttle -----------------------------------------------------------------------------


def wrong_code_for(klass, session_id, at) -> str:
    return f"{(int(code_at(klass, session_id, at)) + 500_000) % 1_000_000:06d}"


def test_after_five_wrong_codes_even_the_right_code_is_throttled(lesson):
    klass, session_id, _ = lesson
    student = klass.students[0]
    wrong = wrong_code_for(klass, session_id, START)
    for _ in range(MAX_WRONG_CODES):
        with pytest.raises(Invalid, match="Invalid or expired"):
            check_in_as(student, session_id, wrong, START)
    with pytest.raises(Throttled) as refused:
        check_in_as(student, session_id, code_at(klass, session_id, START), START)
    assert refused.value.status_code == 429
    assert refused.value.message == TOO_MANY_WRONG_CODES
    assert refused.value.retry_after is None
    # For the rest of the session, however long after.
    later = START + timedelta(minutes=50)
    with pytest.raises(Throttled):
        check_in_as(student, session_id, code_at(klass, session_id, later), later)
    assert stored_attendance_of(session_id) == {}


def test_four_wrong_codes_still_leave_the_right_one_working(lesson):
    klass, session_id, _ = lesson
    student = klass.students[0]
    wrong = wrong_code_for(klass, session_id, START)
    for _ in range(MAX_WRONG_CODES - 1):
        with pytest.raises(Invalid):
            check_in_as(student, session_id, wrong, START)
    assert check_in_as(student, session_id, code_at(klass, session_id, START), START).row


def test_the_throttle_counts_per_student_and_per_session(app, lesson):
    klass, session_id, _ = lesson
    guesser, classmate = klass.students[0], klass.students[1]
    wrong = wrong_code_for(klass, session_id, START)
    for _ in range(MAX_WRONG_CODES):
        with pytest.raises(Invalid):
            check_in_as(guesser, session_id, wrong, START)
    assert check_in_as(classmate, session_id, code_at(klass, session_id, START), START).row
    next_lesson = make_session(app, klass, start_at=START)
    assert check_in_as(guesser, next_lesson, code_at(klass, next_lesson, START), START).row


def test_the_throttle_comes_after_rule_1_and_before_the_code_and_rule_2(app, lesson):
    klass, session_id, _ = lesson
    student = klass.students[0]
    mark(app, klass, session_id, student, "PRESENT", at=START)
    wrong = wrong_code_for(klass, session_id, START)
    # Already marked, but a wrong code is a wrong code (and counts): the code before rule 2.
    for _ in range(MAX_WRONG_CODES):
        with pytest.raises(Invalid, match="Invalid or expired"):
            check_in_as(student, session_id, wrong, START)
    with pytest.raises(Throttled):
        check_in_as(student, session_id, code_at(klass, session_id, START), START)
    end = START + timedelta(hours=1)
    from attendance_app.services.marking import sessions

    sessions.end_session(actor=current(klass.teacher), session_id=session_id, at=end)
    with pytest.raises(Invalid) as refused:
        check_in_as(student, session_id, wrong, end)
    assert refused.value.message == session_ended_message(end)


# --- rules 1 and 4, and who may check in ------------------------------------------------------


def test_checking_in_to_a_session_that_has_not_started_is_rule_1(app, lesson):
    klass, _, _ = lesson
    scheduled = make_session(app, klass, start=False)
    with pytest.raises(Invalid) as refused:
        check_in_as(klass.students[0], scheduled, "123456", START)
    assert (refused.value.field, refused.value.message) == ("session", NOT_STARTED)


def test_checking_in_to_an_ended_session_is_rule_1_with_its_end_time(app, lesson):
    klass, session_id, _ = lesson
    code = code_at(klass, session_id, START)
    end = START + timedelta(minutes=1)
    from attendance_app.services.marking import sessions

    sessions.end_session(actor=current(klass.teacher), session_id=session_id, at=end)
    with pytest.raises(Invalid) as refused:
        check_in_as(klass.students[0], session_id, code, end)
    assert (refused.value.field, refused.value.message) == ("session", session_ended_message(end))


def test_a_student_not_enrolled_is_rule_4(app, lesson):
    klass, session_id, _ = lesson
    outsider = make_student(app)
    code = code_at(klass, session_id, START)
    with pytest.raises(Invalid) as refused:
        check_in_as(outsider, session_id, code, START)
    assert refused.value.field == "student"
    assert refused.value.message == (
        f"Student '{outsider.number}' is not enrolled in '{klass.name}'"
    )
    assert refused.value.message == not_enrolled_message_for(outsider, session_id)


@pytest.mark.parametrize("who", ["teacher", "admin"])
def test_only_students_check_in(app, lesson, who):
    klass, session_id, admin = lesson
    person = klass.teacher if who == "teacher" else admin
    with pytest.raises(Forbidden):
        check_in.check_in(
            actor=current(person),
            session_id=session_id,
            code=code_at(klass, session_id, START),
            at=START,
        )


def test_checking_in_to_an_unknown_session_is_not_found(lesson):
    import uuid

    klass, _, _ = lesson
    with pytest.raises(NotFound):
        check_in_as(klass.students[0], uuid.uuid4(), "123456", START)


# --- the student's page -----------------------------------------------------------------------


def test_a_student_sees_their_running_lessons_with_their_mark_in_each(app, lesson):
    klass, session_id, admin = lesson
    student = klass.students[0]
    other_class = make_class(app, admin=admin, students=[student])
    other = make_session(app, other_class, start_at=START + timedelta(minutes=5))
    make_session(app, klass, start=False)  # not running: not listed
    check_in_as(student, session_id, code_at(klass, session_id, START), START)
    options = check_in.check_in_options(actor=current(student))
    assert [o.session.id for o in options] == [other, session_id]
    assert [o.checked_in for o in options] == [False, True]
    assert options[1].record.status == AttendanceStatus.PRESENT
    with pytest.raises(Forbidden):
        check_in.check_in_options(actor=current(klass.teacher))


# --- helpers ------------------------------------------------------------------------------


def stored_attendance_of(session_id):
    return {
        student_id: status
        for student_id, status in db.session.execute(
            select(Attendance.student_id, Attendance.status).where(
                Attendance.session_id == session_id
            )
        )
    }


def not_enrolled_message_for(student, session_id) -> str:
    from attendance_app.models import Student
    from attendance_app.services.marking.sessions import load_session

    return not_enrolled_message(
        db.session.get(Student, student.profile_id), load_session(session_id)
    )
