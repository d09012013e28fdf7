"""A student's history: their records (paged newest first) and statistics over the filtered
records, as the student, their teachers (their classes only) and admins may see them."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import lazyload

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    ClassSession,
    Role,
    SchoolClass,
    Student,
    Subject,
    User,
)
from attendance_app.services import permissions
from attendance_app.services.errors import Invalid, NotFound
from attendance_app.services.reporting.statistics import rate, status_count
from attendance_app.services.school.structure import STUDENT_NOT_FOUND

Ts = TypeVarTuple("Ts")

INVALID_CURSOR = "Invalid cursor."
PERIOD_REVERSED = "The start of the period must not be after its end."


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

    def as_dict(self) -> dict[str, Any]:
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


def visible_records_filter(actor: User, filters: HistoryFilters) -> list[ColumnElement[bool]]:
    """WHERE clauses for the records ``actor`` may see under ``filters``."""
    clauses: list[ColumnElement[bool]] = []
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


def check_period(date_from: date | None, date_to: date | None) -> None:
    """Raises Invalid (PERIOD_REVERSED, on ``date_from``) when a period ends before it starts:
    it can hold nothing, and a page says so rather than showing nothing."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise Invalid(PERIOD_REVERSED, field="date_from")


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

    def joined(stmt: Select[*Ts]) -> Select[*Ts]:
        return (
            stmt.join(ClassSession, ClassSession.id == Attendance.session_id)
            .join(SchoolClass, SchoolClass.id == ClassSession.class_id)
            .where(*clauses)
        )

    counts = db.session.execute(
        joined(
            select(
                func.count(Attendance.id),
                status_count(AttendanceStatus.PRESENT),
                status_count(AttendanceStatus.ABSENT),
                status_count(AttendanceStatus.LATE),
            )
        )
    ).one()
    total, present, absent, late = (int(v or 0) for v in counts)
    statistics = HistoryStatistics(total, present, absent, late, rate(present + late, total))

    page = (
        joined(select(Attendance, ClassSession, SchoolClass.name, Subject.code))
        .join(Subject, Subject.id == SchoolClass.subject_id)
        # The row carries the class name and subject code already: without this, every
        # session would drag in its class, subject, teacher and teacher's user (five more
        # joined tables per record, and their objects).
        .options(lazyload(ClassSession.school_class))
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
        next_cursor = encode_cursor(last.session.started_at, last.record.id)
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


def rate_over_time(rows: list[HistoryRow]) -> dict[str, Any]:
    """Chart data: per subject, the cumulative attendance rate after each session, oldest
    first — the line a student and their teacher watch go up or down."""
    series: dict[str, list[dict[str, Any]]] = {}
    totals: dict[str, list[int]] = {}
    for row in sorted(rows, key=lambda r: r.session.started_at):
        attended, seen = totals.setdefault(row.subject_code, [0, 0])
        seen += 1
        attended += row.record.status != AttendanceStatus.ABSENT
        totals[row.subject_code] = [attended, seen]
        series.setdefault(row.subject_code, []).append(
            # The session's start to the minute (UTC): two lessons on one day are two points.
            {"x": row.session.started_at.strftime("%Y-%m-%d %H:%M"), "y": rate(attended, seen)}
        )
    return {"series": [{"label": code, "data": points} for code, points in series.items()]}
