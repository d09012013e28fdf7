"""Read side: the admin dashboard (constant query count, whatever the school's size).

- the roll board: every ACTIVE session with its statistics and minutes since its start,
  flagged when it started ``QUIET_AFTER_MINUTES`` or more ago and nobody is marked yet;
- "attendance not taken": ENDED sessions that started in the period and ended with enrolled
  students unmarked, grouped by teacher;
- attendance rates per subject, class and teacher over the period, (PRESENT + LATE) /
  records × 100 over the records of the started sessions that began in the period;
- the weekly trend: the same rate per ISO week (per-day SQL aggregates bucketed here);
- the students at risk over the period's records (services/reporting/analytics.py classification).

The period is [date_from 00:00 UTC, date_to + 1 day 00:00 UTC) on the session's start time,
as the history filters are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import InstrumentedAttribute

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    ClassSession,
    Enrollment,
    SchoolClass,
    SessionStatus,
    Student,
    Subject,
    Teacher,
    User,
    utcnow,
)
from attendance_app.services import permissions
from attendance_app.services.dialect import utc_date
from attendance_app.services.reporting.analytics import STARTED, student_counts
from attendance_app.services.reporting.history import check_period
from attendance_app.services.reporting.risk import (
    RISK_LOW,
    RISK_ORDER,
    Figures,
    Thresholds,
    figures,
)
from attendance_app.services.reporting.statistics import (
    SessionStatistics,
    rate,
    statistics_for_sessions,
)

#: An ACTIVE session this old (minutes) with nobody marked is flagged on the roll board.
QUIET_AFTER_MINUTES = 15
#: How many students at risk the dashboard lists at most.
AT_RISK_LIMIT = 20
#: The default period: the last 30 days, today included.
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class ActiveSession:
    session: ClassSession
    statistics: SessionStatistics
    minutes: int  # since its start, whole minutes
    quiet: bool  # started QUIET_AFTER_MINUTES or more ago and nobody marked

    @property
    def teacher_name(self) -> str:
        return self.session.school_class.teacher.user.full_name


@dataclass(frozen=True)
class NotTaken:
    session_id: uuid.UUID
    class_name: str
    start_time: datetime
    end_time: datetime | None
    enrolled: int
    unmarked: int


@dataclass(frozen=True)
class TeacherNotTaken:
    teacher_name: str
    sessions: list[NotTaken]  # newest first

    @property
    def unmarked(self) -> int:
        return sum(s.unmarked for s in self.sessions)


@dataclass(frozen=True)
class RateRow:
    id: uuid.UUID
    label: str
    detail: str  # e.g. a class's subject code and teacher
    records: int
    attended: int  # PRESENT + LATE

    @property
    def attendance_rate(self) -> float | None:
        """None when there is no record in the period (nothing to rate)."""
        return rate(self.attended, self.records) if self.records else None


@dataclass(frozen=True)
class WeekRate:
    week: str  # ISO week, "2025-W03"
    monday: date
    records: int
    attended: int

    @property
    def attendance_rate(self) -> float:
        return rate(self.attended, self.records)


@dataclass(frozen=True, slots=True)
class StudentName:
    """A listed student's columns (the list shows no more): not an entity."""

    id: uuid.UUID
    student_number: str
    user: PersonName


@dataclass(frozen=True, slots=True)
class PersonName:
    first_name: str
    last_name: str


@dataclass(frozen=True)
class AtRisk:
    student: StudentName
    figures: Figures


@dataclass(frozen=True)
class Dashboard:
    date_from: date
    date_to: date
    active: list[ActiveSession]
    not_taken: list[TeacherNotTaken]
    subjects: list[RateRow]
    classes: list[RateRow]
    teachers: list[RateRow]
    weeks: list[WeekRate]
    at_risk: list[AtRisk]

    def chart(self) -> dict[str, Any]:
        """The weekly trend as chart data."""
        return {
            "labels": [w.week for w in self.weeks],
            "rates": [w.attendance_rate for w in self.weeks],
            "records": [w.records for w in self.weeks],
        }


