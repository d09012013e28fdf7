"""Alerts are decided in the transaction of the mark that causes them: once per crossing of
the alert line (high risk, or N absences in a row), withdrawn when a correction in the same
session undoes them; students hear of an absence or lateness only once the session ends."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import (
    AbsenceReason,
    AlertState,
    Attendance,
    AttendanceStatus,
    Channel,
    ClassSession,
    Notification,
    NotificationKind,
    SessionStatus,
)
from attendance_app.services.marking import attendance, bulk, excuses
from attendance_app.services.notifying import alerts
from attendance_app.services.reporting import analytics
from attendance_app.services.transaction import unit_of_work
from tests.factories import (
    Person,
    actor,
    deactivate_user,
    end_session,
    make_admin,
    make_class,
    make_session,
    make_students,
    mark,
    mark_many,
    run_sessions,
)

START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


def inbox(app, person: Person, kind: NotificationKind | None = None) -> list[Notification]:
    """The person's notifications, oldest first."""
    with app.app_context():
        query = select(Notification).where(Notification.recipient_id == person.user_id)
        if kind is not None:
            query = query.where(Notification.kind == kind)
        rows = db.session.scalars(query.order_by(Notification.created_at)).all()
        db.session.remove()
    return list(rows)


def titles(app, person: Person, kind=NotificationKind.ALERT) -> list[str]:
    return [n.title for n in inbox(app, person, kind)]


def states(app, class_id: uuid.UUID) -> dict[uuid.UUID, AlertState]:
    with app.app_context():
        rows = db.session.scalars(select(AlertState).where(AlertState.class_id == class_id))
        out = {s.student_id: s for s in rows}
        db.session.remove()
    return out


def history(app, klass, student, statuses: str, *, start: datetime = START) -> list[uuid.UUID]:
    """One session per letter (P/A/L), a day apart, ``student`` marked so; sessions ended."""
    words = {"P": "PRESENT", "A": "ABSENT", "L": "LATE"}
    return run_sessions(
        app, klass, [{student: words[c]} for c in statuses], first_start=start, end=True
    )


