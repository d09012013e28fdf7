"""Marking many students at once: a bulk mark, the "mark all unmarked" fill, and ending a
session with the unmarked marked absent. The same rules and messages as one mark
(``marking.attendance``), each action all or nothing and one audit group (undone together).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, literal, select

from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    Channel,
    ClassSession,
    Enrollment,
    Role,
    Student,
    User,
    full_name,
    utcnow,
)
from attendance_app.services.dialect import in_uuids, uuid_hex, uuid_list
from attendance_app.services.errors import Conflict, Invalid, NotFound
from attendance_app.services.events import FirstMark, FirstMarks
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
from attendance_app.services.marking.first_marks import (
    Audit,
    insert_entries,
    insert_new,
    new_records,
)
from attendance_app.services.marking.sessions import SessionResult, end_session
from attendance_app.services.school.structure import STUDENT_NOT_FOUND
from attendance_app.services.transaction import execute_core, unit_of_work
from attendance_app.shapes import too_many

#: The most records one bulk request may carry (the contract's Sizes).
MAX_BULK_RECORDS = 1000
TOO_MANY_RECORDS = too_many(MAX_BULK_RECORDS)


#: A record a bulk mark created, as its callers use it (columns, not an entity: building
#: 500 ORM objects cost more than the inserts), and as its broadcast sends it.
BulkRecord = FirstMark


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
#: answer does not exist). Students come back as hex digits, matched to the entries' by
#: ``UUID.hex`` (no UUID made per row). Table columns, run on the transaction's connection
#: (``execute_core``): the Session's ORM execution wrapped each of 500 rows.
_STUDENTS = cast(Table, Student.__table__)
_ENROLMENTS = cast(Table, Enrollment.__table__)
_STUDENTS_AND_ENROLMENT = select(
    uuid_hex(_STUDENTS.c.id),
    _STUDENTS.c.student_number,
    select(_ENROLMENTS.c.student_id)
    .where(
        _ENROLMENTS.c.class_id == bindparam("class_id"),
        _ENROLMENTS.c.student_id == _STUDENTS.c.id,
    )
    .exists(),
).where(in_uuids(_STUDENTS.c.id, uuid_list("student_ids")))


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
    # The students as hex digits, compared and matched as strings from here on (a UUID's
    # hash is a Python call; a string's is not).
    hexes = [sid.hex for sid in ids]
    if len(set(hexes)) != len(hexes):
        raise Invalid(DUPLICATE_IN_REQUEST, field="records")
    bad_notes = {
        str(i): {"notes": [problem]}
        for i, e in enumerate(entries)
        if e.notes is not None and (problem := note_problem(e.notes))
    }
    if bad_notes:
        first = next(iter(bad_notes.values()))["notes"][0]
        raise Invalid(first, field="records", errors=bad_notes)
    session = open_session_for_marking(actor, session_id, take_seq=True)
    numbers: dict[str, str] = {}
    enrolled: set[str] = set()
    for student_hex, number, is_enrolled in execute_core(
        _STUDENTS_AND_ENROLMENT, {"class_id": session.class_id, "student_ids": hexes}
    ).all():
        numbers[student_hex] = number
        if is_enrolled:
            enrolled.add(student_hex)
    missing = {
        str(i): {"student_id": [STUDENT_NOT_FOUND]}
        for i, key in enumerate(hexes)
        if key not in numbers
    }
    if missing:
        raise NotFound(STUDENT_NOT_FOUND, field="records", errors=missing)
    if len(enrolled) != len(ids):
        # The failing path only: the message wants the student (one more query).
        outsiders = [sid for sid, key in zip(ids, hexes, strict=True) if key not in enrolled]
        students = load_students(outsiders)
        outside = {
            str(i): {"student": [not_enrolled_message(students[sid], session)]}
            for i, (sid, key) in enumerate(zip(ids, hexes, strict=True))
            if key not in enrolled
        }
        raise Invalid(next(iter(outside.values()))["student"][0], field="records", errors=outside)
    now = at or utcnow()
    record_ids, clashing = insert_entries(
        session, entries, Audit(actor, channel, now, uuid.uuid4()), hexes
    )
    if clashing:
        clashes = {
            str(i): {"non_field_errors": [ALREADY_MARKED]}
            for i, sid in enumerate(ids)
            if sid in clashing
        }
        raise Conflict(ALREADY_MARKED, field="records", errors=clashes)
    records = [
        BulkRecord(rid, e.student_id, numbers[key], e.status, e.notes or "")
        for rid, e, key in zip(record_ids, entries, hexes, strict=True)
    ]
    # The students beside the records spare the alert check a query to find them; the
    # records themselves spare the broadcast reading back what was just written. (A student
    # marking is a check-in, whose broadcast says so: not sent from here.)
    written = _first_marks(records, actor, session, now)
    announce(session, tuple(record_ids), actor, tuple(ids), first_marks=written)
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
        new_records(
            session.id,
            actor.id,
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
    created = insert_new(session, unmarked, Audit(actor, channel, now, group_id))
    if not created:
        return InitialiseResult(session, 0, default_status, [])
    record_ids = [rid for _, rid in created]
    # The records, but for the students' numbers: the broadcast needs only those read.
    written = _first_marks(
        [FirstMark(rid, sid, None, default_status, "") for sid, rid in created],
        actor,
        session,
        now,
    )
    announce(
        session, tuple(record_ids), actor, tuple(sid for sid, _ in created), first_marks=written
    )
    return InitialiseResult(session, len(record_ids), default_status, record_ids, group_id)


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


def _first_marks(
    records: Sequence[FirstMark], actor: User, session: ClassSession, now: datetime
) -> FirstMarks | None:
    """What the broadcast needs of records just written, or None for a student's (a
    check-in, whose broadcast says so, is not sent from here)."""
    if actor.role == Role.STUDENT:
        return None
    return FirstMarks(
        tuple(records),
        now,
        actor.id,
        full_name(actor.first_name, actor.last_name) or None,
        session.class_id,
        session.start_time,
    )
