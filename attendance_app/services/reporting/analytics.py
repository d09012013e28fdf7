"""Read side: attendance analytics of a student and of a class (constant query counts).

Figures are the contract's ("Analytics and exports"): counts, rates, consecutive absences,
trend and risk level over the records of started (ACTIVE or ENDED) sessions, ordered by the
session's ``start_time``. Every per-record figure is an SQL aggregate over a window ranking
(``row_number`` over ``start_time`` newest first), so a class of any size costs the same
queries; ``reporting.risk`` classifies the few aggregates of each student.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    ClassSession,
    Enrollment,
    SchoolClass,
    SessionStatus,
    Student,
    User,
)
from attendance_app.services import permissions
from attendance_app.services.errors import Invalid
from attendance_app.services.reporting.history import (
    HistoryFilters,
    get_student,
    visible_records_filter,
)
from attendance_app.services.reporting.risk import (
    RISK_LOW,
    RISK_ORDER,
    Counts,
    Figures,
    Thresholds,
    figures,
)
from attendance_app.services.reporting.statistics import rate
from attendance_app.services.school import structure

#: How many students ``most_late`` names at most.
MOST_LATE_LIMIT = 5

#: Sessions whose records count: every started one.
STARTED = (SessionStatus.ACTIVE, SessionStatus.ENDED)


@dataclass(frozen=True)
class StudentAnalytics:
    student: Student
    figures: Figures


@dataclass(frozen=True)
class SessionRate:
    id: uuid.UUID
    start_time: datetime
    status: SessionStatus
    attendance_rate: float


@dataclass(frozen=True)
class ClassAnalytics:
    school_class: SchoolClass
    sessions: list[SessionRate]  # oldest first
    attendance_rate: float  # mean of the sessions' rates
    students: list[StudentAnalytics]  # riskiest first
    at_risk: list[uuid.UUID]  # high, then medium
    most_late: list[uuid.UUID]


# --- the aggregate query ---------------------------------------------------------------------


def student_counts(clauses: list, *, window: int) -> dict[uuid.UUID, Counts]:
    """{Student.id: Counts} over the started sessions' records matching ``clauses`` (WHERE
    terms on Attendance / ClassSession), in one query whatever the number of students.

    Each student's records are ranked newest session first; then consecutive absences are
    the ranks before the first record that is not ABSENT, and the trend windows are ranks
    1..W and W+1..2W.
    """
    ranked = (
        select(
            Attendance.student_id.label("student_id"),
            Attendance.status.label("status"),
            func.row_number()
            .over(
                partition_by=Attendance.student_id,
                order_by=(ClassSession.start_time.desc(), ClassSession.id.desc()),
            )
            .label("n"),
        )
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .where(
            ClassSession.status.in_(STARTED),
            ClassSession.start_time.is_not(None),
            *clauses,
        )
        .subquery("ranked")
    )
    status, n = ranked.c.status, ranked.c.n
    attended = status != AttendanceStatus.ABSENT
    rows = db.session.execute(
        select(
            ranked.c.student_id,
            func.count(),
            func.count().filter(status == AttendanceStatus.PRESENT),
            func.count().filter(status == AttendanceStatus.ABSENT),
            func.count().filter(status == AttendanceStatus.LATE),
            func.min(n).filter(attended),
            func.count().filter(attended, n <= window),
            func.count().filter(attended, n > window, n <= 2 * window),
        ).group_by(ranked.c.student_id)
    )
    out = {}
    for student_id, total, present, absent, late, first, recent, earlier in rows:
        out[student_id] = Counts(
            total=int(total),
            present=int(present or 0),
            absent=int(absent or 0),
            late=int(late or 0),
            first_attended_rank=None if first is None else int(first),
            recent_attended=int(recent or 0),
            earlier_attended=int(earlier or 0),
        )
    return out


# --- student analytics -----------------------------------------------------------------------


def student_analytics(
    *, actor: User, student_id: uuid.UUID, class_id: uuid.UUID | None = None
) -> StudentAnalytics:
    """A student's figures over their records (one class's with ``class_id``).

    A teacher's view covers only the classes they teach. Raises NotFound (student),
    Invalid (``class_id`` names no class), Forbidden (not themself, a teacher with the
    student in none of their classes or naming a class they do not teach, or not an admin).
    """
    student = get_student(student_id)
    permissions.require_student_analytics_reader(actor, student_id)
    if class_id is not None:
        school_class = db.session.get(SchoolClass, class_id)
        if school_class is None:
            raise Invalid(structure.invalid_pk(class_id), field="class_id")
        permissions.require_class_analytics_filter(actor, school_class)
    clauses = [
        Attendance.student_id == student_id,
        *visible_records_filter(actor, HistoryFilters(class_id=class_id)),
    ]
    thresholds = Thresholds.from_config()
    counts = student_counts(clauses, window=thresholds.trend_window)
    return StudentAnalytics(student, figures(counts.get(student_id, Counts()), thresholds))


# --- class analytics -------------------------------------------------------------------------


def session_rates(class_id: uuid.UUID) -> list[SessionRate]:
    """The class's started sessions, oldest first, with their attendance rates (one query).

    A session's base is the class's enrolled students plus anyone with a record in it who is
    no longer enrolled, as in ``statistics.statistics_for_sessions`` (so each rate equals
    the one the session endpoint shows).
    """
    enrolled_ids = select(Enrollment.student_id).where(Enrollment.class_id == class_id)
    enrolled = (
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.class_id == class_id)
        .scalar_subquery()
    )
    counted = func.count(Attendance.id)
    rows = db.session.execute(
        select(
            ClassSession.id,
            ClassSession.start_time,
            ClassSession.status,
            enrolled,
            counted.filter(Attendance.status != AttendanceStatus.ABSENT),
            counted.filter(Attendance.student_id.not_in(enrolled_ids)),
        )
        .select_from(ClassSession)
        .outerjoin(Attendance, Attendance.session_id == ClassSession.id)
        .where(
            ClassSession.class_id == class_id,
            ClassSession.status.in_(STARTED),
            ClassSession.start_time.is_not(None),
        )
        .group_by(ClassSession.id, ClassSession.start_time, ClassSession.status)
        .order_by(ClassSession.start_time, ClassSession.id)
    )
    return [
        SessionRate(sid, start, status, rate(int(attended or 0), int(base or 0) + int(out or 0)))
        for sid, start, status, base, attended, out in rows
    ]


def class_analytics(*, actor: User, class_id: uuid.UUID) -> ClassAnalytics:
    """A class's sessions and rates and every enrolled student's figures over its records.

    Four queries whatever the class size (class, enrolled students, session rates, student
    figures). Raises NotFound (class), Forbidden (not its teacher, not an admin).
    """
    school_class = structure.get_class_for(actor, class_id)
    students = structure.enrolled_students(class_id)
    sessions = session_rates(class_id)
    thresholds = Thresholds.from_config()
    counts = student_counts(
        [
            ClassSession.class_id == class_id,
            Attendance.student_id.in_(
                select(Enrollment.student_id).where(Enrollment.class_id == class_id)
            ),
        ],
        window=thresholds.trend_window,
    )
    rows = [StudentAnalytics(s, figures(counts.get(s.id, Counts()), thresholds)) for s in students]
    rows.sort(key=_risk_order)
    mean = round(sum(s.attendance_rate for s in sessions) / len(sessions), 2) if sessions else 0.0
    return ClassAnalytics(
        school_class=school_class,
        sessions=sessions,
        attendance_rate=mean,
        students=rows,
        at_risk=[r.student.id for r in rows if r.figures.risk_level != RISK_LOW],
        most_late=[
            r.student.id
            for r in sorted((r for r in rows if r.figures.late), key=_lateness_order)[
                :MOST_LATE_LIMIT
            ]
        ],
    )


def _name(student: Student) -> tuple[str, str, str]:
    return (student.user.last_name, student.user.first_name, student.student_number)


def _risk_order(row: StudentAnalytics) -> tuple:
    """High, medium, low; then the lowest attendance rate; then last and first name."""
    return (RISK_ORDER[row.figures.risk_level], row.figures.attendance_rate, *_name(row.student))


def _lateness_order(row: StudentAnalytics) -> tuple:
    """Most LATE first; then last and first name."""
    return (-row.figures.late, *_name(row.student))
