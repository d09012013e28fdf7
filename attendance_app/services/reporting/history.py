"""A student's history: their records (paged newest first) and statistics over the filtered
records, as the student, their teachers (their classes only) and admins may see them."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, Generic, NamedTuple, TypeAlias, TypeVar, TypeVarTuple, cast

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
    type_coerce,
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
    """A history record with its lesson as the history page shows it, read as columns (no
    Attendance or ClassSession entities: building them, with their many UUIDs, was most of
    a history request). The record's id is already the text every edge prints."""

    id: str
    status: AttendanceStatus
    marked_at: datetime
    late_at: datetime | None
    absence_reason: AbsenceReason | None
    excuse_note: str | None
    start_time: datetime | None  # nullable in the schema: such a row has no date, sorts last
    class_name: str
    subject_code: str

    @property
    def excused(self) -> bool:
        return self.absence_reason is not None

    def minutes_late(self) -> int | None:
        """As ``Attendance.minutes_late`` from the lesson's start (the same function)."""
        return Attendance.minutes_late(self, self.start_time)  # type: ignore[arg-type]

    def cursor(self) -> str:
        """The cursor of the page that starts after this row."""
        return encode_cursor(self.start_time, self.id)


class HistoryText(NamedTuple):
    """A history record as the API's body prints it: every value already the body's text
    (ids, ISO times, status and reason as stored), in the body's order, nothing made per
    value in Python (no datetime, enum or UUID: those were a third of the rows' cost).

    :func:`student_history_text` returns the statement's rows themselves, which have these
    columns in this order: read them by position (unpacking), as
    ``api.responses.history_body`` does, not by name."""

    id: str
    class_name: str
    subject_code: str
    start_time: str | None  # as models.base.iso writes it; None: the lesson has no start
    status: str
    marked_at: str
    absence_reason: str | None  # None: not excused

    def cursor(self) -> str:
        """The cursor of the page that starts after this row: :meth:`HistoryRow.cursor`'s
        text, from the ISO text (which ``datetime.fromisoformat`` reads back exactly)."""
        start = datetime.fromisoformat(self.start_time) if self.start_time else None
        return encode_cursor(start, self.id)


R = TypeVar("R", HistoryRow, HistoryText)


class StudentBrief(NamedTuple):
    """The student a history is of, as every history shows them."""

    id: uuid.UUID
    student_number: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class StudentHistory(Generic[R]):
    student: StudentBrief
    statistics: HistoryStatistics
    records: list[R]
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
    taught: Select[uuid.UUID] | None = None,
    teacher_id: _Operand[uuid.UUID] = None,
    from_time: _Operand[datetime],
    to_time: _Operand[datetime],
    subject_id: _Operand[uuid.UUID],
    class_id: _Operand[uuid.UUID],
    status: _Operand[AttendanceStatus],
) -> list[ColumnElement[bool]]:
    """The visibility and filter clauses of records, in one order, each left out when its
    operand is None: a teacher sees only the classes they teach — ``taught``, a subquery of
    their classes, or ``teacher_id``, the same rule for a statement that joins the record's
    class (its teacher compared in the join: on SQLite the subquery's list of a teacher's
    classes was built again by each statement, ~25 µs for 60 classes) —, sessions started in
    [``from_time``, ``to_time``), a subject, a class, a status. Operands are values
    (:func:`visible_records_filter`) or bind parameters (the history's statements)."""
    clauses: list[ColumnElement[bool]] = []
    if taught is not None:
        clauses.append(ClassSession.class_id.in_(taught))
    if teacher_id is not None:
        clauses.append(SchoolClass.teacher_id == teacher_id)
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
    """Which optional clauses a history read has: one set of statements per shape."""

    teacher: bool
    date_from: bool
    date_to: bool
    subject: bool
    class_: bool
    status: bool


def _bound(name: str, present: bool) -> BindParameter[Any] | None:
    return bindparam(name) if present else None


def _visible(shape: _Shape) -> list[ColumnElement[bool]]:
    """The student's records under ``shape``'s filters, as bind parameters
    (:func:`history_clauses`, as :func:`visible_records_filter` uses)."""
    return [
        Attendance.student_id == bindparam("student_id"),
        *history_clauses(
            teacher_id=_bound("teacher_id", shape.teacher),
            from_time=_bound("from_time", shape.date_from),
            to_time=_bound("to_time", shape.date_to),
            subject_id=_bound("subject_id", shape.subject),
            class_id=_bound("class_id", shape.class_),
            status=_bound("status", shape.status),
        ),
    ]


def _joined(stmt: Select[*Ts], shape: _Shape) -> Select[*Ts]:
    return (
        stmt.join(ClassSession, ClassSession.id == Attendance.session_id)
        .join(SchoolClass, SchoolClass.id == ClassSession.class_id)
        .where(*_visible(shape))
    )


