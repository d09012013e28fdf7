"""The writes every marking path shares: the records' insert (rule 2 decided by the database),
the audit rows, the announcement of a change, and a student's first record with its answer."""

from __future__ import annotations

import functools
import typing
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    CursorResult,
    Executable,
    Integer,
    Table,
    bindparam,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    ClassSession,
    Role,
    Student,
    User,
    built,
)
from attendance_app.services import events
from attendance_app.services.dialect import insert
from attendance_app.services.errors import Conflict
from attendance_app.services.marking.rules import (
    ALREADY_MARKED,
    first_late_at,
)
from attendance_app.services.marking.sessions import (
    bump_live_seq,
)
from attendance_app.services.reporting.statistics import RecordRow
from attendance_app.services.transaction import execute_core


@dataclass(frozen=True)
class MarkEntry:
    student_id: uuid.UUID
    status: AttendanceStatus
    notes: str | None = None


@dataclass(frozen=True)
class MarkResult:
    """What a mark or an update wrote: the record as views show it, and its audit row."""

    session: ClassSession
    row: RecordRow
    change_id: uuid.UUID | None = None  # the audit row, which is what Undo undoes


# --- writes ---------------------------------------------------------------------------------


#: The columns a first mark writes: here each bound as a parameter of its own name, in the
#: bulk paths (``first_marks``) the order of their INSERT … SELECTs.
FIRST_MARK_COLUMNS = (
    "id",
    "session_id",
    "student_id",
    "status",
    "notes",
    "marked_at",
    "late_at",
    "marked_by_id",
    "created_at",
    "updated_at",
    "version",
)


def _first_mark_values() -> dict[str, BindParameter[Any]]:
    """A first mark's record, every column bound as a parameter of its own name."""
    attendance = typing.cast(Table, Attendance.__table__)
    return {name: bindparam(name, type_=attendance.c[name].type) for name in FIRST_MARK_COLUMNS}


@functools.cache
def _first_mark_record_statement() -> Executable:
    """SQLite's first mark of one student: the record's INSERT … ON CONFLICT DO NOTHING, whose
    row count says whether it was made (none: the student already had one, rule 2 decided by
    the database). Nothing is returned: the id is the one it was given."""
    return (
        sqlite.insert(typing.cast(Table, Attendance.__table__))
        .values(_first_mark_values())
        .on_conflict_do_nothing(index_elements=["session_id", "student_id"])
    )


@functools.cache
def _first_mark_statement() -> Executable:
    """PostgreSQL's first mark and its audit row in one statement: the record's INSERT … ON
    CONFLICT DO NOTHING as a data-modifying CTE, and the audit row's INSERT … SELECT from
    the row it made: one row inserted when the record was made, none when the student
    already had one (rule 2, decided by the database). SQLite has no such CTE: two
    statements (``_first_mark_record_statement``, ``append_audit``)."""
    attendance = typing.cast(Table, Attendance.__table__)
    changes = typing.cast(Table, AttendanceChange.__table__)
    made = (
        postgresql.insert(attendance)
        .values(_first_mark_values())
        .on_conflict_do_nothing(index_elements=["session_id", "student_id"])
        .returning(attendance.c.id)
        .cte("first_mark")
    )
    audit = {
        "id": bindparam("change_id", type_=changes.c.id.type),
        "attendance_id": made.c.id,
        "session_id": bindparam("session_id", type_=changes.c.session_id.type),
        "student_id": bindparam("student_id", type_=changes.c.student_id.type),
        "actor_id": bindparam("marked_by_id", type_=changes.c.actor_id.type),
        "changed_at": bindparam("marked_at", type_=changes.c.changed_at.type),
        "channel": bindparam("channel", type_=changes.c.channel.type),
        "new_status": bindparam("status", type_=changes.c.new_status.type),
        "new_notes": bindparam("notes", type_=changes.c.new_notes.type),
        "idempotency_key": bindparam("idempotency_key", type_=changes.c.idempotency_key.type),
    }
    return (
        postgresql.insert(changes)
        .from_select(list(audit), select(*audit.values()).select_from(made))
        .add_cte(made)
        # A row when the record was made (the driver's row count of this statement is -1).
        .returning(literal_column("1", Integer()))
    )


def append_audit(
    rows: list[dict[str, Any]],
    actor: User | None,
    channel: Channel,
    now: datetime,
    group_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
) -> list[uuid.UUID]:
    """Append audit rows (batched multi-row INSERTs from one cached statement); their ids."""
    if not rows:
        return []
    for row in rows:
        complete_audit(row, actor, channel, now, group_id, idempotency_key)
    execute_core(_append_audit_statement(db.engine.dialect.name), rows)
    return [row["id"] for row in rows]


