"""Marking many students at once: a bulk mark, the "mark all unmarked" fill, and ending a
session with the unmarked marked absent. The same rules and messages as one mark
(``marking.attendance``), each action all or nothing and one audit group (undone together).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    bindparam,
    cast,
    literal,
    select,
    true,
)

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    ClassSession,
    Enrollment,
    Student,
    User,
    utcnow,
)
from attendance_app.services.dialect import in_uuids, insert, json_rows, new_uuid, uuid_list
from attendance_app.services.errors import Conflict, Invalid, NotFound
from attendance_app.services.marking.attendance import (
    ALREADY_MARKED,
    DUPLICATE_IN_REQUEST,
    MarkEntry,
    announce,
    first_late_at,
    load_students,
    not_enrolled_message,
    note_problem,
    open_session_for_marking,
)
from attendance_app.services.marking.sessions import SessionResult, end_session
from attendance_app.services.school.structure import STUDENT_NOT_FOUND
from attendance_app.services.transaction import unit_of_work
from attendance_app.shapes import too_many

#: The most records one bulk request may carry (the contract's Sizes).
MAX_BULK_RECORDS = 1000
TOO_MANY_RECORDS = too_many(MAX_BULK_RECORDS)


class BulkRecord(NamedTuple):
    """A record a bulk mark created, as its callers use it (columns, not an entity: building
    500 ORM objects cost more than the inserts)."""

    id: uuid.UUID
    student_id: uuid.UUID
    student_number: str
    status: AttendanceStatus
    notes: str


@dataclass(frozen=True)
class BulkMarkResult:
    session: ClassSession
    records: list[BulkRecord]  # in request order


@dataclass(frozen=True)
class InitialiseResult:
    session: ClassSession
    count: int
    default_status: AttendanceStatus
    record_ids: list[uuid.UUID]
    group_id: uuid.UUID | None = None  # the audit rows of this action, undone together


#: Rules "student exists" and 4 for many students in one query, built once: each requested
#: student's number and whether they are enrolled in the class (a student missing from the
#: answer does not exist).
_STUDENTS_AND_ENROLMENT = select(
    Student.id,
    Student.student_number,
    select(Enrollment.student_id)
    .where(
        Enrollment.class_id == bindparam("class_id"),
        Enrollment.student_id == Student.id,
    )
    .exists(),
).where(in_uuids(Student.id, uuid_list("student_ids")))


@unit_of_work
def mark_records(
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
    if len(entries) > MAX_BULK_RECORDS:
        raise Invalid(TOO_MANY_RECORDS, field="records")
    ids = [e.student_id for e in entries]
    if len(set(ids)) != len(ids):
        raise Invalid(DUPLICATE_IN_REQUEST, field="records")
    bad_notes = {
        str(i): {"notes": [problem]}
        for i, e in enumerate(entries)
        if e.notes is not None and (problem := note_problem(e.notes))
    }
    if bad_notes:
        first = next(iter(bad_notes.values()))["notes"][0]
        raise Invalid(first, field="records", errors=bad_notes)
    session = open_session_for_marking(actor, session_id)
    numbers: dict[uuid.UUID, str] = {}
    enrolled: set[uuid.UUID] = set()
    for student_id, number, is_enrolled in db.session.execute(
        _STUDENTS_AND_ENROLMENT, {"class_id": session.class_id, "student_ids": ids}
    ):
        numbers[student_id] = number
        if is_enrolled:
            enrolled.add(student_id)
    missing = {
        str(i): {"student_id": [STUDENT_NOT_FOUND]}
        for i, sid in enumerate(ids)
        if sid not in numbers
    }
    if missing:
        raise NotFound(STUDENT_NOT_FOUND, field="records", errors=missing)
    if len(enrolled) != len(ids):
        # The failing path only: the message wants the student (one more query).
        students = load_students([sid for sid in ids if sid not in enrolled])
        outside = {
            str(i): {"student": [not_enrolled_message(students[sid], session)]}
            for i, sid in enumerate(ids)
            if sid not in enrolled
        }
        raise Invalid(next(iter(outside.values()))["student"][0], field="records", errors=outside)
    now = at or utcnow()
    created = _insert_entries(session, entries, _Audit(actor, channel, now, uuid.uuid4()))
    if len(created) != len(ids):
        clashes = {
            str(i): {"non_field_errors": [ALREADY_MARKED]}
            for i, sid in enumerate(ids)
            if sid not in created
        }
        raise Conflict(ALREADY_MARKED, field="records", errors=clashes)
    record_ids = tuple(created[sid] for sid in ids)
    # The students beside the records spare the alert check a query to find them.
    announce(session, record_ids, actor, tuple(ids))
    records = [
        BulkRecord(rid, e.student_id, numbers[e.student_id], e.status, e.notes or "")
        for rid, e in zip(record_ids, entries, strict=True)
    ]
    return BulkMarkResult(session, records)


@unit_of_work
def mark_unmarked(
    *,
    actor: User,
    session_id: uuid.UUID,
    default_status: AttendanceStatus = AttendanceStatus.ABSENT,
    channel: Channel,
    at: datetime | None = None,
) -> InitialiseResult:
    """Give every enrolled student without a record one with ``default_status``.

    Never overwrites a mark, so running it twice creates nothing the second time; a mark
    that lands concurrently wins (ON CONFLICT DO NOTHING). Same rules as marking.
    """
    session = open_session_for_marking(actor, session_id)
    now = at or utcnow()
    attendance = Attendance.__table__
    # Both statements run in the database, whatever the class size: the records are made
    # from the enrolments (ids by the database), then their audit rows from the records;
    # 500 rows of parameters, each through SQLAlchemy's type processing, cost more than
    # the inserts themselves.
    unmarked = (
        _new_records(
            session,
            actor,
            now,
            student_id=Enrollment.__table__.c.student_id,
            status=literal(default_status, attendance.c.status.type),
            notes=literal("", attendance.c.notes.type),
            late_at=literal(first_late_at(default_status, now), attendance.c.late_at.type),
        )
        .where(Enrollment.class_id == session.class_id)
        .where(
            ~select(attendance.c.id)
            .where(
                attendance.c.session_id == session.id,
                attendance.c.student_id == Enrollment.student_id,
            )
            .exists()
        )
    )
    group_id = uuid.uuid4()
    created = _insert_new(session, unmarked, _Audit(actor, channel, now, group_id))
    if not created:
        return InitialiseResult(session, 0, default_status, [])
    record_ids = list(created.values())
    announce(session, tuple(record_ids), actor, tuple(created))
    return InitialiseResult(session, len(record_ids), default_status, record_ids, group_id)


def _insert_entries(
    session: ClassSession, entries: Sequence[MarkEntry], audit: _Audit
) -> dict[uuid.UUID, uuid.UUID]:
    """``insert_records`` for many entries, with their audit rows: one INSERT … SELECT … ON
    CONFLICT DO NOTHING over the entries sent as one JSON value (ids by the database):
    {student_id: new record id}. A student missing from the result already had a record:
    the database decides, so two concurrent marks can never both succeed."""
    attendance = Attendance.__table__
    actor, now = audit.actor, audit.now
    rows, (student_id, status, notes) = json_rows("entries", 3)
    if db.engine.dialect.name == "postgresql":
        student_id = cast(student_id, attendance.c.student_id.type)
    entered = _new_records(
        session,
        actor,
        now,
        student_id=student_id,
        status=status,
        notes=notes,
        late_at=first_late_at(status, now),
    ).select_from(rows)
    payload = orjson.dumps([[e.student_id.hex, e.status.value, e.notes or ""] for e in entries])
    # SQLite needs a WHERE between the SELECT and ON CONFLICT.
    return _insert_new(session, entered.where(true()), audit, {"entries": payload.decode()})


def _new_records(
    session: ClassSession,
    actor: User,
    now: datetime,
    *,
    student_id: ColumnElement[Any],
    status: ColumnElement[Any],
    notes: ColumnElement[Any],
    late_at: ColumnElement[Any],
) -> Select[Any]:
    """The columns of first marks in ``_RECORD_COLUMNS`` order, for an INSERT … SELECT:
    what every first mark writes (an id by the database, marked and created ``now`` by
    ``actor``, version 1) beside the given student, status, notes and late time."""
    attendance = Attendance.__table__
    return select(
        new_uuid(),
        literal(session.id, attendance.c.session_id.type),
        student_id,
        status,
        notes,
        literal(now, attendance.c.marked_at.type),
        late_at,
        literal(actor.id, attendance.c.marked_by_id.type),
        literal(now, attendance.c.created_at.type),
        literal(now, attendance.c.updated_at.type),
        literal(1, attendance.c.version.type),
    )


class _Audit(NamedTuple):
    """Who, how and when first marks are made: what their audit rows say beside the records'
    own columns (one ``group_id`` per action, undone together)."""

    actor: User
    channel: Channel
    now: datetime
    group_id: uuid.UUID


def _insert_new(
    session: ClassSession, rows: Select[Any], audit: _Audit, params: dict[str, Any] | None = None
) -> dict[uuid.UUID, uuid.UUID]:
    """Insert first marks from ``rows`` and their audit rows; {student_id: new record id}.
    A student missing from the answer already had a record: the database decides (ON
    CONFLICT DO NOTHING), so two concurrent marks can never both succeed.

    On PostgreSQL the audit rows come from the inserted rows in the same statement (a
    data-modifying CTE): one round trip, and no list of the new ids sent back to find them.
    SQLite has no such CTE: the audit rows are a second INSERT … SELECT (``audit_created``)."""
    attendance = Attendance.__table__
    inserting = (
        insert(attendance)
        .from_select(_RECORD_COLUMNS, rows)
        .on_conflict_do_nothing(index_elements=["session_id", "student_id"])
    )
    if db.engine.dialect.name != "postgresql":
        inserted = db.session.execute(
            inserting.returning(attendance.c.student_id, attendance.c.id), params
        )
        created = {sid: rid for sid, rid in inserted}
        if created:
            audit_created(session, list(created.values()), *audit)
        return created
    new = inserting.returning(
        attendance.c.student_id,
        attendance.c.id,
        attendance.c.session_id,
        attendance.c.status,
        attendance.c.notes,
    ).cte("created")
    audited = insert(AttendanceChange.__table__).from_select(_CHANGE_COLUMNS, _audit_rows(new))
    inserted = db.session.execute(
        select(new.c.student_id, new.c.id).add_cte(audited.cte("audited")),
        {**(params or {}), **_audit_params(audit)},
    )
    return {sid: rid for sid, rid in inserted}


def audit_created(
    session: ClassSession,
    record_ids: Sequence[uuid.UUID],
    actor: User,
    channel: Channel,
    now: datetime,
    group_id: uuid.UUID,
) -> None:
    """The audit rows of records just created in ``session`` (one each: no old values, the
    new status and notes), made from the records in the database by one INSERT … SELECT
    instead of sent row by row."""
    db.session.execute(
        _audit_created_statement(db.engine.dialect.name),
        {
            **_audit_params(_Audit(actor, channel, now, group_id)),
            "session_id": session.id,
            "record_ids": record_ids,
        },
    )


@functools.cache
def _audit_created_statement(dialect: str) -> Executable:
    """``audit_created``'s statement, one per database, built once (its values are bound
    parameters, the record ids one ``UuidList``)."""
    attendance = Attendance.__table__
    return insert(AttendanceChange.__table__).from_select(
        _CHANGE_COLUMNS,
        _audit_rows(attendance).where(
            attendance.c.session_id == bindparam("session_id", type_=attendance.c.session_id.type),
            in_uuids(attendance.c.id, uuid_list("record_ids")),
        ),
    )


def _audit_rows(records: Any) -> Select[Any]:
    """The audit rows (``_CHANGE_COLUMNS``) of first marks read from ``records`` (the table
    or the records an INSERT just returned): no old values, the new status and notes, and
    who, when, how and which action as the bound parameters of :func:`_audit_params`."""
    changes = AttendanceChange.__table__
    return select(
        new_uuid(),
        records.c.id,
        records.c.session_id,
        records.c.student_id,
        bindparam("actor_id", type_=changes.c.actor_id.type),
        bindparam("changed_at", type_=changes.c.changed_at.type),
        bindparam("channel", type_=changes.c.channel.type),
        bindparam("group_id", type_=changes.c.group_id.type),
        records.c.status,
        records.c.notes,
    )


def _audit_params(audit: _Audit) -> dict[str, Any]:
    return {
        "actor_id": audit.actor.id,
        "changed_at": audit.now,
        "channel": audit.channel,
        "group_id": audit.group_id,
    }


#: The columns ``mark_unmarked`` writes, in its SELECTs' order.
_RECORD_COLUMNS = [
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
]
_CHANGE_COLUMNS = [
    "id",
    "attendance_id",
    "session_id",
    "student_id",
    "actor_id",
    "changed_at",
    "channel",
    "group_id",
    "new_status",
    "new_notes",
]


@unit_of_work
def end_session_marking_unmarked(
    *,
    actor: User,
    session_id: uuid.UUID,
    status: AttendanceStatus = AttendanceStatus.ABSENT,
    channel: Channel,
    at: datetime | None = None,
) -> SessionResult:
    """Give every unmarked student ``status``, then end and lock the session, in one
    transaction: nobody ever sees the session ended with the fill half done."""
    mark_unmarked(actor=actor, session_id=session_id, default_status=status, channel=channel, at=at)
    return end_session(actor=actor, session_id=session_id, at=at)