@cache
def _head_statement(shape: _Shape) -> Select[*tuple[Any, ...]]:
    """The student (number and names), for a teacher whether they may read them
    (``permissions.teaches_student``, records counting), and the counts of the filtered
    records, in one row; no row: no such student. Built once per shape with bind parameters.

    It replaced three statements (the Student entity with its User, the permission, the
    counts): the entity's ORM load alone was a sixth of a history request."""
    counts = _joined(
        select(
            func.count(Attendance.id).label("total"),
            status_count(AttendanceStatus.PRESENT).label("present"),
            status_count(AttendanceStatus.ABSENT).label("absent"),
            status_count(AttendanceStatus.LATE).label("late"),
        ),
        shape,
    ).subquery("counts")
    may_read = (
        [permissions.teaches_student(bindparam("student_id"), bindparam("teacher_id"), True)]
        if shape.teacher
        else []
    )
    return (
        select(
            Student.student_number,
            User.first_name,
            User.last_name,
            counts.c.total,
            counts.c.present,
            counts.c.absent,
            counts.c.late,
            *may_read,
        )
        .select_from(Student)
        .join(User, User.id == Student.user_id)
        # One row of counts beside the student's row: a join on nothing but itself.
        .join(counts, true())
        .where(Student.id == bindparam("student_id"))
    )


#: The page's columns: the history page's Python values, or the API body's text.
_PAGE_COLUMNS: dict[bool, tuple[Any, ...]] = {
    False: (
        uuid_text(Attendance.id),
        Attendance.status,
        Attendance.marked_at,
        Attendance.late_at,
        Attendance.absence_reason,
        Attendance.excuse_note,
        ClassSession.start_time,
        SchoolClass.name,
        Subject.code,
    ),
    True: (
        uuid_text(Attendance.id),
        SchoolClass.name,
        Subject.code,
        iso_text(ClassSession.start_time),
        type_coerce(Attendance.status, String),
        iso_text(Attendance.marked_at),
        type_coerce(Attendance.absence_reason, String),
    ),
}


@cache
def _page_statement(shape: _Shape, cursor: bool, text: bool) -> Select[*tuple[Any, ...]]:
    """A page of :func:`student_history` for one shape of filters, with or without a
    cursor, as :class:`HistoryText`'s columns (``text``) or :class:`HistoryRow`'s; built
    once with bind parameters: building and compiling it per request cost as much as
    running it."""
    page = (
        _joined(select(*_PAGE_COLUMNS[text]), shape)
        .join(Subject, Subject.id == SchoolClass.subject_id)
        # NULLS LAST on both databases (PostgreSQL puts them first in a DESC by default).
        .order_by(ClassSession.start_time.desc().nulls_last(), Attendance.id.desc())
        .limit(bindparam("limit"))
    )
    if cursor:
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
    return page


def student_history(
    *,
    actor: User,
    student_id: uuid.UUID,
    filters: HistoryFilters = HistoryFilters(),
    limit: int = 1000,
    cursor: str | None = None,
) -> StudentHistory[HistoryRow]:
    """A student's records (newest session first) and statistics over all filtered records,
    as the history page shows them (:class:`HistoryRow`). Two statements.

    Raises NotFound (student), Forbidden (not themself, not their teacher, not an admin),
    Invalid (bad cursor), in that order. A teacher sees only records of classes they teach.
    """
    return _history(actor, student_id, filters, limit, cursor, HistoryRow)


def student_history_text(
    *,
    actor: User,
    student_id: uuid.UUID,
    filters: HistoryFilters = HistoryFilters(),
    limit: int = 1000,
    cursor: str | None = None,
) -> StudentHistory[HistoryText]:
    """:func:`student_history` with its records as the API's body prints them
    (:class:`HistoryText`): the same records, statistics, cursor and errors."""
    return _history(actor, student_id, filters, limit, cursor, HistoryText)


def _history(
    actor: User,
    student_id: uuid.UUID,
    filters: HistoryFilters,
    limit: int,
    cursor: str | None,
    row: type[R],
) -> StudentHistory[R]:
    from_time, to_time = period_times(filters)
    teacher = actor.role == Role.TEACHER
    shape = _Shape(
        teacher=teacher,
        date_from=from_time is not None,
        date_to=to_time is not None,
        subject=filters.subject_id is not None,
        class_=filters.class_id is not None,
        status=filters.status is not None,
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
    }
    found = read_columns(_head_statement(shape), params)
    if not found:
        raise NotFound(STUDENT_NOT_FOUND)
    number, first_name, last_name, total, present, absent, late, *may_read = tuple(found[0])
    permissions.require_student_reader(
        actor, student_id, teaches=bool(may_read[0]) if may_read else None
    )
    after = decode_cursor(cursor) if cursor else None
    if after is not None:
        params["after_time"], params["after_id"] = after
        params["after_dated"] = after[0] is not None
    total, present, absent, late = (int(v or 0) for v in (total, present, absent, late))
    statistics = HistoryStatistics(total, present, absent, late, rate(present + late, total))
    text = row is HistoryText
    found_rows = read_columns(_page_statement(shape, after is not None, text), params)
    # The API's rows are read by position (HistoryText's order): the statement's own rows,
    # a NamedTuple made of each only to be unpacked was a tenth of the request's calls.
    rows: list[R] = (
        cast("list[R]", list(found_rows)) if text else [row._make(values) for values in found_rows]
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = row._make(rows[-1]).cursor()
    return StudentHistory(
        StudentBrief(student_id, number, first_name, last_name), statistics, rows, next_cursor
    )


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
