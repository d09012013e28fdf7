"""Session statistics and a session's records (constant query counts, whatever the roster)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    Select,
    String,
    bindparam,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import aliased

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    ClassSession,
    Enrollment,
    Student,
    User,
    full_name,
)
from attendance_app.services.dialect import in_uuids, iso_text, uuid_hex, uuid_list, uuid_text
from attendance_app.services.transaction import execute_core


def rate(attended: int, base: int) -> float:
    """(PRESENT + LATE) / base × 100, two decimals; 0.0 on an empty base."""
    if base <= 0:
        return 0.0
    return round(attended * 100.0 / base, 2)


def rate_text(value: float) -> str:
    """A rate as pages, messages and scripts write it (before its "%"): the contract's two
    decimals, at least one — 75 → "75.0", 69.225 → "69.23". It is the JSON number's own text,
    so a figure reads the same on a page, in the API and after a live update (static/js/app.js
    ``attendanceRate`` is its twin)."""
    return repr(round(float(value), 2))


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

    def as_dict(self) -> dict[str, Any]:
        # Flat numbers: no need for dataclasses.asdict's recursive copy (a tenth of a small
        # session view's own time).
        return {name: getattr(self, name) for name in _SESSION_STATISTICS_FIELDS}


_SESSION_STATISTICS_FIELDS = tuple(f.name for f in fields(SessionStatistics))


def _records_counted(*where: ColumnElement[bool]) -> ColumnElement[int]:
    """COUNT of the session's attendance rows meeting ``where``, as a scalar subquery
    correlated to ``ClassSession``: a range of the index on ``(session_id, status)`` (or of
    the unique one on ``(session_id, student_id)``) counted without reading the table."""
    return (
        select(func.count())
        .select_from(Attendance)
        .where(Attendance.session_id == ClassSession.id, *where)
        .correlate(ClassSession)
        .scalar_subquery()
    )


def status_count(status: AttendanceStatus) -> ColumnElement[int]:
    """COUNT of the joined attendance rows with ``status`` (an aggregate FILTER)."""
    return func.count(Attendance.id).filter(Attendance.status == status)


def session_counts() -> list[ColumnElement[int]]:
    """The five figures :func:`statistics_from_counts` takes, as columns of a statement over
    ``ClassSession`` (one row per session, no join, no grouping): enrolled students, PRESENT,
    ABSENT and LATE records, and records of students not enrolled (any more).

    Each is its own correlated count over an index. They were aggregate FILTERs over the
    session outer-joined to its records, which read every record's row for its id: on
    SQLite, half the time of a 500-student session view's summary (docs/PERFORMANCE.md).
    """
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
    return [
        enrolled,
        _records_counted(Attendance.status == AttendanceStatus.PRESENT),
        _records_counted(Attendance.status == AttendanceStatus.ABSENT),
        _records_counted(Attendance.status == AttendanceStatus.LATE),
        _records_counted(~is_enrolled),
    ]


def statistics_from_counts(counts: Sequence[Any]) -> SessionStatistics:
    """A session's statistics from the five figures of :func:`session_counts`.

    The roster is the class's enrolled students plus anyone who has a record in the session
    (a student unenrolled after being marked still counts for that session), so
    present + absent + late + not_marked == total_enrolled always holds.
    """
    enrolled_n, present, absent, late, outside = (int(v or 0) for v in counts)
    total = enrolled_n + outside
    return SessionStatistics(
        total_enrolled=total,
        present=present,
        absent=absent,
        late=late,
        not_marked=total - present - absent - late,
        attendance_rate=rate(present + late, total),
    )


def _statistics_statement(*, one: bool = False) -> Select[*tuple[Any, ...]]:
    """The aggregate of :func:`statistics_for_sessions`, built once (``session_ids`` is an
    expanding bind parameter): building and compiling it per call cost more than running it.
    ``one``: of one session, bound as a plain ``session_id`` (an expanding list is rendered
    into the text on every execution: ~35 Python calls of every single write's live
    statistics)."""
    return select(ClassSession.id, *session_counts()).where(
        ClassSession.id == bindparam("session_id")
        if one
        else ClassSession.id.in_(bindparam("session_ids", expanding=True))
    )


_STATISTICS = _statistics_statement()
_STATISTICS_OF_ONE = _statistics_statement(one=True)


def session_statistics(session: ClassSession) -> SessionStatistics:
    """The statistics of one session (one aggregate query)."""
    return statistics_for_sessions([session.id])[session.id]


def statistics_for_sessions(
    session_ids: list[uuid.UUID],
) -> dict[uuid.UUID, SessionStatistics]:
    """Statistics of many sessions in one aggregate query, whatever the roster sizes
    (:func:`statistics_from_counts`). On the transaction's connection (plain columns: the
    Session's ORM execution of it cost more than the query, and the live statistics are read
    on every mark just before its commit)."""
    if not session_ids:
        return {}
    if len(session_ids) == 1:
        rows = execute_core(_STATISTICS_OF_ONE, {"session_id": session_ids[0]})
    else:
        rows = execute_core(_STATISTICS, {"session_ids": session_ids})
    return {session_id: statistics_from_counts(counts) for session_id, *counts in rows}


@dataclass(frozen=True)
class RecordRow:
    """A record with what every edge shows beside it: the answer of a write (mark, update,
    bulk, excuse, tap) and of a broadcast's reload.

    It holds the entities themselves, not columns, because the unit of work has just written
    them: the edges read ``updated_at``, ``version`` or ``minutes_late`` from the same objects,
    without a query after the commit. Not :class:`RecordView` (a read of many records, already
    as text) nor ``marking.roster.RosterRow`` (every roster student, marked or not).
    """

    record: Attendance
    student: Student
    marked_by_name: str | None


class RecordView(NamedTuple):
    """A record as the session view shows it: plain columns, the ids, time, status and reason
    already as the text the body prints (no ORM entities, no ``uuid.UUID``, enum or datetime
    per value: building 500 Attendance + Student + User objects cost ~70 % of a 500-student
    view, and the per-value conversions half of what was left).

    :func:`session_record_views` returns the statement's rows themselves, which have these
    columns, in this order and under these names: read them by position (unpacking), as the
    body does. Building a ``RecordView`` of each row and reading it by name was half of the
    500-student body's time.

    Not :class:`RecordRow` (a write's live entities) nor ``marking.roster.RosterRow``: the view
    lists only the session's records, newest first, for JSON; the roster lists every student,
    by name, with the Python values its tiles compute with (version, marker id, late_at).
    """

    id: str
    status: str
    marked_at: str  # as models.base.iso writes it
    notes: str
    student_id: str
    student_number: str
    first_name: str
    last_name: str
    email: str
    marker_first_name: str | None  # models.full_name of the two: the body's "marked_by"
    marker_last_name: str | None
    absence_reason: str | None  # None: not excused


def read_columns(stmt: Select[*tuple[Any, ...]], params: dict[str, Any]) -> Sequence[Row[Any]]:
    """The rows of a columns-only statement, from the session's connection: the ORM's row
    machinery, which such a statement does not need, was ~10 % of a 500-row read. Pending
    changes are flushed first, as ``Session.execute`` would (a no-op in a read)."""
    db.session.flush()
    return db.session.connection().execute(stmt, params).all()


_S = TypeVar("_S", bound="Select[*tuple[Any, ...]]")


def _filtered(
    stmt: _S,
    *,
    status: AttendanceStatus | BindParameter[AttendanceStatus] | None,
    marked_after: datetime | BindParameter[datetime] | None,
    include_absent: bool,
    record_ids: list[uuid.UUID] | BindParameter[Any] | None,
    student_ids: list[uuid.UUID] | BindParameter[Any] | None,
) -> _S:
    """The filters of a session's records, as values or as bind parameters (the session
    view's statements, built once)."""
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
    return stmt


_student_user = aliased(User, name="student_user")
_marker = aliased(User, name="marker")


@cache
def _record_views_statement(
    by_status: bool, by_marked_after: bool, include_absent: bool
) -> Select[*tuple[Any, ...]]:
    """The statement of :func:`session_record_views` for one combination of filters, built
    once with bind parameters (``session_id``, ``status``, ``marked_after``): building and
    compiling a fresh select per request was ~45 % of a small session view."""
    stmt: Select[*tuple[Any, ...]] = (
        select(
            *(
                column.label(name)
                for name, column in zip(
                    RecordView._fields,
                    (
                        uuid_text(Attendance.id),
                        type_coerce(Attendance.status, String),
                        iso_text(Attendance.marked_at),
                        Attendance.notes,
                        uuid_text(Student.id),
                        Student.student_number,
                        _student_user.first_name,
                        _student_user.last_name,
                        _student_user.email,
                        _marker.first_name,
                        _marker.last_name,
                        type_coerce(Attendance.absence_reason, String),
                    ),
                    strict=True,
                )
            )
        )
        .join(Student, Student.id == Attendance.student_id)
        .join(_student_user, _student_user.id == Student.user_id)
        .outerjoin(_marker, _marker.id == Attendance.marked_by_id)
        .where(Attendance.session_id == bindparam("session_id"))
        .order_by(Attendance.marked_at.desc(), Attendance.id)
    )
    return _filtered(
        stmt,
        status=bindparam("status") if by_status else None,
        marked_after=bindparam("marked_after") if by_marked_after else None,
        include_absent=include_absent,
        record_ids=None,
        student_ids=None,
    )


def session_record_views(
    session_id: uuid.UUID,
    *,
    status: AttendanceStatus | None = None,
    marked_after: datetime | None = None,
    include_absent: bool = True,
) -> Sequence[RecordView]:
    """:func:`session_records` as rows of columns (same order, same filters), one query: the
    rows as read, shaped as :class:`RecordView` describes."""
    stmt = _record_views_statement(status is not None, marked_after is not None, include_absent)
    params = {"session_id": session_id, "status": status, "marked_after": marked_after}
    return cast("Sequence[RecordView]", read_columns(stmt, params))


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
    stmt = _records_statement(
        status is not None,
        marked_after is not None,
        include_absent,
        record_ids is not None,
        student_ids is not None,
    )
    params = {
        "session_id": session.id,
        "status": status,
        "marked_after": marked_after,
        "record_ids": record_ids or [],
        "student_ids": student_ids or [],
    }
    return [
        RecordRow(rec, student, full_name(first, last) or None)
        for rec, student, first, last in db.session.execute(stmt, params).unique()
    ]


@cache
def _records_statement(
    by_status: bool,
    by_marked_after: bool,
    include_absent: bool,
    by_records: bool,
    by_students: bool,
) -> Select[*tuple[Any, ...]]:
    """The statement of :func:`session_records` for one combination of filters, built once
    with bind parameters: built per call, it was most of the CPU of a mark's ``attendance``
    broadcast (which runs before the mark's answer is sent)."""
    stmt: Select[*tuple[Any, ...]] = (
        select(Attendance, Student, _marker.first_name, _marker.last_name)
        .join(Student, Student.id == Attendance.student_id)
        .outerjoin(_marker, _marker.id == Attendance.marked_by_id)
        .where(Attendance.session_id == bindparam("session_id"))
        .order_by(Attendance.marked_at.desc(), Attendance.id)
    )
    return _filtered(
        stmt,
        status=bindparam("status") if by_status else None,
        marked_after=bindparam("marked_after") if by_marked_after else None,
        include_absent=include_absent,
        record_ids=bindparam("record_ids", expanding=True) if by_records else None,
        student_ids=bindparam("student_ids", expanding=True) if by_students else None,
    )


_STUDENT_NUMBERS = select(uuid_hex(Student.id), Student.student_number).where(
    in_uuids(Student.id, uuid_list("student_ids"))
)


def student_numbers(student_ids: Sequence[uuid.UUID]) -> dict[str, str]:
    """{``UUID.hex`` of a student: their student number} (one query, no UUID made per row)."""
    rows = read_columns(_STUDENT_NUMBERS, {"student_ids": list(student_ids)})
    return dict(cast("Sequence[tuple[str, str]]", rows))
