"""The records a session's ``attendance`` broadcast sends, read back after the commit as
columns: what ``live/broadcast.py`` turns into its payload."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, Table, and_, bindparam, select

from attendance_app.models import (
    AbsenceReason,
    AlertState,
    Attendance,
    AttendanceStatus,
    ClassSession,
    Student,
    User,
)
from attendance_app.models.people import full_name
from attendance_app.services.transaction import execute_core

_ATTENDANCE = cast(Table, Attendance.__table__)
_STUDENTS = cast(Table, Student.__table__)
_SESSIONS = cast(Table, ClassSession.__table__)
_STATES = cast(Table, AlertState.__table__)
_MARKER = cast(Table, User.__table__).alias("marker")


class ChangedRecord(NamedTuple):
    """A changed record with what its broadcast says beside it: its student's number and
    user (a check-in is the student's own mark), the marker's names, the session's start
    (the late minutes) and the student's alert reason in the class (None: not over the line).

    The statement's rows have these columns in this order."""

    id: uuid.UUID
    student_id: uuid.UUID
    student_number: str
    student_user_id: uuid.UUID
    status: AttendanceStatus
    notes: str | None
    absence_reason: AbsenceReason | None
    marked_at: datetime
    updated_at: datetime
    marked_by_id: uuid.UUID | None
    version: int
    late_at: datetime | None
    marker_first_name: str | None
    marker_last_name: str | None
    session_start: datetime | None
    alert: str | None

    @property
    def user_id(self) -> uuid.UUID:
        """The student's user (``check_in.is_checked_in`` compares the marker with it)."""
        return self.student_user_id

    @property
    def marked_by_name(self) -> str | None:
        return full_name(self.marker_first_name, self.marker_last_name) or None

    @property
    def late_minutes(self) -> int | None:
        """As ``Attendance.minutes_late`` (one rule: the same function does the sum)."""
        return Attendance.minutes_late(self, self.session_start)  # type: ignore[arg-type]


def _changed_records_statement(*, one: bool) -> Select[Any]:
    """One statement where a broadcast read three (the session as an entity, the records with
    their Student entities, the alert reasons): those entities were most of the CPU of a
    single tap's or mark's broadcast. Newest ``marked_at`` first, then by id, as
    ``statistics.session_records`` orders them. ``one``: of one record, bound as a plain
    ``record_id`` (an expanding list is rendered into the text on every execution: ~35
    Python calls of every single change's broadcast)."""
    records = (
        _ATTENDANCE.c.id == bindparam("record_id")
        if one
        else _ATTENDANCE.c.id.in_(bindparam("record_ids", expanding=True))
    )
    return (
        select(
            _ATTENDANCE.c.id,
            _STUDENTS.c.id,
            _STUDENTS.c.student_number,
            _STUDENTS.c.user_id,
            _ATTENDANCE.c.status,
            _ATTENDANCE.c.notes,
            _ATTENDANCE.c.absence_reason,
            _ATTENDANCE.c.marked_at,
            _ATTENDANCE.c.updated_at,
            _ATTENDANCE.c.marked_by_id,
            _ATTENDANCE.c.version,
            _ATTENDANCE.c.late_at,
            _MARKER.c.first_name,
            _MARKER.c.last_name,
            _SESSIONS.c.start_time,
            _STATES.c.reason,
        )
        .join(_STUDENTS, _STUDENTS.c.id == _ATTENDANCE.c.student_id)
        .join(_SESSIONS, _SESSIONS.c.id == _ATTENDANCE.c.session_id)
        .outerjoin(_MARKER, _MARKER.c.id == _ATTENDANCE.c.marked_by_id)
        .outerjoin(
            _STATES,
            and_(
                _STATES.c.class_id == _SESSIONS.c.class_id,
                _STATES.c.student_id == _ATTENDANCE.c.student_id,
            ),
        )
        .where(_ATTENDANCE.c.session_id == bindparam("session_id"), records)
        .order_by(_ATTENDANCE.c.marked_at.desc(), _ATTENDANCE.c.id)
    )


_CHANGED_RECORDS = _changed_records_statement(one=False)
_CHANGED_RECORD = _changed_records_statement(one=True)


def changed_records(
    session_id: uuid.UUID, record_ids: Sequence[uuid.UUID]
) -> Sequence[ChangedRecord]:
    """The session's records among ``record_ids`` as they are now, in one query (none for no
    ids). Rows shaped as :class:`ChangedRecord`."""
    if not record_ids:
        return []
    if len(record_ids) == 1:
        rows = execute_core(_CHANGED_RECORD, {"session_id": session_id, "record_id": record_ids[0]})
    else:
        params = {"session_id": session_id, "record_ids": list(record_ids)}
        rows = execute_core(_CHANGED_RECORDS, params)
    return [ChangedRecord._make(row) for row in rows]