def default_period(today: date | None = None) -> tuple[date, date]:
    today = today or utcnow().date()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def school_dashboard(
    *, actor: User, date_from: date, date_to: date, now: datetime | None = None
) -> Dashboard:
    """Everything the admin dashboard shows, in nine queries. Raises Forbidden (not an
    admin), Invalid (``date_from`` after ``date_to``)."""
    permissions.require_admin(actor)
    check_period(date_from, date_to)
    now = now or utcnow()
    start = datetime.combine(date_from, time.min, tzinfo=UTC)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
    in_period = and_(
        ClassSession.status.in_(STARTED),
        ClassSession.start_time >= start,
        ClassSession.start_time < end,
    )
    return Dashboard(
        date_from=date_from,
        date_to=date_to,
        active=active_sessions(now),
        not_taken=not_taken(start, end),
        subjects=_rates(in_period, Subject.id, Subject.code, Subject.name),
        classes=_rates(
            in_period,
            SchoolClass.id,
            SchoolClass.name,
            Subject.code,
            User.first_name,
            User.last_name,
        ),
        teachers=_rates(in_period, Teacher.id, User.first_name, User.last_name),
        weeks=weekly(in_period),
        at_risk=at_risk(in_period),
    )


# --- roll board ------------------------------------------------------------------------------


def roll_board(*, actor: User, now: datetime | None = None) -> list[ActiveSession]:
    """The roll board alone (for its live reload). Raises Forbidden (not an admin)."""
    permissions.require_admin(actor)
    return active_sessions(now or utcnow())


