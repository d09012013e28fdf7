"""A change of an existing record (a PATCH, a note, minutes late, a tap on a marked student):
found by its id, locked after its session, checked in the contract's order, then written."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Executable,
    Table,
    Update,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from attendance_app.extensions import db
from attendance_app.models import (
    AlertState,
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    ClassSession,
    Student,
    User,
    built,
    utcnow,
)
from attendance_app.services import events, permissions
from attendance_app.services.dialect import returned, uuid_digits
from attendance_app.services.errors import Invalid, NotFound
from attendance_app.services.marking.records import (
    MarkResult,
    announce,
    append_audit,
    complete_audit,
)
from attendance_app.services.marking.rules import (
    EXCUSABLE,
    NOT_EXCUSED,
    NOTE_NEEDS_A_MARK,
    NOTHING_TO_UPDATE,
    RECORD_NOT_FOUND,
    clean_notes,
    require_unlocked,
)
from attendance_app.services.marking.sessions import (
    SESSION_COLUMNS,
    SESSION_TABLES,
    bumping_read,
    load_session,
    session_from_bumped_row,
)
from attendance_app.services.notifying import alerts
from attendance_app.services.reporting.changed_records import ChangedRecord
from attendance_app.services.reporting.statistics import RecordRow
from attendance_app.services.transaction import execute_core, unit_of_work

_ATTENDANCE = cast(Table, Attendance.__table__)
_STUDENTS = cast(Table, Student.__table__)
_CLASS_SESSIONS = cast(Table, ClassSession.__table__)
_STATES = cast(Table, AlertState.__table__)


#: The columns an update may change, read back from its RETURNING (``late_minutes`` too).
RETURNED = (
    "status",
    "notes",
    "late_at",
    "marked_by_id",
    "updated_at",
    "version",
    *NOT_EXCUSED,
)


#: A record about to change, as columns (every column of the record, then its student's
#: number and user), row-locked: ``record_for_change`` and a tap (``taps.set_status``) read it.
RECORD_COLUMNS = (*_ATTENDANCE.c, _STUDENTS.c.student_number, _STUDENTS.c.user_id)
_RECORD_KEYS = tuple(_ATTENDANCE.c.keys())
_NUMBER_AT = len(_RECORD_KEYS)
_ALERT_AT = len(RECORD_COLUMNS)


def alert_with_the_record(student_id: ColumnElement[Any]) -> returned:
    """For a ``bumping_read``'s RETURNING after ``RECORD_COLUMNS``: the student's alert reason
    in the class of the session it bumps, "" when they are under the line. Read where the
    read is the state the change commits with (SQLite: ``one_read_for_a_change``), for the
    broadcast of a change that runs no alert check (``alert_read``)."""
    return returned(
        func.coalesce(
            select(_STATES.c.reason)
            .where(
                _STATES.c.class_id == _CLASS_SESSIONS.c.class_id,
                _STATES.c.student_id == student_id,
            )
            .scalar_subquery(),
            "",
        )
    )


def alert_read(row: Sequence[Any]) -> str | None:
    """The alert reason a row of ``RECORD_COLUMNS`` carries after them
    (``alert_with_the_record``), or None when it carries none (PostgreSQL's record read)."""
    return row[_ALERT_AT] if len(row) > _ALERT_AT else None


_RECORD_FOR_CHANGE = (
    select(*RECORD_COLUMNS)
    .join(_STUDENTS, _STUDENTS.c.id == _ATTENDANCE.c.student_id)
    .where(_ATTENDANCE.c.id == bindparam("attendance_id"))
    .with_for_update(of=_ATTENDANCE)
)


def record_from_row(row: Sequence[Any]) -> tuple[Attendance, Student]:
    """The record and its student from a row of ``RECORD_COLUMNS``, built, not loaded: a
    change writes the record with a Core UPDATE and answers with its student's number only
    (a correction's answers show the number, not the name; the roster reads its own row, and
    the rare alert that names the student looks them up). Loading the two entities through
    the ORM was twice the cost of the statement's columns."""
    record = built(Attendance, zip(_RECORD_KEYS, row, strict=False))
    student = (
        ("id", record.student_id),
        ("student_number", row[_NUMBER_AT]),
        ("user_id", row[_NUMBER_AT + 1]),
    )
    return record, built(Student, student)


#: The session and the record in one statement, where no row lock is needed (SQLite).
SESSION_AND_RECORD = (
    select(*SESSION_COLUMNS, *RECORD_COLUMNS)
    .select_from(SESSION_TABLES)
    .join(_ATTENDANCE, _ATTENDANCE.c.session_id == _CLASS_SESSIONS.c.id)
    .join(_STUDENTS, _STUDENTS.c.id == _ATTENDANCE.c.student_id)
    .where(_ATTENDANCE.c.id == bindparam("attendance_id"))
)


#: A change's read: the session's ``live_seq`` bump (``sessions.bumping_read``) of the session
#: of the record ``attendance_id``, returning the session; on SQLite the record's
#: ``RECORD_COLUMNS`` too (scalar subqueries: SQLite's RETURNING names no other table), where
#: PostgreSQL reads the record under the lock this took (``_RECORD_FOR_CHANGE``).
_THE_RECORD = _ATTENDANCE.c.id == uuid_digits("attendance_hex")
_OF_THE_RECORD = (
    _CLASS_SESSIONS.c.id == select(_ATTENDANCE.c.session_id).where(_THE_RECORD).scalar_subquery()
)
_BUMPING_READ = bumping_read(_OF_THE_RECORD)


def record_read_with_the_bump(the_record: ColumnElement[bool]) -> list[ColumnElement[Any]]:
    """The record ``the_record`` selects, its student's number and user id, as columns of the
    session's bumping read (``RECORD_COLUMNS``' order, then the two): what a change's
    broadcast record is built from. Shared by a correction and a tap."""
    return [
        *(returned(select(column).where(the_record).scalar_subquery()) for column in _ATTENDANCE.c),
        *(
            returned(
                select(column)
                .join_from(_ATTENDANCE, _STUDENTS, _STUDENTS.c.id == _ATTENDANCE.c.student_id)
                .where(the_record)
                .scalar_subquery()
            )
            for column in (_STUDENTS.c.student_number, _STUDENTS.c.user_id)
        ),
    ]


_BUMPING_READ_WITH_RECORD = bumping_read(
    _OF_THE_RECORD,
    *record_read_with_the_bump(_THE_RECORD),
    alert_with_the_record(select(_ATTENDANCE.c.student_id).where(_THE_RECORD).scalar_subquery()),
)


def one_read_for_a_change() -> bool:
    """Whether a change may read its session and record in one statement: on SQLite, whose
    write transaction (BEGIN IMMEDIATE) already keeps every other writer out. PostgreSQL locks
    the session's row first and then reads the record under it, in two statements: a record
    read with the lock would be the one the statement saw before it waited for the lock."""
    return db.engine.dialect.name == "sqlite"


def record_for_change(
    actor: User, attendance_id: uuid.UUID
) -> tuple[Attendance, Student, ClassSession, str | None]:
    """A record about to change, with its student and session, locked in the order every
    writer takes them (the session row, then the record row), checked in the contract's
    order: record exists (NotFound) → permission (Forbidden) → rule 3, not locked (Invalid).

    The session's read is its ``live_seq`` bump (``sessions.bumping_read``): every caller
    either announces the change or fails, which rolls the bump back. The last of the four is
    the student's alert reason as read with the record (``alert_read``)."""
    params = {"attendance_id": attendance_id, "attendance_hex": attendance_id.hex}
    columns: Sequence[Any] | None
    if one_read_for_a_change():
        found = execute_core(_BUMPING_READ_WITH_RECORD, params).first()
        if found is None:
            raise NotFound(RECORD_NOT_FOUND)
        session, columns = session_from_bumped_row(found)
    else:
        bumped = execute_core(_BUMPING_READ, params).first()
        if bumped is None:
            raise NotFound(RECORD_NOT_FOUND)
        locked = session_from_bumped_row(bumped)[0]
        # Read under the session's lock: a deletion or an undo (which take it) may have
        # removed the record while this waited for it.
        columns = execute_core(_RECORD_FOR_CHANGE, params).first()
        if columns is None:
            raise NotFound(RECORD_NOT_FOUND)
        session = locked
    record, student = record_from_row(columns)
    permissions.require_session_manager(actor, session)
    require_unlocked(session)
    return record, student, session, alert_read(columns)


@functools.cache
def _update_statement(keys: tuple[str, ...]) -> Executable:
    """An update of a record's ``keys`` (each bound as ``new_<key>``), its version bumped, the
    changed columns returned: one statement per set of keys, built once."""
    # On the table, not the mapped class: a Core UPDATE skips the ORM's bulk-update machinery.
    table = cast(Table, Attendance.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("attendance_id"))
        .values({**{key: bindparam(f"new_{key}") for key in keys}, "version": table.c.version + 1})
        .returning(*(table.c[key] for key in RETURNED))
    )