def complete_audit(
    row: dict[str, Any],
    actor: User | None,
    channel: Channel,
    now: datetime,
    group_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """An audit row's columns beside its values: its id (unless given), who, when, how, its
    group and key. The one place an audit row gets them, whichever statement inserts it
    (:func:`append_audit`, or a correction's update on PostgreSQL)."""
    row.setdefault("id", uuid.uuid4())
    row.update(
        actor_id=actor.id if actor else None,
        changed_at=now,
        channel=channel,
        group_id=group_id,
        idempotency_key=idempotency_key,
    )
    return row


@functools.cache
def _append_audit_statement(dialect: str) -> Executable:
    """``append_audit``'s statement (one per database, built once)."""
    return insert(AttendanceChange.__table__)


def same_status_audit(record: Attendance, session: ClassSession, **change: Any) -> dict[str, Any]:
    """The audit row of a change that keeps a record's status and notes (a minutes-late
    correction, an excuse): both as they are, the late time and the excuse too unless
    ``change`` says otherwise, and ``change``'s own columns."""
    return {
        "attendance_id": record.id,
        "session_id": session.id,
        "student_id": record.student_id,
        "old_status": record.status,
        "new_status": record.status,
        "old_notes": record.notes,
        "new_notes": record.notes,
        "old_late_at": record.late_at,
        "new_late_at": record.late_at,
        "old_absence_reason": record.absence_reason,
        "new_absence_reason": record.absence_reason,
        **change,
    }


def announce(
    session: ClassSession,
    record_ids: tuple[uuid.UUID, ...],
    actor: User,
    student_ids: tuple[uuid.UUID, ...] = (),
    *,
    alert_neutral: bool = False,
    first_marks: events.FirstMarks | None = None,
    known_change: events.KnownChange | None = None,
) -> None:
    """Record the change for broadcast after commit, numbered in the session's sequence
    (``student_ids``, the records' students when known, spare the alert check a lookup;
    ``alert_neutral``: the change cannot cross the alert line, the check is skipped;
    ``first_marks``: the records themselves, when the writer holds every column;
    ``known_change``: the one record a change of a marked record wrote)."""
    events.record(
        db.session,
        events.AttendanceChanged(
            session.id,
            tuple(record_ids),
            actor.id,
            bump_live_seq(session),
            student_ids=tuple(student_ids),
            alert_neutral=alert_neutral,
            first_marks=first_marks,
            known_change=known_change,
        ),
    )


def write_first_mark(
    session: ClassSession,
    student: Student,
    *,
    status: AttendanceStatus,
    notes: str,
    actor: User,
    channel: Channel,
    now: datetime,
    idempotency_key: str | None = None,
) -> MarkResult:
    """Write a student's first record of the session once the rules before rule 2 have
    passed (a teacher's mark, a student's check-in): the insert, where the database decides
    rule 2 (Conflict when a record exists), its audit row and its event; and the record as
    the edges answer with it (built here, not read back: the insert returned only its id)."""
    record_id = uuid.uuid4()
    record = {
        "id": record_id,
        "session_id": session.id,
        "student_id": student.id,
        "status": status,
        "notes": notes,
        "marked_at": now,
        "late_at": first_late_at(status, now),
        "marked_by_id": actor.id,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    if db.engine.dialect.name == "postgresql":
        change_id = uuid.uuid4()
        made = (
            execute_core(
                _first_mark_statement(),
                {
                    **record,
                    "change_id": change_id,
                    "channel": channel,
                    "idempotency_key": idempotency_key,
                },
            ).first()
            is not None
        )
        if not made:
            raise Conflict(ALREADY_MARKED, field="non_field_errors")
        change_ids = [change_id]
    else:
        inserted = cast(CursorResult[Any], execute_core(_first_mark_record_statement(), record))
        if inserted.rowcount != 1:
            raise Conflict(ALREADY_MARKED, field="non_field_errors")
        change_ids = append_audit(
            [
                {
                    "attendance_id": record_id,
                    "session_id": session.id,
                    "student_id": student.id,
                    "new_status": status,
                    "new_notes": notes,
                }
            ],
            actor,
            channel,
            now,
            idempotency_key=idempotency_key,
        )
    announce(
        session,
        (record_id,),
        actor,
        (student.id,),
        first_marks=_first_mark(record, student, actor, session),
    )
    return MarkResult(
        session,
        RecordRow(built(Attendance, record.items()), student, actor.full_name),
        change_ids[0],
    )


def _first_mark(
    record: dict[str, Any], student: Student, actor: User, session: ClassSession
) -> events.FirstMarks | None:
    """The record just written, as its broadcast needs it: sent without reading it back
    after the commit (a round trip between a mark's ``statistics`` and its ``attendance``
    on PostgreSQL). None for a student's own mark (a check-in, which its broadcast says:
    read back as before)."""
    if actor.role == Role.STUDENT:
        return None
    mark = events.FirstMark(
        record["id"], student.id, student.student_number, record["status"], record["notes"]
    )
    name = actor.full_name or None
    return events.FirstMarks(
        (mark,), record["marked_at"], actor.id, name, session.class_id, session.start_time
    )
