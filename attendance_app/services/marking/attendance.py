"""Marking a student: the brief's four rules in the contract's order for a first mark (the
API's mark, a tap on an unmarked student). The rules and their messages are in ``rules``, the
shared writes in ``records``, a change of a record in ``corrections``; their public names are
importable from here too, where the other services and the edges have always found them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import (
    Table,
    bindparam,
    select,
)

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    Channel,
    ClassSession,
    Enrollment,
    Student,
    User,
    built,
    utcnow,
)
from attendance_app.services import permissions
from attendance_app.services.dialect import returned, uuid_digits
from attendance_app.services.errors import NotFound
from attendance_app.services.marking.corrections import (
    RECORD_COLUMNS,
    SESSION_AND_RECORD,
    change_record,
    one_read_for_a_change,
    record_for_change,
    record_from_row,
    record_id_of,
    set_note,
    unlocked_session,
    update_attendance,
)
from attendance_app.services.marking.late_minutes import (
    set_minutes_late,
    set_student_minutes_late,
)
from attendance_app.services.marking.records import (
    MarkEntry,
    MarkResult,
    announce,
    append_audit,
    same_status_audit,
    write_first_mark,
)
from attendance_app.services.marking.rules import (
    ALREADY_MARKED,
    CYCLE,
    DUPLICATE_IN_REQUEST,
    EXCUSABLE,
    LOCKED,
    NOT_EXCUSED,
    NOT_LATE,
    NOT_STARTED,
    NOTE_NEEDS_A_MARK,
    NOTHING_TO_UPDATE,
    RECORD_NOT_FOUND,
    clean_notes,
    first_late_at,
    late_minutes_problem,
    next_status,
    not_enrolled_message,
    note_problem,
    require_enrolled,
    require_markable,
    require_unlocked,
    session_ended_message,
)
from attendance_app.services.marking.sessions import (
    SESSION_NOT_FOUND,
    bumping_read,
    load_session_for_a_change,
    session_from_bumped_row,
)
from attendance_app.services.transaction import execute_core, unit_of_work


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
_SESSIONS = cast(Table, ClassSession.__table__)
#: A single mark's read: the session's ``live_seq`` bump returning the session
#: (``sessions.bumping_read``), its student's ``_STUDENT_COLUMNS`` (NULL when there is no
#: such student: the session is still found, the contract's order) and whether they are
#: enrolled in the session's class, as scalar subqueries.
_STUDENT_ID = uuid_digits("student_hex")
_THE_STUDENT = _STUDENTS.c.id == _STUDENT_ID
_MARK_TARGETS = bumping_read(
    _SESSIONS.c.id == bindparam("session_id"),
    *(
        returned(
            select(column)
            .join_from(_STUDENTS, _USERS, _USERS.c.id == _STUDENTS.c.user_id)
            .where(_THE_STUDENT)
            .scalar_subquery()
        )
        for column in _STUDENT_COLUMNS
    ),
    returned(
        select(Enrollment.student_id)
        .where(
            Enrollment.class_id == _SESSIONS.c.class_id,
            Enrollment.student_id == _STUDENT_ID,
        )
        .exists()
    ),
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
    user = built(User, (("id", user_id), ("first_name", first_name), ("last_name", last_name)))
    return built(
        Student,
        (
            ("id", student_id),
            ("student_number", student_number),
            ("user_id", user_id),
            ("user", user),
        ),
    )


def load_mark_targets(
    session_id: uuid.UUID, student_id: uuid.UUID
) -> tuple[ClassSession, Student | None, bool]:
    """A single mark's session (row-locked, as ``load_session(lock=True)``, its ``live_seq``
    taken for the mark: a mark that fails rolls it back), its student (None if there is none)
    and whether they are enrolled in the session's class: one round trip for what the rules
    check. Raises NotFound (the session)."""
    row = execute_core(
        _MARK_TARGETS, {"session_id": session_id, "student_hex": student_id.hex}
    ).first()
    if row is None:
        raise NotFound(SESSION_NOT_FOUND)
    session, (*student, enrolled) = session_from_bumped_row(row)
    return session, student_from_columns(*student), bool(enrolled)


#: A bulk mark's session read: its ``live_seq`` bump returning the session.
_BUMPED_SESSION = bumping_read(_SESSIONS.c.id == bindparam("session_id"))


def open_session_for_marking(
    actor: User, session_id: uuid.UUID, *, take_seq: bool = False
) -> ClassSession:
    """Session exists (404) → actor may mark it (403) → rule 1 (400). Row-locked and built
    from its columns (``load_session_for_a_change``: its load through the ORM, the class
    joined, was a visible share of a bulk mark). ``take_seq``: read by its ``live_seq`` bump
    (``bumping_read``: one statement fewer), for a caller whose every outcome that writes
    nothing is an error (a bulk mark; not "mark all unmarked", which may create nothing)."""
    if take_seq:
        row = execute_core(_BUMPED_SESSION, {"session_id": session_id}).first()
        if row is None:
            raise NotFound(SESSION_NOT_FOUND)
        session = session_from_bumped_row(row)[0]
    else:
        session = load_session_for_a_change(session_id)
    permissions.require_session_manager(actor, session)
    require_markable(session)
    return session


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


#: This module's own names and, re-exported, the public names of ``rules``, ``records`` and
#: ``corrections``, where the other services, the edges and the tests import them from.
__all__ = [
    "ALREADY_MARKED",
    "CYCLE",
    "DUPLICATE_IN_REQUEST",
    "EXCUSABLE",
    "LOCKED",
    "NOTE_NEEDS_A_MARK",
    "NOTHING_TO_UPDATE",
    "NOT_EXCUSED",
    "NOT_LATE",
    "NOT_STARTED",
    "RECORD_COLUMNS",
    "RECORD_NOT_FOUND",
    "SESSION_AND_RECORD",
    "MarkEntry",
    "MarkResult",
    "announce",
    "append_audit",
    "change_record",
    "clean_notes",
    "enrolled_ids",
    "first_late_at",
    "late_minutes_problem",
    "load_mark_targets",
    "load_students",
    "mark_attendance",
    "mark_in_locked_session",
    "next_status",
    "not_enrolled_message",
    "note_problem",
    "one_read_for_a_change",
    "open_session_for_marking",
    "record_for_change",
    "record_from_row",
    "record_id_of",
    "require_enrolled",
    "require_markable",
    "require_unlocked",
    "same_status_audit",
    "session_ended_message",
    "set_minutes_late",
    "set_note",
    "set_student_minutes_late",
    "student_from_columns",
    "unlocked_session",
    "update_attendance",
    "write_first_mark",
]