#: The columns of a change's audit row (``records.append_audit``'s, ``reason`` left NULL).
_AUDIT_COLUMNS = (
    "id",
    "attendance_id",
    "session_id",
    "student_id",
    "actor_id",
    "changed_at",
    "channel",
    "group_id",
    "old_status",
    "new_status",
    "old_notes",
    "new_notes",
    "old_absence_reason",
    "new_absence_reason",
    "old_late_at",
    "new_late_at",
    "idempotency_key",
)


@functools.cache
def _update_and_audit_statement(keys: tuple[str, ...]) -> Executable:
    """PostgreSQL: ``_update_statement(keys)`` that also appends the change's audit row (each
    column bound as ``audit_<column>``) as a data-modifying CTE: one round trip where the
    update and ``append_audit`` were two. The record is row-locked since it was read, so the
    update changes it, and both rows commit or roll back together."""
    changes = cast(Table, AttendanceChange.__table__)
    audit = (
        postgresql.insert(changes)
        .values(
            {
                name: bindparam(f"audit_{name}", type_=changes.c[name].type)
                for name in _AUDIT_COLUMNS
            }
        )
        .returning(changes.c.id)
        .cte("audit")
    )
    return cast(Update, _update_statement(keys)).add_cte(audit)


@unit_of_work
def update_attendance(
    *,
    actor: User,
    attendance_id: uuid.UUID,
    status: AttendanceStatus | None = None,
    notes: str | None = None,
    channel: Channel,
    at: datetime | None = None,
    idempotency_key: str | None = None,
) -> MarkResult:
    """Change a record's status and/or notes; the updater becomes ``marked_by``.

    Order: record exists (NotFound) → permission (Forbidden) → rule 3 (Invalid).
    ``marked_at`` never changes; ``updated_at`` and ``version`` do.
    """
    if status is None and notes is None:
        raise Invalid(NOTHING_TO_UPDATE, field="non_field_errors")
    notes = clean_notes(notes)
    record, student, session, alert = record_for_change(actor, attendance_id)
    return change_record(
        record,
        student,
        session,
        actor=actor,
        status=status,
        notes=notes,
        channel=channel,
        at=at,
        idempotency_key=idempotency_key,
        alert=alert,
    )


