"""Marking attendance: the brief's four rules, their messages and order, and every write."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

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
from attendance_app.services import events, permissions
from attendance_app.services.dialect import insert
from attendance_app.services.errors import Conflict, Invalid, NotFound
from attendance_app.services.sessions import bump_live_seq, load_session
from attendance_app.services.statistics import STUDENT_NOT_FOUND, RecordRow
from attendance_app.services.transaction import unit_of_work

# The contract's messages, beside the rules that raise them.
NOT_STARTED = "Cannot mark attendance - session has not started"
ALREADY_MARKED = "Attendance already marked for this student in this session"
LOCKED = "Cannot modify attendance - session ended and is locked"
DUPLICATE_IN_REQUEST = "Duplicate student in request"
RECORD_NOT_FOUND = "Attendance record not found."
NOTHING_TO_UPDATE = "Provide status or notes to update."

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

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


@dataclass(frozen=True)
class MarkEntry:
    student_id: uuid.UUID
    status: AttendanceStatus
    notes: str | None = None


@dataclass(frozen=True)
class MarkResult:
    session: ClassSession
    row: RecordRow
    change_id: uuid.UUID | None = None  # the audit row, which is what Undo undoes


@dataclass(frozen=True)
class BulkMarkResult:
    session: ClassSession
    rows: list[RecordRow]  # in request order


@dataclass(frozen=True)
class InitialiseResult:
    session: ClassSession
    count: int
    default_status: AttendanceStatus
    record_ids: list[uuid.UUID]
    group_id: uuid.UUID | None = None  # the audit rows of this action, undone together


# --- the rules, each once ------------------------------------------------------------------


def require_markable(session: ClassSession) -> None:
    """Rule 1: only an ACTIVE session takes new marks."""
    if session.status == SessionStatus.ENDED:
        raise Invalid(session_ended_message(session.end_time), field="session")
    if session.status != SessionStatus.ACTIVE:
        raise Invalid(NOT_STARTED, field="session")


def require_unlocked(session: ClassSession) -> None:
    """Rule 3: an ENDED session's records never change."""
    if session.is_locked:
        raise Invalid(LOCKED, field="session")


def _load_students(student_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Student]:
    rows = db.session.scalars(select(Student).where(Student.id.in_(student_ids))).unique()
    return {s.id: s for s in rows}


