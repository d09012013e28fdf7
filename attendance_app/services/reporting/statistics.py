"""Read side with rules: session statistics and a student's history (constant query counts)."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    ClassSession,
    Enrollment,
    Role,
    SchoolClass,
    Student,
    Subject,
    User,
)
from attendance_app.services import permissions
from attendance_app.services.errors import Invalid, NotFound

STUDENT_NOT_FOUND = "Student not found."
INVALID_CURSOR = "Invalid cursor."


def rate(attended: int, base: int) -> float:
    """(PRESENT + LATE) / base × 100, two decimals; 0.0 on an empty base."""
    if base <= 0:
        return 0.0
    return round(attended * 100.0 / base, 2)


@dataclass(frozen=True)
class SessionStatistics:
    total_enrolled: int
    present: int
    absent: int
    late: int
    not_marked: int
    attendance_rate: float

    @property
    def marked(self) -> int:
        return self.present + self.absent + self.late

    def as_dict(self) -> dict:
        return asdict(self)


def _count(status: AttendanceStatus):
    return func.count(Attendance.id).filter(Attendance.status == status)


def session_statistics(session: ClassSession) -> SessionStatistics:
    """The statistics of one session (one aggregate query)."""
    return statistics_for_sessions([session.id])[session.id]


def statistics_for_sessions(
    session_ids: list[uuid.UUID],
) -> dict[uuid.UUID, SessionStatistics]:
    """Statistics of many sessions in one aggregate query, whatever the roster sizes.

    The roster is the class's enrolled students plus anyone who has a record in the session
    (a student unenrolled after being marked still counts for that session), so
    present + absent + late + not_marked == total_enrolled always holds.
    """
    if not session_ids:
        return {}
    enrolled = (
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.class_id == ClassSession.class_id)
        .correlate(ClassSession)
        .scalar_subquery()
    )
    is_enrolled = (
        select(Enrollment.student_id)
        .where(
            Enrollment.class_id == ClassSession.class_id,
            Enrollment.student_id == Attendance.student_id,
        )
        .correlate(ClassSession, Attendance)
        .exists()
    )
    rows = db.session.execute(
        select(
            ClassSession.id,
            enrolled,
            _count(AttendanceStatus.PRESENT),
            _count(AttendanceStatus.ABSENT),
            _count(AttendanceStatus.LATE),
            func.count(Attendance.id).filter(~is_enrolled),
        )
        .select_from(ClassSession)
        .outerjoin(Attendance, Attendance.session_id == ClassSession.id)
        .where(ClassSession.id.in_(session_ids))
        .group_by(ClassSession.id, ClassSession.class_id)
    )
    result = {}
    for session_id, *counts in rows:
        enrolled_n, present, absent, late, outside = (int(v or 0) for v in counts)
        total = enrolled_n + outside
        result[session_id] = SessionStatistics(
            total_enrolled=total,
            present=present,
            absent=absent,
            late=late,
            not_marked=total - present - absent - late,
            attendance_rate=rate(present + late, total),
        )
    return result


@dataclass(frozen=True)
class RecordRow:
    """A record with what every edge shows beside it."""

    record: Attendance
    student: Student
    marked_by_name: str | None


def session_records(
    session: ClassSession,
    *,
    status: AttendanceStatus | None = None,
    marked_after: datetime | None = None,
    include_absent: bool = True,
    record_ids: list[uuid.UUID] | None = None,
    student_ids: list[uuid.UUID] | None = None,
) -> list[RecordRow]:
    """A session's records, newest ``marked_at`` first, in one query."""
    marker = aliased(User)
    stmt = (
        select(Attendance, Student, marker.first_name, marker.last_name)
        .join(Student, Student.id == Attendance.student_id)
        .outerjoin(marker, marker.id == Attendance.marked_by_id)
        .where(Attendance.session_id == session.id)
        .order_by(Attendance.marked_at.desc(), Attendance.id)
    )
    if status is not None:
        stmt = stmt.where(Attendance.status == status)
    if marked_after is not None:
        stmt = stmt.where(Attendance.marked_at > marked_after)
    if not include_absent:
        stmt = stmt.where(Attendance.status != AttendanceStatus.ABSENT)
    if record_ids is not None:
        stmt = stmt.where(Attendance.id.in_(record_ids))
    if student_ids is not None:
        stmt = stmt.where(Attendance.student_id.in_(student_ids))
    return [
        RecordRow(rec, student, _full_name(first, last))
        for rec, student, first, last in db.session.execute(stmt).unique()
    ]


def _full_name(first: str | None, last: str | None) -> str | None:
    if first is None and last is None:
        return None
    return f"{first or ''} {last or ''}".strip()


# --- student history -------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryFilters:
    date_from: date | None = None
    date_to: date | None = None
    subject_id: uuid.UUID | None = None
    status: AttendanceStatus | None = None
    class_id: uuid.UUID | None = None


