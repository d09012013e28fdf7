"""Marking attendance: the brief's four rules, their messages and order, and every write."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast, overload

from sqlalchemy import (
    ColumnElement,
    Executable,
    Table,
    bindparam,
    case,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.orm.attributes import set_committed_value

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    ClassSession,
    Enrollment,
    SessionStatus,
    Student,
    User,
    utcnow,
)
from attendance_app.services import events, permissions, transaction
from attendance_app.services.dialect import insert
from attendance_app.services.errors import Conflict, Invalid, NotFound
from attendance_app.services.fields import NOTES_MAX
from attendance_app.services.marking.sessions import (
    FOR_A_CHANGE,
    SESSION_NOT_FOUND,
    bump_live_seq,
    load_session,
    lock_session_of_record,
)
from attendance_app.services.notifying import alerts
from attendance_app.services.reporting.statistics import RecordRow
from attendance_app.services.school.structure import STUDENT_NOT_FOUND
from attendance_app.services.transaction import execute_core, unit_of_work
from attendance_app.shapes import NO_NUL, too_long

# The contract's messages, beside the rules that raise them.
NOT_STARTED = "Cannot mark attendance - session has not started"
ALREADY_MARKED = "Attendance already marked for this student in this session"
# Rule 2 is the database's: two marks racing past the check still answer with its message.
transaction.unique_conflict(
    "unique_attendance_per_session",
    "attendance.session_id, attendance.student_id",
    message=ALREADY_MARKED,
)
LOCKED = "Cannot modify attendance - session ended and is locked"
DUPLICATE_IN_REQUEST = "Duplicate student in request"
RECORD_NOT_FOUND = "Attendance record not found."
NOTHING_TO_UPDATE = "Provide status or notes to update."
NOTE_NEEDS_A_MARK = "Mark the student before adding a note."
NOT_LATE = "Only a late arrival has minutes late: mark the student Late first."

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

#: The statuses an excuse may annotate (services/marking/excuses.py); a change of a record to
#: any other status ends its excuse: the student was there after all.
EXCUSABLE = (AttendanceStatus.ABSENT, AttendanceStatus.LATE)
#: A record's excuse columns when it is not excused.
NOT_EXCUSED = {
    "absence_reason": None,
    "excuse_note": None,
    "excused_at": None,
    "excused_by_id": None,
}

#: The order a tap moves through; an unmarked student becomes PRESENT.
CYCLE = (AttendanceStatus.PRESENT, AttendanceStatus.ABSENT, AttendanceStatus.LATE)


def session_ended_message(end_time: datetime) -> str:
    """Rule 1 for an ENDED session: "… session ended at 14:30 on Jan 10, 2026" (UTC)."""
    if end_time.tzinfo is not None:
        end_time = end_time.astimezone(UTC)
    return (
        f"Cannot mark attendance - session ended at {end_time:%H:%M} "
        f"on {_MONTHS[end_time.month - 1]} {end_time.day}, {end_time.year}"
    )


def not_enrolled_message(student: Student, session: ClassSession) -> str:
    return f"Student '{student.student_number}' is not enrolled in '{session.school_class.name}'"


def next_status(current: AttendanceStatus | None) -> AttendanceStatus:
    """PRESENT → ABSENT → LATE → PRESENT; not marked → PRESENT."""
    if current is None:
        return CYCLE[0]
    return CYCLE[(CYCLE.index(current) + 1) % len(CYCLE)]


@overload
def first_late_at(status: AttendanceStatus | str, now: datetime) -> datetime | None: ...
@overload
def first_late_at(status: ColumnElement[Any], now: datetime) -> ColumnElement[Any]: ...
def first_late_at(
    status: AttendanceStatus | str | ColumnElement[Any], now: datetime
) -> datetime | ColumnElement[Any] | None:
    """A first mark's ``late_at``: a LATE first mark is late from the marking time ``now``,
    any other status has none. ``status`` is a value (a row's parameters) or a SQL column
    (a bulk INSERT … SELECT), which gets the same rule as a CASE."""
    if isinstance(status, ColumnElement):
        late_at = literal(now, Attendance.__table__.c.late_at.type)
        return case((status == AttendanceStatus.LATE.value, late_at), else_=null())
    # A value may arrive as the enum's text ("LATE"), which compares equal to the member.
    return now if status == AttendanceStatus.LATE else None


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


# --- the rules, each once ------------------------------------------------------------------


def note_problem(notes: str) -> str | None:
    """Why ``notes`` cannot be stored, or None: a NUL (PostgreSQL cannot store one in text,
    and silently dropping it would change what was written), then the 2000 limit (refused,
    never cut: a cut note could lose its point)."""
    if "\x00" in notes:
        return NO_NUL
    if len(notes) > NOTES_MAX:
        return too_long(NOTES_MAX)
    return None


def clean_notes(notes: str | None) -> str | None:
    """The note as stored (exactly as given: a leading tab is the export's business), every
    edge answered the same. Raises Invalid on ``notes``."""
    if notes is None:
        return None
    if message := note_problem(notes):
        raise Invalid(message, field="notes")
    return notes


def require_markable(session: ClassSession) -> None:
    """Rule 1: only an ACTIVE session takes new marks."""
    if session.status == SessionStatus.ENDED:
        assert session.end_time is not None  # ending a session stamps it (sessions.py)
        raise Invalid(session_ended_message(session.end_time), field="session")
    if session.status != SessionStatus.ACTIVE:
        raise Invalid(NOT_STARTED, field="session")


def require_unlocked(session: ClassSession) -> None:
    """Rule 3: an ENDED session's records never change."""
    if session.is_locked:
        raise Invalid(LOCKED, field="session")


def load_students(student_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Student]:
    rows = db.session.scalars(select(Student).where(Student.id.in_(student_ids))).unique()
    return {s.id: s for s in rows}


def enrolled_ids(session: ClassSession, student_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    return set(
        db.session.scalars(
            select(Enrollment.student_id).where(
                Enrollment.class_id == session.class_id, Enrollment.student_id.in_(student_ids)
            )
        )
    )


# The statements of a mark and a correction, built (and their cache keys made) once: building
# them per call was a visible share of a single write's CPU.
_ATTENDANCE = cast(Table, Attendance.__table__)
_STUDENTS = cast(Table, Student.__table__)
_USERS = cast(Table, User.__table__)
#: A student to mark, as columns: what the rules and a mark's answer read (the number, the
#: name). The student's id is NULL when there is no such student.
_STUDENT_COLUMNS = (
    _STUDENTS.c.id,
    _STUDENTS.c.student_number,
    _STUDENTS.c.user_id,
    _USERS.c.first_name,
    _USERS.c.last_name,
)
_MARK_TARGETS = (
    select(
        ClassSession,
        *_STUDENT_COLUMNS,
        select(Enrollment.student_id)
        .where(
            Enrollment.class_id == ClassSession.class_id,
            Enrollment.student_id == _STUDENTS.c.id,
        )
        .exists(),
    )
    .select_from(ClassSession)
    # Outer: a missing student must still find the session (rule order: session first).
    .outerjoin(_STUDENTS, _STUDENTS.c.id == bindparam("student_id"))
    .outerjoin(_USERS, _USERS.c.id == _STUDENTS.c.user_id)
    .options(*FOR_A_CHANGE)
    .where(ClassSession.id == bindparam("session_id"))
    .with_for_update(of=ClassSession)
    .execution_options(populate_existing=True)
)


def student_from_columns(
    student_id: uuid.UUID | None,
    student_number: str,
    user_id: uuid.UUID,
    first_name: str,
    last_name: str,
) -> Student | None:
    """The student of a row of ``_STUDENT_COLUMNS`` (None: no such student), built, not
    loaded: a mark only reads them (the rules their number, the answer their name), and
    loading the student and their user through the ORM was a visible share of a mark."""
    if student_id is None:
        return None
    student = Student(id=student_id, student_number=student_number, user_id=user_id)
    user = User(id=user_id, first_name=first_name, last_name=last_name)
    set_committed_value(student, "user", user)
    return student


def load_mark_targets(
    session_id: uuid.UUID, student_id: uuid.UUID
) -> tuple[ClassSession, Student | None, bool]:
    """A single mark's session (row-locked, as ``load_session(lock=True)``), its student (None
    if there is none) and whether they are enrolled in the session's class: one round trip
    for what the rules check. Raises NotFound (the session)."""
    row = db.session.execute(
        _MARK_TARGETS, {"session_id": session_id, "student_id": student_id}
    ).first()
    if row is None:
        raise NotFound(SESSION_NOT_FOUND)
    session, *student, enrolled = row
    return session, student_from_columns(*student), bool(enrolled)


def open_session_for_marking(actor: User, session_id: uuid.UUID) -> ClassSession:
    """Session exists (404) → actor may mark it (403) → rule 1 (400)."""
    session = load_session(session_id, lock=True)
    permissions.require_session_manager(actor, session)
    require_markable(session)
    return session


# --- writes ---------------------------------------------------------------------------------


def insert_records(
    session: ClassSession, entries: Sequence[MarkEntry], actor: User, now: datetime
) -> dict[uuid.UUID, uuid.UUID]:
    """One INSERT … ON CONFLICT DO NOTHING for all entries: {student_id: new record id}.

    A student missing from the result already had a record: the database, not a prior
    SELECT, decides, so two concurrent marks can never both succeed.
    """
    rows = [
        {
            "id": uuid.uuid4(),
            "session_id": session.id,
            "student_id": e.student_id,
            "status": e.status,
            "notes": e.notes or "",
            "marked_at": now,
            "late_at": first_late_at(e.status, now),
            "marked_by_id": actor.id,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for e in entries
    ]
    # Parameters as a list (executemany): SQLAlchemy's "insertmanyvalues" sends them as
    # multi-row INSERTs of up to 1000 rows from one cached statement, where .values(rows)
    # would compile a new statement per call (2 s of CPU for 500 rows).
    # On the Table, not the mapped class: the ORM's bulk insert would split the batch
    # wherever a row's None columns differ (a LATE row among PRESENT ones).
    result = execute_core(_insert_records_statement(db.engine.dialect.name), rows)
    return {student_id: record_id for record_id, student_id in result}


@functools.cache
def _insert_records_statement(dialect: str) -> Executable:
    """``insert_records``' statement (one per database, built once)."""
    table = Attendance.__table__
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["session_id", "student_id"])
        .returning(table.c.id, table.c.student_id)
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
        row.setdefault("id", uuid.uuid4())
        row.update(
            actor_id=actor.id if actor else None,
            changed_at=now,
            channel=channel,
            group_id=group_id,
            idempotency_key=idempotency_key,
        )
    execute_core(_append_audit_statement(db.engine.dialect.name), rows)
    return [row["id"] for row in rows]


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
) -> None:
    """Record the change for broadcast after commit, numbered in the session's sequence
    (``student_ids``, the records' students when known, spare the alert check a lookup;
    ``alert_neutral``: the change cannot cross the alert line, the check is skipped)."""
    events.record(
        db.session,
        events.AttendanceChanged(
            session.id,
            tuple(record_ids),
            actor.id,
            bump_live_seq(session),
            student_ids=tuple(student_ids),
            alert_neutral=alert_neutral,
        ),
    )


@unit_of_work
def mark_attendance(
    *,
    actor: User,
    session_id: uuid.UUID,
    student_id: uuid.UUID,
    status: AttendanceStatus,
    notes: str | None = None,
    channel: Channel,
    at: datetime | None = None,
    idempotency_key: str | None = None,
) -> MarkResult:
    """Create the first record of a student in a session.

    Order: session exists (NotFound) → permission (Forbidden) → rule 1 (Invalid) → student
    exists (NotFound) → rule 4 (Invalid) → rule 2 (Conflict).
    """
    notes = clean_notes(notes)
    session, student, enrolled = load_mark_targets(session_id, student_id)
    permissions.require_session_manager(actor, session)
    require_markable(session)
    return write_first_mark(
        session,
        require_enrolled(session, student, enrolled),
        status=status,
        notes=notes or "",
        actor=actor,
        channel=channel,
        now=at or utcnow(),
        idempotency_key=idempotency_key,
    )


def require_enrolled(session: ClassSession, student: Student | None, enrolled: bool) -> Student:
    """Student exists (NotFound) → rule 4, enrolled in the session's class (Invalid); the
    student."""
    if student is None:
        raise NotFound(STUDENT_NOT_FOUND)
    if not enrolled:
        raise Invalid(not_enrolled_message(student, session), field="student")
    return student


_STUDENT_TO_MARK = select(
    *_STUDENT_COLUMNS,
    select(Enrollment.student_id)
    .where(Enrollment.class_id == bindparam("class_id"), Enrollment.student_id == _STUDENTS.c.id)
    .exists(),
).where(_STUDENTS.c.id == bindparam("student_id"), _USERS.c.id == _STUDENTS.c.user_id)


def mark_in_locked_session(
    session: ClassSession,
    *,
    actor: User,
    student_id: uuid.UUID,
    status: AttendanceStatus,
    channel: Channel,
    at: datetime | None = None,
    idempotency_key: str | None = None,
) -> MarkResult:
    """``mark_attendance`` (no notes) for a caller in a unit of work that has loaded and
    locked ``session`` for a change (``load_session_for_a_change``) and checked the actor's
    permission (a tap): the rest of the order, rule 1 → student exists → rule 4 → rule 2,
    without loading the session again."""
    require_markable(session)
    found = execute_core(
        _STUDENT_TO_MARK, {"class_id": session.class_id, "student_id": student_id}
    ).first()
    student = student_from_columns(*found[:-1]) if found is not None else None
    return write_first_mark(
        session,
        require_enrolled(session, student, found is not None and bool(found[-1])),
        status=status,
        notes="",
        actor=actor,
        channel=channel,
        now=at or utcnow(),
        idempotency_key=idempotency_key,
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
    created = insert_records(session, [MarkEntry(student.id, status, notes)], actor, now)
    if student.id not in created:
        raise Conflict(ALREADY_MARKED, field="non_field_errors")
    record_id = created[student.id]
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
    announce(session, (record_id,), actor, (student.id,))
    record = Attendance(
        id=record_id,
        session_id=session.id,
        student_id=student.id,
        status=status,
        notes=notes,
        marked_at=now,
        marked_by_id=actor.id,
        created_at=now,
        updated_at=now,
        version=1,
        late_at=first_late_at(status, now),
    )
    return MarkResult(session, RecordRow(record, student, actor.full_name), change_ids[0])


#: The columns an update may change, read back from its RETURNING.
_RETURNED = (
    "status",
    "notes",
    "late_at",
    "marked_by_id",
    "updated_at",
    "version",
    *NOT_EXCUSED,
)


#: A record about to change, as columns (every column of the record, then its student's
#: number), row-locked: ``record_for_change`` and a tap (``taps.set_status``) read it.
RECORD_COLUMNS = (*_ATTENDANCE.c, _STUDENTS.c.student_number)
_RECORD_KEYS = tuple(_ATTENDANCE.c.keys())
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
    record = Attendance(**dict(zip(_RECORD_KEYS, row, strict=False)))
    return record, Student(id=record.student_id, student_number=row[-1])


#: The session and the record in one statement, where no row lock is needed (SQLite).
SESSION_AND_RECORD = (
    select(ClassSession, *RECORD_COLUMNS)
    .join(_ATTENDANCE, _ATTENDANCE.c.session_id == ClassSession.id)
    .join(_STUDENTS, _STUDENTS.c.id == _ATTENDANCE.c.student_id)
    .options(*FOR_A_CHANGE)
    .where(_ATTENDANCE.c.id == bindparam("attendance_id"))
    .execution_options(populate_existing=True)
)


def one_read_for_a_change() -> bool:
    """Whether a change may read its session and record in one statement: on SQLite, whose
    write transaction (BEGIN IMMEDIATE) already keeps every other writer out. PostgreSQL locks
    the session's row first and then reads the record under it, in two statements: a record
    read with the lock would be the one the statement saw before it waited for the lock."""
    return db.engine.dialect.name == "sqlite"


def record_for_change(
    actor: User, attendance_id: uuid.UUID
) -> tuple[Attendance, Student, ClassSession]:
    """A record about to change, with its student and session, locked in the order every
    writer takes them (the session row, then the record row), checked in the contract's
    order: record exists (NotFound) → permission (Forbidden) → rule 3, not locked (Invalid)."""
    params = {"attendance_id": attendance_id}
    columns: Sequence[Any] | None
    if one_read_for_a_change():
        found = db.session.execute(SESSION_AND_RECORD, params).first()
        if found is None:
            raise NotFound(RECORD_NOT_FOUND)
        session, columns = found[0], found[1:]
    else:
        locked = lock_session_of_record(attendance_id)
        if locked is None:
            raise NotFound(RECORD_NOT_FOUND)
        # Read under the session's lock: a deletion or an undo (which take it) may have
        # removed the record while this waited for it.
        columns = execute_core(_RECORD_FOR_CHANGE, params).first()
        if columns is None:
            raise NotFound(RECORD_NOT_FOUND)
        session = locked
    record, student = record_from_row(columns)
    permissions.require_session_manager(actor, session)
    require_unlocked(session)
    return record, student, session


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
        .returning(*(table.c[key] for key in _RETURNED))
    )


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
    record, student, session = record_for_change(actor, attendance_id)
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
) -> MarkResult:
    """The write of ``update_attendance`` once its checks have passed (``record_for_change``,
    or a tap's own under the session's lock): the update, its audit row and its event."""
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
    # RETURNING gives the new values to the loaded record (no reload afterwards).
    written = execute_core(
        _update_statement(tuple(values)),
        {"attendance_id": attendance_id, **{f"new_{k}": v for k, v in values.items()}},
    ).one()
    change_ids = append_audit(
        [
            {
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
        ],
        actor,
        channel,
        now,
        idempotency_key=idempotency_key,
    )
    announce(
        session,
        (record.id,),
        actor,
        (record.student_id,),
        alert_neutral=alerts.cannot_cross(old_status, status),
    )
    for key, value in zip(_RETURNED, written, strict=True):
        set_committed_value(record, key, value)
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


def late_minutes_problem(minutes: int, session: ClassSession, now: datetime) -> str | None:
    """Why ``minutes`` cannot be a LATE student's minutes late, or None: a whole number from
    0 to the minutes since the session started (nobody arrives in the future)."""
    assert session.start_time is not None  # only a started session has LATE records
    elapsed = max(0, int((now - session.start_time).total_seconds() // 60))
    if minutes < 0 or minutes > elapsed:
        return (
            f"Minutes late must be a whole number from 0 to {elapsed} "
            "(the minutes since the session started)."
        )
    return None


@unit_of_work
def set_minutes_late(
    *,
    actor: User,
    attendance_id: uuid.UUID,
    minutes: int,
    channel: Channel,
    at: datetime | None = None,
) -> MarkResult:
    """Correct how late a LATE student arrived ("she came at 9:12, I marked her at 9:20"):
    the arrival becomes the start + ``minutes``. One audited change (status LATE → LATE, the
    reason says the minutes), broadcast like a tap so every view repaints "+N min".

    Order: record exists (NotFound) → permission (Forbidden) → rule 3 (Invalid) → the record
    is LATE (Invalid on ``minutes``) → the bounds (Invalid on ``minutes``).
    """
    record, student, session = record_for_change(actor, attendance_id)
    if record.status != AttendanceStatus.LATE:
        raise Invalid(NOT_LATE, field="minutes")
    now = at or utcnow()
    if message := late_minutes_problem(minutes, session, now):
        raise Invalid(message, field="minutes")
    assert session.start_time is not None
    before, old_late_at = record.minutes_late(session.start_time), record.late_at
    late_at = session.start_time + timedelta(minutes=minutes)
    written = db.session.execute(
        update(Attendance)
        .where(Attendance.id == attendance_id)
        .values(
            late_at=late_at,
            marked_by_id=actor.id,
            updated_at=now,
            version=Attendance.version + 1,
        )
        .returning(*(getattr(Attendance, key) for key in _RETURNED))
        .execution_options(synchronize_session=False)
    ).one()
    change_ids = append_audit(
        [
            same_status_audit(
                record,
                session,
                reason=f"minutes late {before} → {minutes}",
                old_late_at=old_late_at,
                new_late_at=late_at,
            )
        ],
        actor,
        channel,
        now,
    )
    announce(session, (record.id,), actor, (record.student_id,))
    for key, value in zip(_RETURNED, written, strict=True):
        set_committed_value(record, key, value)
    return MarkResult(session, RecordRow(record, student, actor.full_name), change_ids[0])


@unit_of_work
def set_student_minutes_late(
    *,
    actor: User,
    session_id: uuid.UUID,
    student_id: uuid.UUID,
    minutes: int,
    channel: Channel,
    at: datetime | None = None,
) -> MarkResult:
    """``set_minutes_late`` for the roster, which knows the session and the student: an
    unmarked student has no minutes late (NOT_LATE), like any student not LATE."""
    unlocked_session(actor, session_id)
    record_id = record_id_of(session_id, student_id)
    if record_id is None:
        raise Invalid(NOT_LATE, field="minutes")
    return set_minutes_late(
        actor=actor, attendance_id=record_id, minutes=minutes, channel=channel, at=at
    )