def test_three_absences_in_a_row_alert_the_teacher_and_every_admin_once(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    other_admin = make_admin(app)
    ana = klass.students[0]
    history(app, klass, ana, "PPPPPPPAA")
    assert titles(app, klass.teacher) == []

    history(app, klass, ana, "A", start=START + timedelta(days=20))

    expected = [f"{ana.full_name} is at high risk in {klass.name}"]
    assert titles(app, klass.teacher) == expected
    assert titles(app, admin) == expected
    assert titles(app, other_admin) == expected
    [note] = inbox(app, klass.teacher)
    assert note.body == f"{klass.name}: 3 absences in a row (at least 3)."
    assert note.student_id == ana.profile_id and note.class_id == klass.id
    assert note.read_at is None


def test_a_student_already_over_the_line_is_not_alerted_again(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    history(app, klass, ana, "PPPPPPPAAA")

    history(app, klass, ana, "AA", start=START + timedelta(days=20))

    assert len(titles(app, admin)) == 1


def test_coming_back_re_arms_the_alert_and_the_next_crossing_alerts_again(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    history(app, klass, ana, "PPPPPPPAAA")
    assert ana.profile_id in states(app, klass.id)

    history(app, klass, ana, "P", start=START + timedelta(days=20))  # 8 of 11: medium
    assert states(app, klass.id) == {}
    assert len(titles(app, admin)) == 1  # the first alert stays: it was true when sent

    history(app, klass, ana, "AAA", start=START + timedelta(days=30))
    assert len(titles(app, admin)) == 2


def test_while_over_the_line_the_reason_shown_stays_current(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    history(app, klass, ana, "PPPPPPPAAA")

    history(app, klass, ana, "A", start=START + timedelta(days=20))

    assert states(app, klass.id)[ana.profile_id].reason == (
        "attendance rate 63.64% is below 70%; 4 absences in a row (at least 3)"
    )
    assert len(titles(app, admin)) == 1  # and nobody was told twice


def test_two_absences_in_a_row_are_medium_risk_and_alert_nobody(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    history(app, klass, klass.students[0], "PPPPPPPPAA")

    assert titles(app, admin) == []
    assert titles(app, klass.teacher) == []


def test_a_low_rate_alerts_only_once_there_are_enough_records_to_mean_something(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]

    history(app, klass, ana, "A")  # 0 %, one record: not yet
    history(app, klass, ana, "P", start=START + timedelta(days=10))  # 50 %, two records
    assert titles(app, admin) == []

    history(app, klass, ana, "L", start=START + timedelta(days=20))  # 66.67 %, three
    [note] = inbox(app, admin)
    assert note.body == f"{klass.name}: attendance rate 66.67% is below 70%."


def test_the_minimum_number_of_records_is_a_setting(app, classroom, monkeypatch):
    monkeypatch.setitem(app.config, "ALERT_MIN_SESSIONS", 1)
    klass, admin = classroom.klass, classroom.admin

    history(app, klass, klass.students[0], "A")

    assert len(titles(app, admin)) == 1


def test_the_absence_streak_is_a_setting_and_alerts_below_high_risk(app, classroom, monkeypatch):
    monkeypatch.setitem(app.config, "ALERT_ABSENCE_STREAK", 2)
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]

    history(app, klass, ana, "PPPPPPPPAA")

    [note] = inbox(app, admin)
    assert note.title == f"{ana.full_name} has missed 2 sessions in a row in {klass.name}"
    assert note.body == f"{klass.name}: 2 absences in a row (alert at 2)."


def test_the_alert_line_follows_a_setting_changed_while_the_app_runs(app, monkeypatch):
    with app.app_context():
        before = alerts.AlertLine.from_config()
        monkeypatch.setitem(app.config, "ALERT_ABSENCE_STREAK", before.streak + 2)
        monkeypatch.setitem(app.config, "ANALYTICS_TREND_WINDOW", 0)
        changed = alerts.AlertLine.from_config()
        monkeypatch.undo()
        again = alerts.AlertLine.from_config()

    assert changed.streak == before.streak + 2
    assert changed.thresholds.trend_window == 1  # 0 is no window: the smallest that is one
    assert again == before


def test_a_correction_in_the_same_session_withdraws_the_alert(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    history(app, klass, ana, "PPPPPPPAA")
    session_id = make_session(app, klass, start_at=START + timedelta(days=20))
    record_id = mark(app, klass, session_id, ana, "ABSENT")
    assert len(titles(app, admin)) == 1

    with app.app_context():
        attendance.update_attendance(
            actor=actor(klass.teacher.user_id),
            attendance_id=record_id,
            status="PRESENT",
            channel=Channel.API,
        )
        db.session.remove()

    assert titles(app, admin) == []
    assert titles(app, klass.teacher) == []
    assert states(app, klass.id) == {}


def test_the_alert_is_written_in_the_transaction_of_the_mark(app, classroom):
    """No job runs between the mark and the alert: the mark's commit carries it."""
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    history(app, klass, ana, "PPPPPPPAA")
    session_id = make_session(app, klass, start_at=START + timedelta(days=20))

    with app.app_context():
        result = attendance.mark_attendance(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            student_id=ana.profile_id,
            status="ABSENT",
            channel=Channel.API,
        )
        [note] = db.session.scalars(
            select(Notification).where(Notification.recipient_id == admin.user_id)
        ).all()
        assert note.session_id == result.session.id
        db.session.remove()


def test_an_inactive_teacher_is_not_notified(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    deactivate_user(app, klass.teacher)

    with app.app_context():
        # The admin marks (the deactivated teacher cannot).
        for offset, status in enumerate("AAA"):
            from attendance_app.services.marking import sessions

            a = actor(admin.user_id)
            result = sessions.create_session(actor=a, class_id=klass.id)
            sessions.start_session(
                actor=a, session_id=result.session.id, at=START + timedelta(days=offset)
            )
            attendance.mark_attendance(
                actor=a,
                session_id=result.session.id,
                student_id=klass.students[0].profile_id,
                status={"A": "ABSENT"}[status],
                channel=Channel.API,
            )
        db.session.remove()

    assert len(titles(app, admin)) == 1
    assert titles(app, klass.teacher) == []


def test_alerts_are_per_class(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    other = make_class(app, admin=admin, students=[ana])
    history(app, klass, ana, "PPPPPPPAA")
    history(app, other, ana, "A", start=START + timedelta(days=20))

    assert titles(app, admin) == []


# --- notices to students at the end of a session -------------------------------------------


def test_students_marked_absent_or_late_get_one_notice_when_the_session_ends(app, classroom):
    klass = classroom.klass
    ana, ben, *_ = klass.students
    session_id = make_session(app, klass, start_at=START)
    mark(app, klass, session_id, ana, "ABSENT")
    mark(app, klass, session_id, ben, "LATE", at=START + timedelta(minutes=12))
    assert inbox(app, ana) == [] and inbox(app, ben) == []

    end_session(app, klass, session_id, at=START + timedelta(hours=1))

    [ana_note] = inbox(app, ana, NotificationKind.DIGEST)
    [ben_note] = inbox(app, ben, NotificationKind.DIGEST)
    assert ana_note.title == f"You were marked absent in {klass.name}"
    assert ben_note.title == f"You were marked late (12 min) in {klass.name}"
    assert ben_note.body.startswith(f"{klass.name}, Mon 07 Sep 2026, 09:00 UTC: marked late")
    assert ana_note.created_at == START + timedelta(hours=1)  # dated when the session ended


def test_a_present_student_and_a_corrected_absence_get_no_notice(app, classroom):
    klass = classroom.klass
    ana, ben, *_ = klass.students
    session_id = make_session(app, klass, start_at=START)
    mark(app, klass, session_id, ana, "PRESENT")
    record_id = mark(app, klass, session_id, ben, "ABSENT")
    with app.app_context():
        attendance.update_attendance(
            actor=actor(klass.teacher.user_id),
            attendance_id=record_id,
            status="PRESENT",
            channel=Channel.API,
        )
        db.session.remove()

    end_session(app, klass, session_id)

    assert inbox(app, ana) == [] and inbox(app, ben) == []


def test_sending_a_sessions_notices_again_sends_nothing_new(app, classroom):
    klass = classroom.klass
    ana = klass.students[0]
    session_id = make_session(app, klass, start_at=START)
    mark(app, klass, session_id, ana, "ABSENT")
    end_session(app, klass, session_id)

    with app.app_context():
        from attendance_app.models import ClassSession

        alerts.send_session_notices(db.session.get(ClassSession, session_id))
        db.session.commit()
        db.session.remove()

    assert len(inbox(app, ana, NotificationKind.DIGEST)) == 1


def test_ending_with_the_unmarked_marked_absent_notices_them_too(app, classroom):
    klass = classroom.klass
    ana, *unmarked = klass.students
    session_id = make_session(app, klass, start_at=START)
    mark(app, klass, session_id, ana, "PRESENT")

    with app.app_context():
        bulk.end_session_marking_unmarked(
            actor=actor(klass.teacher.user_id), session_id=session_id, channel=Channel.WEB
        )
        db.session.remove()

    assert inbox(app, ana) == []
    for student in unmarked:
        assert [n.title for n in inbox(app, student)] == [f"You were marked absent in {klass.name}"]


# --- changes that cannot cross the line skip the check ----------------------------------------


def alert_picture(app, klass, *people: Person) -> tuple:
    """Everything the alert check decides: the class's alert rows and who was told what."""
    rows = sorted(
        (str(s.student_id), s.reason, str(s.session_id)) for s in states(app, klass.id).values()
    )
    return rows, [sorted(titles(app, p)) for p in people]


@unit_of_work
def full_check(session_id: uuid.UUID, student_id: uuid.UUID) -> None:
    alerts.evaluate(db.session.get_one(ClassSession, session_id), [student_id])


@pytest.mark.parametrize("earlier", ["", "PPPPPPPAA", "AAPPLLA", "LLAAA", "PLPLAAPA", "AAA"])
@pytest.mark.parametrize("first", ["PRESENT", "LATE", "LATE excused"])
def test_a_change_between_present_and_late_or_of_notes_leaves_alerts_as_a_full_check_would(
    app, classroom, earlier, first
):
    """The PATCH skips the alert check (``alerts.cannot_cross``); running the full check
    afterwards changes nothing: no alert row, reason or notification differs."""
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    history(app, klass, ana, earlier)
    session_id = make_session(app, klass, start_at=START + timedelta(days=20))
    record_id = mark(app, klass, session_id, ana, first.split()[0])
    teacher = klass.teacher.user_id
    if first.endswith("excused"):
        with app.app_context():
            excuses.excuse_absence(
                actor=actor(teacher),
                attendance_id=record_id,
                reason=AbsenceReason.ILLNESS,
                channel=Channel.API,
            )
            db.session.remove()
    steps = [("PRESENT", None), ("LATE", None), (None, "a note"), ("LATE", None), ("PRESENT", "x")]
    for status, notes in steps:
        with app.app_context():
            attendance.update_attendance(
                actor=actor(teacher),
                attendance_id=record_id,
                status=status,
                notes=notes,
                channel=Channel.API,
            )
            db.session.remove()
        after_patch = alert_picture(app, klass, admin, klass.teacher)
        with app.app_context():
            full_check(session_id, ana.profile_id)
            db.session.remove()
        assert alert_picture(app, klass, admin, klass.teacher) == after_patch, (status, notes)


@pytest.mark.parametrize(
    ("old", "new", "skipped"),
    [
        ("PRESENT", "LATE", True),
        ("LATE", "PRESENT", True),
        ("ABSENT", None, True),
        ("ABSENT", "ABSENT", True),
        ("ABSENT", "LATE", False),
        ("LATE", "ABSENT", False),
        ("PRESENT", "ABSENT", False),
        ("ABSENT", "PRESENT", False),
    ],
)
def test_only_changes_between_attending_statuses_or_of_notes_skip_the_alert_check(
    old, new, skipped
):
    status = AttendanceStatus
    assert alerts.cannot_cross(status(old), new and status(new)) is skipped


def test_a_change_from_late_to_absent_is_still_checked_and_alerts(app, classroom):
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    history(app, klass, ana, "PPPPPPPAA")
    session_id = make_session(app, klass, start_at=START + timedelta(days=20))
    record_id = mark(app, klass, session_id, ana, "LATE")
    assert titles(app, admin) == []
    with app.app_context():
        attendance.update_attendance(
            actor=actor(klass.teacher.user_id),
            attendance_id=record_id,
            status="ABSENT",
            channel=Channel.API,
        )
        db.session.remove()
    assert len(titles(app, admin)) == 1


@pytest.mark.parametrize("size", [3, alerts.INLINE_IDS_FROM + 10])
def test_a_bulk_mark_of_a_large_class_alerts_and_re_arms_as_for_a_small_one(app, size):
    """From ``INLINE_IDS_FROM`` students the alert check writes their ids into its SQL; it
    decides the same: a third absence in a row alerts, a return re-arms, nobody else moves."""
    admin = make_admin(app)
    students = make_students(app, size)
    klass = make_class(app, admin=admin, students=students)
    ana, bob, cy = students[:3]
    plan = 7 * [{ana: "PRESENT", bob: "PRESENT", cy: "PRESENT"}]
    plan += 2 * [{ana: "ABSENT", bob: "ABSENT", cy: "PRESENT"}] + [{bob: "ABSENT"}]
    run_sessions(app, klass, plan, first_start=START, end=True)
    assert set(states(app, klass.id)) == {bob.profile_id}

    session_id = make_session(app, klass, start_at=START + timedelta(days=20))
    marks = [(s, "ABSENT" if s is ana else "PRESENT") for s in students]
    mark_many(app, klass, session_id, marks, at=START + timedelta(days=20, minutes=1))

    assert set(states(app, klass.id)) == {ana.profile_id}
    alerted = [n.student_id for n in inbox(app, admin, NotificationKind.ALERT)]
    assert alerted == [bob.profile_id, ana.profile_id]


def test_a_first_mark_of_present_can_cross_the_line(app, classroom):
    """Why a bulk mark's present students are checked too: two absences are under the line
    (too few records), and a third record, present, makes a 33 % rate that is over it."""
    klass, admin = classroom.klass, classroom.admin
    ana = klass.students[0]
    history(app, klass, ana, "AA")
    assert titles(app, admin) == []

    session_id = make_session(app, klass, start_at=START + timedelta(days=20))
    mark_many(app, klass, session_id, [(ana, "PRESENT")])

    assert titles(app, admin) == [f"{ana.full_name} is at high risk in {klass.name}"]
    assert states(app, klass.id)[ana.profile_id].reason == "attendance rate 33.33% is below 70%"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_alert_checks_record_codes_give_the_reports_aggregates(app, seed):
    """The alert check reads each student's records as codes (``class_codes_statement``,
    ``counts_of_codes``) instead of the reports' window query (``counts_statement``); both
    give the same nine aggregates for every window, on any mix of statuses and excuses,
    sessions sharing a start time (ordered by id), sessions not started (left out) and
    students with no record."""
    rng = random.Random(seed)
    admin = make_admin(app)
    students = make_students(app, 8)
    klass = make_class(app, admin=admin, students=students)
    other = make_class(app, admin=admin, students=students[:3])
    statuses = list(AttendanceStatus)
    with app.app_context():
        sessions = []
        for i in range(18):
            start = START + timedelta(days=rng.randrange(6)) if i % 7 else None
            state = SessionStatus.SCHEDULED if start is None else rng.choice(list(SessionStatus))
            sessions.append(
                ClassSession(
                    class_id=rng.choice([klass.id] * 5 + [other.id]), status=state, start_time=start
                )
            )
        db.session.add_all(sessions)
        db.session.flush()
        for session in sessions:
            for student in students[:-1]:  # the last has no record
                if rng.random() < 0.2:
                    continue
                status = rng.choice(statuses)
                excused = status != AttendanceStatus.PRESENT and rng.random() < 0.3
                db.session.add(
                    Attendance(
                        session_id=session.id,
                        student_id=student.profile_id,
                        status=status,
                        marked_at=START,
                        notes="",
                        version=1,
                        absence_reason=AbsenceReason.ILLNESS if excused else None,
                    )
                )
        db.session.commit()
        ids = [s.profile_id for s in students]
        for window in (1, 2, 3, 5):
            expected = analytics.student_counts(
                [ClassSession.class_id == klass.id, Attendance.student_id.in_(ids)], window=window
            )
            # Both forms where the database orders an aggregate (PostgreSQL), the unordered
            # tokens everywhere.
            forms = [False, True] if db.engine.dialect.name == "postgresql" else [False]
            for ordered in forms:
                statement = analytics.class_codes_statement(klass.id, ids, ordered=ordered)
                rows = dict(db.session.execute(statement).all())
                assert set(rows) == set(expected)
                for student_id, text in rows.items():
                    codes = text if ordered else analytics.codes_of_tokens(text)
                    got = analytics.counts_of(analytics.counts_of_codes(codes, window))
                    assert got == expected[student_id], (window, ordered, codes)
        db.session.remove()
