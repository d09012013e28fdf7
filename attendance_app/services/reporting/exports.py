"""Read side of the CSV exports: who may export what, the record stream and a class register.

The record export is a lazy iterator fed by a server-side cursor in batches, so exporting a
year of a large school never holds more than one batch in memory; the register is built in
a constant number of queries, whatever the number of students and sessions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, literal, select
from sqlalchemy.orm import aliased

from attendance_app.extensions import db
from attendance_app.models import (
    AbsenceReason,
    Attendance,
    AttendanceStatus,
    ClassSession,
    SchoolClass,
    SessionStatus,
    Student,
    Subject,
    User,
    full_name,
)
from attendance_app.services import permissions
from attendance_app.services.reporting.records import RecordFilters, record_clauses
from attendance_app.services.reporting.statistics import rate
from attendance_app.services.school import structure

#: Rows fetched from the database per round trip while an export streams.
EXPORT_BATCH_SIZE = 500

#: What a spreadsheet may read as the start of a formula (CSV injection, OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """``value`` as CSV cell text that no spreadsheet runs as a formula.

    A cell starting with ``= + - @``, a tab or a carriage return gets a leading ``'``. Every
    CSV this application serves passes every cell through here.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


# --- the record export -------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRow:
    """One attendance record as the export shows it (plain values, no ORM objects)."""

    start_time: datetime | None  # nullable in the schema: no date, and last in the export
    class_name: str
    subject_code: str
    student_number: str
    last_name: str
    first_name: str
    status: AttendanceStatus
    marked_at: datetime
    marked_by: str
    notes: str
    absence_reason: AbsenceReason | None = None

    @property
    def excused(self) -> bool:
        return self.absence_reason is not None


def export_rows(*, actor: User, filters: RecordFilters) -> Iterator[ExportRow]:
    """The records ``actor`` may export under ``filters``, ordered by the session's
    start_time, then the student's last and first name.

    Permissions are checked now (raises Forbidden): an admin reads anything; a teacher the
    records of the classes they teach (naming a class or session they do not teach, or a
    student they have never taught, is refused); a student only their own, and must name
    their own ``student_id``, and their rows carry no notes (notes are staff-only). A
    teacher naming another teacher's ``teacher_id`` gets no rows (only their classes'). The
    query itself runs only when the iterator is first advanced and fetches
    ``EXPORT_BATCH_SIZE`` rows at a time, so the caller may hand the iterator to a streaming
    response: it needs an app context when iterated, not the session (or the actor object)
    of the moment it was made.
    """
    permissions.require_export_reader(
        actor,
        student_id=filters.student_id,
        class_id=filters.class_id,
        session_id=filters.session_id,
    )
    return _stream(_export_statement(actor, filters))


def _export_statement(actor: User, filters: RecordFilters) -> Select[*tuple[Any, ...]]:
    learner = aliased(User)
    marker = aliased(User)
    clauses = record_clauses(actor, filters, learner)
    return (
        select(
            ClassSession.start_time,
            SchoolClass.name,
            Subject.code,
            Student.student_number,
            learner.last_name,
            learner.first_name,
            Attendance.status,
            Attendance.marked_at,
            marker.first_name,
            marker.last_name,
            Attendance.notes if permissions.can_read_notes(actor) else literal(None),
            Attendance.absence_reason,
        )
        .select_from(Attendance)
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .join(SchoolClass, SchoolClass.id == ClassSession.class_id)
        .join(Subject, Subject.id == SchoolClass.subject_id)
        .join(Student, Student.id == Attendance.student_id)
        .join(learner, learner.id == Student.user_id)
        .outerjoin(marker, marker.id == Attendance.marked_by_id)
        .where(*clauses)
        # Student number and record id only make the order total (stable across runs).
        .order_by(
            # NULLS LAST on both databases (SQLite puts them first by default).
            ClassSession.start_time.nulls_last(),
            learner.last_name,
            learner.first_name,
            Student.student_number,
            Attendance.id,
        )
    )


def _stream(stmt: Select[*tuple[Any, ...]]) -> Iterator[ExportRow]:
    # Columns, not entities: nothing enters the identity map, so memory stays one batch.
    # yield_per makes PostgreSQL use a server-side cursor and SQLite fetch in batches.
    result = db.session.execute(stmt.execution_options(yield_per=EXPORT_BATCH_SIZE))
    try:
        for batch in result.partitions():
            for (
                start_time,
                class_name,
                subject_code,
                number,
                last_name,
                first_name,
                status,
                marked_at,
                marker_first,
                marker_last,
                notes,
                absence_reason,
            ) in batch:
                yield ExportRow(
                    start_time=start_time,
                    class_name=class_name,
                    subject_code=subject_code,
                    student_number=number,
                    last_name=last_name,
                    first_name=first_name,
                    status=status,
                    marked_at=marked_at,
                    marked_by=full_name(marker_first, marker_last),
                    notes=notes or "",
                    absence_reason=absence_reason,
                )
    finally:
        result.close()


# --- the class register ------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterRow:
    student_number: str
    last_name: str
    first_name: str
    #: One entry per session of the grid, in its order; None where there is no record.
    statuses: tuple[AttendanceStatus | None, ...]
    #: Per session, whether that record is excused (an excused absence is ``E``).
    excused: tuple[bool, ...]
    attendance_rate: float


@dataclass(frozen=True)
class RegisterGrid:
    class_name: str
    subject_code: str
    #: The start times of the class's started sessions, oldest first.
    session_starts: tuple[datetime, ...]
    rows: tuple[RegisterRow, ...]


def register_grid(*, actor: User, class_id: uuid.UUID) -> RegisterGrid:
    """A class's register: every enrolled student (by last and first name) against every
    started session (oldest first), with their attendance rate over this class's records.

    Four queries whatever the class's size. Raises NotFound (class), Forbidden (not the
    class's teacher or an admin).
    """
    school_class = structure.get_class_for(actor, class_id)
    sessions = db.session.execute(
        select(ClassSession.id, ClassSession.start_time)
        .where(
            ClassSession.class_id == class_id,
            ClassSession.status != SessionStatus.SCHEDULED,
            ClassSession.start_time.is_not(None),
        )
        .order_by(ClassSession.start_time, ClassSession.id)
    ).all()
    students = structure.enrolled_students(class_id)
    records = db.session.execute(
        select(
            Attendance.session_id,
            Attendance.student_id,
            Attendance.status,
            Attendance.absence_reason.is_not(None),
        )
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .where(
            ClassSession.class_id == class_id,
            ClassSession.status != SessionStatus.SCHEDULED,
        )
    )
    marks: dict[uuid.UUID, dict[uuid.UUID, AttendanceStatus]] = {}
    excused: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for session_id, student_id, status, is_excused in records:
        marks.setdefault(student_id, {})[session_id] = status
        if is_excused:
            excused.add((student_id, session_id))
    rows = []
    for student in students:
        own = marks.get(student.id, {})
        attended = sum(s != AttendanceStatus.ABSENT for s in own.values())
        rows.append(
            RegisterRow(
                student_number=student.student_number,
                last_name=student.user.last_name,
                first_name=student.user.first_name,
                statuses=tuple(own.get(session_id) for session_id, _ in sessions),
                excused=tuple((student.id, session_id) in excused for session_id, _ in sessions),
                attendance_rate=rate(attended, len(own)),
            )
        )
    return RegisterGrid(
        class_name=school_class.name,
        subject_code=school_class.subject.code,
        session_starts=tuple(start for _, start in sessions if start is not None),
        rows=tuple(rows),
    )
