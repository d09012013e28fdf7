"""A student's history: their records (paged newest first) and statistics over the filtered
records, as the student, their teachers (their classes only) and admins may see them."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, NamedTuple, TypeAlias, TypeVar, TypeVarTuple

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
)

from attendance_app.extensions import db
from attendance_app.models import (
    AbsenceReason,
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
from attendance_app.services.dialect import iso_text, uuid_text
from attendance_app.services.errors import Invalid, NotFound
from attendance_app.services.reporting.statistics import rate, read_columns, status_count
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
        # Flat numbers: no need for dataclasses.asdict's recursive copy (a tenth of a small
        # session view's own time).
        return {name: getattr(self, name) for name in _HISTORY_STATISTICS_FIELDS}


_HISTORY_STATISTICS_FIELDS = tuple(f.name for f in fields(HistoryStatistics))


class HistoryRow(NamedTuple):
    """A history record with its lesson, read as columns (no Attendance or ClassSession
    entities: building them, with their many UUIDs, was most of a history request). The
    record's id is already the text every edge prints."""

    id: str
    status: AttendanceStatus
    marked_at: datetime
    late_at: datetime | None
    absence_reason: AbsenceReason | None
    excuse_note: str | None
    start_time: datetime | None  # nullable in the schema: such a row has no date, sorts last
    class_name: str
    subject_code: str
    marked_at_text: str  # marked_at and start_time as models.base.iso writes them, read with
    start_time_text: str | None  # the row (the body's text; iso per value was a tenth of it)

    @property
    def excused(self) -> bool:
        return self.absence_reason is not None

    def minutes_late(self) -> int | None:
        """As ``Attendance.minutes_late`` from the lesson's start (the same function)."""
        return Attendance.minutes_late(self, self.start_time)  # type: ignore[arg-type]


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
    from_time, to_time = period_times(filters)
    return history_clauses(
        taught=permissions.taught_class_ids(actor) if actor.role == Role.TEACHER else None,
        from_time=from_time,
        to_time=to_time,
        subject_id=filters.subject_id,
        class_id=filters.class_id,
        status=filters.status,
    )


_V = TypeVar("_V")
#: A clause's operand: a value, or a bind parameter in a statement built once; None: no clause.
_Operand: TypeAlias = _V | BindParameter[_V] | None


def history_clauses(
    *,
    taught: Select[uuid.UUID] | None,
    from_time: _Operand[datetime],
    to_time: _Operand[datetime],
    subject_id: _Operand[uuid.UUID],
    class_id: _Operand[uuid.UUID],
    status: _Operand[AttendanceStatus],
) -> list[ColumnElement[bool]]:
    """The visibility and filter clauses of records, in one order, each left out when its
    operand is None: ``taught`` (a teacher sees the classes of this subquery only), sessions
    started in [``from_time``, ``to_time``), a subject, a class, a status. Operands are
    values (:func:`visible_records_filter`) or bind parameters (the history's statements)."""
    clauses: list[ColumnElement[bool]] = []
    if taught is not None:
        clauses.append(ClassSession.class_id.in_(taught))
    if from_time is not None:
        clauses.append(ClassSession.start_time >= from_time)
    if to_time is not None:
        clauses.append(ClassSession.start_time < to_time)
    if subject_id is not None:
        clauses.append(SchoolClass.subject_id == subject_id)
    if class_id is not None:
        clauses.append(ClassSession.class_id == class_id)
    if status is not None:
        clauses.append(Attendance.status == status)
    return clauses


def period_times(filters: HistoryFilters) -> tuple[datetime | None, datetime | None]:
    """The filters' days as the UTC [start, end) of session start times; None: unbounded."""
    from_time = _day_start(filters.date_from) if filters.date_from is not None else None
    # date.max has no next day (OverflowError); up to its end means no upper bound at all.
    to_time = (
        _day_start(filters.date_to + timedelta(days=1))
        if filters.date_to is not None and filters.date_to < date.max
        else None
    )
    return from_time, to_time