@dataclass(frozen=True)
class HistoryStatistics:
    total_sessions: int
    present: int
    absent: int
    late: int
    attendance_rate: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class HistoryRow:
    record: Attendance
    session: ClassSession
    class_name: str
    subject_code: str


@dataclass(frozen=True)
class StudentHistory:
    student: Student
    statistics: HistoryStatistics
    records: list[HistoryRow]
    next_cursor: str | None


def get_student(student_id: uuid.UUID) -> Student:
    student = db.session.get(Student, student_id)
    if student is None:
        raise NotFound(STUDENT_NOT_FOUND)
    return student


def visible_records_filter(actor: User, filters: HistoryFilters):
    """WHERE clauses for the records ``actor`` may see under ``filters``."""
    clauses = []
    if actor.role == Role.TEACHER:
        clauses.append(ClassSession.class_id.in_(permissions.taught_class_ids(actor)))
    if filters.date_from is not None:
        clauses.append(ClassSession.start_time >= _day_start(filters.date_from))
    # date.max has no next day (OverflowError); up to its end means no upper bound at all.
    if filters.date_to is not None and filters.date_to < date.max:
        clauses.append(ClassSession.start_time < _day_start(filters.date_to + timedelta(days=1)))
    if filters.subject_id is not None:
        clauses.append(SchoolClass.subject_id == filters.subject_id)
    if filters.class_id is not None:
        clauses.append(ClassSession.class_id == filters.class_id)
    if filters.status is not None:
        clauses.append(Attendance.status == filters.status)
    return clauses


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def student_history(
    *,
    actor: User,
    student_id: uuid.UUID,
    filters: HistoryFilters = HistoryFilters(),
    limit: int = 1000,
    cursor: str | None = None,
) -> StudentHistory:
    """A student's records (newest session first) and statistics over all filtered records.

    Raises NotFound (student), Forbidden (not themself, not their teacher, not an admin),
    Invalid (bad cursor). A teacher sees only records of classes they teach.
    """
    student = get_student(student_id)
    permissions.require_student_reader(actor, student_id)
    clauses = [Attendance.student_id == student_id, *visible_records_filter(actor, filters)]

    def joined(stmt):
        return (
            stmt.join(ClassSession, ClassSession.id == Attendance.session_id)
            .join(SchoolClass, SchoolClass.id == ClassSession.class_id)
            .where(*clauses)
        )

    counts = db.session.execute(
        joined(
            select(
                func.count(Attendance.id),
                _count(AttendanceStatus.PRESENT),
                _count(AttendanceStatus.ABSENT),
                _count(AttendanceStatus.LATE),
            )
        )
    ).one()
    total, present, absent, late = (int(v or 0) for v in counts)
    statistics = HistoryStatistics(total, present, absent, late, rate(present + late, total))

    page = (
        joined(select(Attendance, ClassSession, SchoolClass.name, Subject.code))
        .join(Subject, Subject.id == SchoolClass.subject_id)
        .order_by(ClassSession.start_time.desc(), Attendance.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        after_time, after_id = decode_cursor(cursor)
        page = page.where(
            or_(
                ClassSession.start_time < after_time,
                and_(ClassSession.start_time == after_time, Attendance.id < after_id),
            )
        )
    rows = [HistoryRow(*row) for row in db.session.execute(page).unique()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last.session.start_time, last.record.id)
    return StudentHistory(student, statistics, rows, next_cursor)


def encode_cursor(start_time: datetime, record_id: uuid.UUID) -> str:
    raw = f"{start_time.isoformat()}|{record_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, _, rid = base64.urlsafe_b64decode(padded).decode().partition("|")
        after = datetime.fromisoformat(when)
        # In UTC here, where a cursor out of range is still a bad cursor (not at bind time).
        after = after.replace(tzinfo=UTC) if after.tzinfo is None else after.astimezone(UTC)
        return after, uuid.UUID(rid)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid(INVALID_CURSOR, field="cursor") from exc


def rate_over_time(rows: list[HistoryRow]) -> dict:
    """Chart data: per subject, the cumulative attendance rate after each session, oldest
    first — the line a student and their teacher watch go up or down."""
    series: dict[str, list[dict]] = {}
    totals: dict[str, list[int]] = {}
    for row in sorted(rows, key=lambda r: r.session.start_time):
        attended, seen = totals.setdefault(row.subject_code, [0, 0])
        seen += 1
        attended += row.record.status != AttendanceStatus.ABSENT
        totals[row.subject_code] = [attended, seen]
        series.setdefault(row.subject_code, []).append(
            # The session's start to the minute (UTC): two lessons on one day are two points.
            {"x": row.session.start_time.strftime("%Y-%m-%d %H:%M"), "y": rate(attended, seen)}
        )
    return {"series": [{"label": code, "data": points} for code, points in series.items()]}