def _enrolled_ids(session: ClassSession, student_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    return set(
        db.session.scalars(
            select(Enrollment.student_id).where(
                Enrollment.class_id == session.class_id, Enrollment.student_id.in_(student_ids)
            )
        )
    )


def _open_session_for_marking(actor: User, session_id: uuid.UUID) -> ClassSession:
    """Session exists (404) → actor may mark it (403) → rule 1 (400)."""
    session = load_session(session_id, lock=True)
    permissions.require_session_manager(actor, session)
    require_markable(session)
    return session


# --- writes ---------------------------------------------------------------------------------


def _insert_records(
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
            "late_at": now if e.status == AttendanceStatus.LATE else None,
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
    table = Attendance.__table__
    result = db.session.execute(
        insert(table)
        .on_conflict_do_nothing(index_elements=["session_id", "student_id"])
        .returning(table.c.id, table.c.student_id),
        rows,
    )
    return {student_id: record_id for record_id, student_id in result}


def append_audit(
    rows: list[dict],
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
    db.session.execute(insert(AttendanceChange.__table__), rows)
    return [row["id"] for row in rows]


def _announce(session: ClassSession, record_ids: tuple[uuid.UUID, ...], actor: User) -> None:
    """Record the change for broadcast after commit, numbered in the session's sequence."""
    events.record(
        db.session,
        events.AttendanceChanged(session.id, tuple(record_ids), actor.id, bump_live_seq(session)),
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
    session = _open_session_for_marking(actor, session_id)
    student = _load_students([student_id]).get(student_id)
    if student is None:
        raise NotFound(STUDENT_NOT_FOUND)
    if student_id not in _enrolled_ids(session, [student_id]):
        raise Invalid(not_enrolled_message(student, session), field="student")
    now = at or utcnow()
    created = _insert_records(session, [MarkEntry(student_id, status, notes)], actor, now)
    if student_id not in created:
        raise Conflict(ALREADY_MARKED, field="non_field_errors")
    record_id = created[student_id]
    change_ids = append_audit(
        [
            {
                "attendance_id": record_id,
                "session_id": session.id,
                "student_id": student_id,
                "new_status": status,
                "new_notes": notes or "",
            }
        ],
        actor,
        channel,
        now,
        idempotency_key=idempotency_key,
    )
    _announce(session, (record_id,), actor)
    record = Attendance(
        id=record_id,
        session_id=session.id,
        student_id=student_id,
        status=status,
        notes=notes or "",
        marked_at=now,
        marked_by_id=actor.id,
        created_at=now,
        updated_at=now,
        version=1,
        late_at=now if status == AttendanceStatus.LATE else None,
    )
    return MarkResult(session, RecordRow(record, student, actor.full_name), change_ids[0])


@unit_of_work
def mark_attendance_bulk(
    *,
    actor: User,
    session_id: uuid.UUID,
    entries: Sequence[MarkEntry],
    channel: Channel,
    at: datetime | None = None,
) -> BulkMarkResult:
    """Create records for many students at once, all or nothing, in a constant number of
    queries. Errors name the failing entries by index, for the first rule that fails:
    duplicate in request → session → permission → rule 1 → students exist → rule 4 → rule 2.
    """
    ids = [e.student_id for e in entries]
    if len(set(ids)) != len(ids):
        raise Invalid(DUPLICATE_IN_REQUEST, field="records")
    session = _open_session_for_marking(actor, session_id)
    students = _load_students(ids)
    missing = {
        str(i): {"student_id": [STUDENT_NOT_FOUND]}
        for i, sid in enumerate(ids)
        if sid not in students
    }
    if missing:
        raise NotFound(STUDENT_NOT_FOUND, field="records", errors=missing)
    enrolled = _enrolled_ids(session, ids)
    outside = {
        str(i): {"student": [not_enrolled_message(students[sid], session)]}
        for i, sid in enumerate(ids)
        if sid not in enrolled
    }
    if outside:
        raise Invalid(next(iter(outside.values()))["student"][0], field="records", errors=outside)
    now = at or utcnow()
    created = _insert_records(session, entries, actor, now)
    clashes = {
        str(i): {"non_field_errors": [ALREADY_MARKED]}
        for i, sid in enumerate(ids)
        if sid not in created
    }
    if clashes:
        raise Conflict(ALREADY_MARKED, field="records", errors=clashes)
    group_id = uuid.uuid4()
    append_audit(
        [
            {
                "attendance_id": created[e.student_id],
                "session_id": session.id,
                "student_id": e.student_id,
                "new_status": e.status,
                "new_notes": e.notes or "",
            }
            for e in entries
        ],
        actor,
        Channel.BULK,
        now,
        group_id,
    )
    record_ids = [created[sid] for sid in ids]
    _announce(session, tuple(record_ids), actor)
    rows = [
        RecordRow(
            Attendance(
                id=created[e.student_id],
                session_id=session.id,
                student_id=e.student_id,
                status=e.status,
                notes=e.notes or "",
                marked_at=now,
                marked_by_id=actor.id,
                created_at=now,
                updated_at=now,
                version=1,
                late_at=now if e.status == AttendanceStatus.LATE else None,
            ),
            students[e.student_id],
            actor.full_name,
        )
        for e in entries
    ]
    return BulkMarkResult(session, rows)


@unit_of_work
def initialise_session(
    *,
    actor: User,
    session_id: uuid.UUID,
    default_status: AttendanceStatus = AttendanceStatus.ABSENT,
    at: datetime | None = None,
) -> InitialiseResult:
    """Give every enrolled student without a record one with ``default_status``.

    Never overwrites a mark, so running it twice creates nothing the second time; a mark
    that lands concurrently wins (ON CONFLICT DO NOTHING). Same rules as marking.
    """
    session = _open_session_for_marking(actor, session_id)
    unmarked = list(
        db.session.scalars(
            select(Enrollment.student_id)
            .where(Enrollment.class_id == session.class_id)
            .where(
                ~select(Attendance.id)
                .where(
                    Attendance.session_id == session.id,
                    Attendance.student_id == Enrollment.student_id,
                )
                .exists()
            )
        )
    )
    if not unmarked:
        return InitialiseResult(session, 0, default_status, [])
    now = at or utcnow()
    created = _insert_records(
        session, [MarkEntry(sid, default_status) for sid in unmarked], actor, now
    )
    group_id = uuid.uuid4()
    append_audit(
        [
            {
                "attendance_id": rid,
                "session_id": session.id,
                "student_id": sid,
                "new_status": default_status,
                "new_notes": "",
            }
            for sid, rid in created.items()
        ],
        actor,
        Channel.BULK,
        now,
        group_id,
    )
    record_ids = list(created.values())
    if record_ids:
        _announce(session, tuple(record_ids), actor)
    return InitialiseResult(session, len(record_ids), default_status, record_ids, group_id)


@dataclass(frozen=True)
class UpdateResult:
    session: ClassSession
    row: RecordRow
    change_id: uuid.UUID | None = None


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
) -> UpdateResult:
    """Change a record's status and/or notes; the updater becomes ``marked_by``.

    Order: record exists (NotFound) → permission (Forbidden) → rule 3 (Invalid).
    ``marked_at`` never changes; ``updated_at`` and ``version`` do.
    """
    if status is None and notes is None:
        raise Invalid(NOTHING_TO_UPDATE, field="non_field_errors")
    record = db.session.scalars(
        select(Attendance)
        .where(Attendance.id == attendance_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if record is None:
        raise NotFound(RECORD_NOT_FOUND)
    session = load_session(record.session_id, lock=True)
    permissions.require_session_manager(actor, session)
    require_unlocked(session)
    now = at or utcnow()
    values: dict = {"marked_by_id": actor.id, "updated_at": now, "version": Attendance.version + 1}
    if status is not None:
        values["status"] = status
        if status != AttendanceStatus.LATE:
            values["late_at"] = None
        elif record.status != AttendanceStatus.LATE:
            values["late_at"] = now
    if notes is not None:
        values["notes"] = notes
    # The record row is locked since it was read, so these are the values being replaced;
    # taken before the UPDATE, whose session synchronisation rewrites ``record`` in place.
    old_status, old_notes = record.status, record.notes
    db.session.execute(update(Attendance).where(Attendance.id == attendance_id).values(values))
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
            }
        ],
        actor,
        channel,
        now,
        idempotency_key=idempotency_key,
    )
    _announce(session, (record.id,), actor)
    db.session.refresh(record)
    student = _load_students([record.student_id])[record.student_id]
    return UpdateResult(session, RecordRow(record, student, actor.full_name), change_ids[0])


@unit_of_work
def end_session_marking_unmarked(
    *,
    actor: User,
    session_id: uuid.UUID,
    status: AttendanceStatus = AttendanceStatus.ABSENT,
    at: datetime | None = None,
):
    """Give every unmarked student ``status``, then end and lock the session, in one
    transaction: nobody ever sees the session ended with the fill half done."""
    from attendance_app.services.sessions import end_session

    initialise_session(actor=actor, session_id=session_id, default_status=status, at=at)
    return end_session(actor=actor, session_id=session_id, at=at)