def active_sessions(now: datetime) -> list[ActiveSession]:
    """Every ACTIVE session (longest running first) with its statistics (two queries)."""
    found = list(
        db.session.scalars(
            select(ClassSession)
            .where(ClassSession.status == SessionStatus.ACTIVE)
            .order_by(ClassSession.start_time, ClassSession.id)
        ).unique()
    )
    stats = statistics_for_sessions([s.id for s in found])
    out = []
    for s in found:
        minutes = max(0, int((now - s.start_time).total_seconds() // 60)) if s.start_time else 0
        st = stats[s.id]
        out.append(ActiveSession(s, st, minutes, minutes >= QUIET_AFTER_MINUTES and st.marked == 0))
    return out


# --- attendance not taken --------------------------------------------------------------------


def not_taken(start: datetime, end: datetime) -> list[TeacherNotTaken]:
    """ENDED sessions that started in [start, end) with enrolled students left unmarked, by
    teacher (last, first name), each teacher's newest first (one query).

    Unmarked = the class's enrolled students without a record in the session (the same
    ``not_marked`` the session's statistics show)."""
    enrolled = (
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.class_id == ClassSession.class_id)
        .correlate(ClassSession)
        .scalar_subquery()
    )
    marked_enrolled = func.count(Enrollment.student_id)
    # What each row shows of its session, selected and grouped by (one list for both).
    session_columns = (
        ClassSession.id,
        SchoolClass.name,
        ClassSession.start_time,
        ClassSession.end_time,
        User.first_name,
        User.last_name,
        Teacher.id,
    )
    rows = db.session.execute(
        select(*session_columns, enrolled, marked_enrolled)
        .join(SchoolClass, SchoolClass.id == ClassSession.class_id)
        .join(Teacher, Teacher.id == SchoolClass.teacher_id)
        .join(User, User.id == Teacher.user_id)
        .outerjoin(Attendance, Attendance.session_id == ClassSession.id)
        .outerjoin(
            Enrollment,
            and_(
                Enrollment.class_id == ClassSession.class_id,
                Enrollment.student_id == Attendance.student_id,
            ),
        )
        .where(
            ClassSession.status == SessionStatus.ENDED,
            ClassSession.start_time >= start,
            ClassSession.start_time < end,
        )
        # class_id too: the enrolled count is correlated on it.
        .group_by(*session_columns, ClassSession.class_id)
        .having(enrolled > marked_enrolled)
    )
    by_teacher: dict[uuid.UUID, tuple[tuple[str, str], list[NotTaken]]] = {}
    for sid, name, st, et, first, last, teacher_id, n_enrolled, n_marked in rows:
        entry = by_teacher.setdefault(teacher_id, ((last, first), []))
        entry[1].append(
            NotTaken(sid, name, st, et, int(n_enrolled), int(n_enrolled) - int(n_marked))
        )
    out = []
    for (last, first), items in sorted(by_teacher.values(), key=lambda e: e[0]):
        items.sort(key=lambda n: n.start_time, reverse=True)
        out.append(TeacherNotTaken(f"{first} {last}", items))
    return out


# --- rates -----------------------------------------------------------------------------------


def _rates(
    in_period: ColumnElement[bool], key: InstrumentedAttribute[Any], *labels: Any
) -> list[RateRow]:
    """Records and attended records of the period, grouped by ``key`` over every class (a
    subject, class or teacher with no record in the period has 0 records); one query."""
    attended = func.count(Attendance.id).filter(Attendance.status != AttendanceStatus.ABSENT)
    rows = db.session.execute(
        select(key, *labels, func.count(Attendance.id), attended)
        .select_from(SchoolClass)
        .join(Subject, Subject.id == SchoolClass.subject_id)
        .join(Teacher, Teacher.id == SchoolClass.teacher_id)
        .join(User, User.id == Teacher.user_id)
        .outerjoin(ClassSession, and_(ClassSession.class_id == SchoolClass.id, in_period))
        .outerjoin(Attendance, Attendance.session_id == ClassSession.id)
        .group_by(key, *labels)
    )
    out = []
    for row in rows:
        row_id, *names, records, n_attended = row
        if key is Subject.id:
            label, detail = names[0], names[1]
        elif key is SchoolClass.id:
            label, detail = names[0], f"{names[1]} · {names[2]} {names[3]}"
        else:
            label, detail = f"{names[0]} {names[1]}", ""
        out.append(RateRow(row_id, label, detail, int(records or 0), int(n_attended or 0)))
    out.sort(key=lambda r: (r.label.casefold(), str(r.id)))
    return out


# --- weekly trend ----------------------------------------------------------------------------


def weekly(in_period: ColumnElement[bool]) -> list[WeekRate]:
    """The period's rate per ISO week (Monday to Sunday, UTC days), oldest first: SQL counts
    per day (one query, at most one row a day), summed into weeks here."""
    day = utc_date(ClassSession.start_time)
    attended = func.count(Attendance.id).filter(Attendance.status != AttendanceStatus.ABSENT)
    rows = db.session.execute(
        select(day, func.count(Attendance.id), attended)
        .select_from(Attendance)
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .where(in_period)
        .group_by(day)
    )
    weeks: dict[date, list[int]] = {}
    for value, records, n_attended in rows:
        d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        monday = d - timedelta(days=d.weekday())
        totals = weeks.setdefault(monday, [0, 0])
        totals[0] += int(records or 0)
        totals[1] += int(n_attended or 0)
    out = []
    for monday in sorted(weeks):
        year, week, _ = monday.isocalendar()
        out.append(WeekRate(f"{year}-W{week:02d}", monday, *weeks[monday]))
    return out


# --- students at risk ------------------------------------------------------------------------


def at_risk(in_period: ColumnElement[bool]) -> list[AtRisk]:
    """The students whose figures over the period's records are high or medium risk: high
    first, then medium, then the lowest rate, then last and first name; at most
    AT_RISK_LIMIT (two queries: the figures of every student, the listed students)."""
    thresholds = Thresholds.from_config()
    counts = student_counts([in_period], window=thresholds.trend_window)
    risky = {
        sid: f for sid, c in counts.items() if (f := figures(c, thresholds)).risk_level != RISK_LOW
    }
    if not risky:
        return []
    # Columns, not Student + User entities: every risky student of the school is read (the
    # order needs their names) before the list is cut to AT_RISK_LIMIT.
    students = db.session.execute(
        select(Student.id, Student.student_number, User.first_name, User.last_name)
        .join(User, User.id == Student.user_id)
        .where(Student.id.in_(list(risky)))
    )
    rows = [
        AtRisk(StudentName(sid, number, PersonName(first, last)), risky[sid])
        for sid, number, first, last in students
    ]
    rows.sort(
        key=lambda r: (
            RISK_ORDER[r.figures.risk_level],
            r.figures.attendance_rate,
            r.student.user.last_name,
            r.student.user.first_name,
            r.student.student_number,
        )
    )
    return rows[:AT_RISK_LIMIT]