def change_record(
    record: Attendance,
    student: Student,
    session: ClassSession,
    *,
    actor: User,
    status: AttendanceStatus | None,
    notes: str | None,
    channel: Channel,
    at: datetime | None = None,
    idempotency_key: str | None = None,
    alert: str | None = None,
) -> MarkResult:
    """The write of ``update_attendance`` once its checks have passed (``record_for_change``,
    or a tap's own under the session's lock): the update, its audit row and its event, which
    carries the record as written (``events.KnownChange``: its broadcast reads nothing back
    when the student's alert flag is known: ``alert``, their reason as read with the record
    in this transaction by one writer of the database, "" for none, None when not read)."""
    attendance_id = record.id
    now = at or utcnow()
    values: dict[str, Any] = {"marked_by_id": actor.id, "updated_at": now}
    if status is not None:
        values["status"] = status
        if status != AttendanceStatus.LATE:
            values["late_at"] = None
        elif record.status != AttendanceStatus.LATE:
            values["late_at"] = now
    if notes is not None:
        values["notes"] = notes
    old_reason = record.absence_reason
    if status is not None and status not in EXCUSABLE and old_reason is not None:
        values.update(NOT_EXCUSED)
    # The record row is locked since it was read, so these are the values being replaced;
    # taken before the UPDATE, whose session synchronisation rewrites ``record`` in place.
    old_status, old_notes, old_late_at = record.status, record.notes, record.late_at
    audit = {
        "attendance_id": record.id,
        "session_id": session.id,
        "student_id": record.student_id,
        "old_status": old_status,
        "new_status": status or old_status,
        "old_notes": old_notes,
        "new_notes": notes if notes is not None else old_notes,
        "old_absence_reason": old_reason,
        "new_absence_reason": values.get("absence_reason", old_reason),
        # Kept so that an Undo gives back the minutes late, not a late time of its own.
        "old_late_at": old_late_at,
        "new_late_at": values.get("late_at", old_late_at),
    }
    params = {"attendance_id": attendance_id, **{f"new_{k}": v for k, v in values.items()}}
    # RETURNING gives the new values to the loaded record (no reload afterwards).
    if db.engine.dialect.name == "sqlite":  # no data-modifying CTEs there: two statements
        written = execute_core(_update_statement(tuple(values)), params).one()
        change_ids = append_audit([audit], actor, channel, now, idempotency_key=idempotency_key)
    else:
        change_ids = [
            complete_audit(audit, actor, channel, now, idempotency_key=idempotency_key)["id"]
        ]
        params.update({f"audit_{k}": v for k, v in audit.items()})
        written = execute_core(_update_and_audit_statement(tuple(values)), params).one()
    record.__dict__.update(zip(RETURNED, written, strict=True))  # a built record
    # Read from the built entities' dicts (``models.built``): an attribute each through the
    # ORM's descriptor was a Python call each, paid by every change, listened to or not.
    now_is, of_student = record.__dict__, student.__dict__
    known = ChangedRecord(
        attendance_id,
        now_is["student_id"],
        of_student["student_number"],
        of_student["user_id"],
        now_is["status"],
        now_is["notes"],
        now_is["absence_reason"],
        now_is["marked_at"],
        now_is["updated_at"],
        now_is["marked_by_id"],
        now_is["version"],
        now_is["late_at"],
        actor.first_name,
        actor.last_name,
        session.start_time,
        None,
    )
    announce(
        session,
        (record.id,),
        actor,
        (record.student_id,),
        alert_neutral=alerts.cannot_cross(old_status, status),
        known_change=events.KnownChange(known, session.class_id, alert),
    )
    return MarkResult(session, RecordRow(record, student, actor.full_name), change_ids[0])