def check_period(date_from: date | None, date_to: date | None) -> None:
    """Raises Invalid (PERIOD_REVERSED, on ``date_from``) when a period ends before it starts:
    it can hold nothing, and a page says so rather than showing nothing."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise Invalid(PERIOD_REVERSED, field="date_from")


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


class _Shape(NamedTuple):
    """Which optional clauses a history read has: one pair of statements per shape."""

    teacher: bool
    date_from: bool
    date_to: bool
    subject: bool
    class_: bool
    status: bool
    cursor: bool


@cache
def _history_statements(
    shape: _Shape,
) -> tuple[Select[*tuple[Any, ...]], Select[*tuple[Any, ...]]]:
    """The counts and the page of :func:`student_history` for one shape of filters, built once
    with bind parameters (:func:`history_clauses`, as :func:`visible_records_filter` uses):
    building and compiling them per request cost as much as running them."""

    def bound(name: str, present: bool) -> BindParameter[Any] | None:
        return bindparam(name) if present else None

    taught = permissions.classes_taught_by(bindparam("teacher_id")) if shape.teacher else None
    clauses = [
        Attendance.student_id == bindparam("student_id"),
        *history_clauses(
            taught=taught,
            from_time=bound("from_time", shape.date_from),
            to_time=bound("to_time", shape.date_to),
            subject_id=bound("subject_id", shape.subject),
            class_id=bound("class_id", shape.class_),
            status=bound("status", shape.status),
        ),
    ]

    def joined(stmt: Select[*Ts]) -> Select[*Ts]:
        return (
            stmt.join(ClassSession, ClassSession.id == Attendance.session_id)
            .join(SchoolClass, SchoolClass.id == ClassSession.class_id)
            .where(*clauses)
        )

    counts = joined(
        select(
            func.count(Attendance.id),
            status_count(AttendanceStatus.PRESENT),
            status_count(AttendanceStatus.ABSENT),
            status_count(AttendanceStatus.LATE),
        )
    )
    page = (
        joined(
            select(
                uuid_text(Attendance.id),
                Attendance.status,
                Attendance.marked_at,
                Attendance.late_at,
                Attendance.absence_reason,
                Attendance.excuse_note,
                ClassSession.start_time,
                SchoolClass.name,
                Subject.code,
                iso_text(Attendance.marked_at),
                iso_text(ClassSession.start_time),
            )
        )
        .join(Subject, Subject.id == SchoolClass.subject_id)
        # NULLS LAST on both databases (PostgreSQL puts them first in a DESC by default).
        .order_by(ClassSession.start_time.desc().nulls_last(), Attendance.id.desc())
        .limit(bindparam("limit"))
    )
    if shape.cursor:
        after_time: BindParameter[datetime] = bindparam("after_time")
        after_id: BindParameter[uuid.UUID] = bindparam("after_id")
        # Whether the cursor's row has a start time: every row without one comes after it.
        after_dated: BindParameter[bool] = bindparam("after_dated", type_=Boolean)
        page = page.where(
            or_(
                ClassSession.start_time < after_time,
                and_(ClassSession.start_time == after_time, Attendance.id < after_id),
                and_(ClassSession.start_time.is_(None), or_(after_dated, Attendance.id < after_id)),
            )
        )
    return counts, page


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
    after = decode_cursor(cursor) if cursor else None
    from_time, to_time = period_times(filters)
    teacher = actor.role == Role.TEACHER
    shape = _Shape(
        teacher=teacher,
        date_from=from_time is not None,
        date_to=to_time is not None,
        subject=filters.subject_id is not None,
        class_=filters.class_id is not None,
        status=filters.status is not None,
        cursor=after is not None,
    )
    params: dict[str, Any] = {
        "student_id": student_id,
        "teacher_id": actor.teacher.id if teacher and actor.teacher else None,
        "from_time": from_time,
        "to_time": to_time,
        "subject_id": filters.subject_id,
        "class_id": filters.class_id,
        "status": filters.status,
        "limit": limit + 1,
        "after_time": after[0] if after else None,
        "after_id": after[1] if after else None,
        "after_dated": after is not None and after[0] is not None,
    }
    counts_stmt, page_stmt = _history_statements(shape)
    counts = read_columns(counts_stmt, params)[0]
    total, present, absent, late = (int(v or 0) for v in counts)
    statistics = HistoryStatistics(total, present, absent, late, rate(present + late, total))
    rows = [HistoryRow._make(row) for row in read_columns(page_stmt, params)]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last.start_time, last.id)
    return StudentHistory(student, statistics, rows, next_cursor)


def encode_cursor(start_time: datetime | None, record_id: uuid.UUID | str) -> str:
    """ "<start_time>|<record id>" in URL-safe base64; the time is empty for a session
    without one."""
    raw = f"{start_time.isoformat() if start_time else ''}|{record_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime | None, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, _, rid = base64.urlsafe_b64decode(padded).decode().partition("|")
        if not when:
            return None, uuid.UUID(rid)
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
    # A lesson without a start time has no place on the time axis.
    dated = [(row, row.start_time) for row in rows if row.start_time is not None]
    for row, start_time in sorted(dated, key=lambda pair: pair[1]):
        attended, seen = totals.setdefault(row.subject_code, [0, 0])
        seen += 1
        attended += row.status != AttendanceStatus.ABSENT
        totals[row.subject_code] = [attended, seen]
        series.setdefault(row.subject_code, []).append(
            # The session's start to the minute (UTC): two lessons on one day are two points.
            {"x": start_time.strftime("%Y-%m-%d %H:%M"), "y": rate(attended, seen)}
        )
    return {"series": [{"label": code, "data": points} for code, points in series.items()]}