def unlocked_session(actor: User, session_id: uuid.UUID) -> ClassSession:
    """A session whose records ``actor`` may change now (the roster's checks before it finds
    a student's record): session exists (NotFound) → permission (Forbidden) → rule 3."""
    session = load_session(session_id)
    permissions.require_session_manager(actor, session)
    require_unlocked(session)
    return session


def record_id_of(session_id: uuid.UUID, student_id: uuid.UUID) -> uuid.UUID | None:
    """The id of a student's record in a session, or None (not marked)."""
    return db.session.scalar(
        select(Attendance.id).where(
            Attendance.session_id == session_id, Attendance.student_id == student_id
        )
    )


@unit_of_work
def set_note(
    *,
    actor: User,
    session_id: uuid.UUID,
    student_id: uuid.UUID,
    notes: str,
    channel: Channel,
) -> MarkResult:
    """Write the note on a student's record in a session: a note needs a mark (it belongs to
    the record), and the notes rules (``clean_notes``) are the same as the API's.

    Order: session exists (NotFound) → permission (Forbidden) → rule 3 (Invalid) → the note's
    shape (Invalid) → a mark exists (Invalid).
    """
    unlocked_session(actor, session_id)
    notes = clean_notes(notes) or ""
    record_id = record_id_of(session_id, student_id)
    if record_id is None:
        raise Invalid(NOTE_NEEDS_A_MARK, field="notes")
    return update_attendance(actor=actor, attendance_id=record_id, notes=notes, channel=channel)
