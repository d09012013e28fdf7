"""The admin's list of attendance records: filtered, searchable, paged, and the choices of
its filters. One record with its audit trail is ``record_detail``; deleting one is
``marking.deletion``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.orm.util import AliasedClass

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
    Teacher,
    User,
    full_name,
)
from attendance_app.services import permissions
from attendance_app.services.paging import Page, clamp
from attendance_app.services.reporting.history import (
    HistoryFilters,
    check_period,
    visible_records_filter,
)
from attendance_app.services.school.people import person_search

Ts = TypeVarTuple("Ts")


@dataclass(frozen=True)
class RecordFilters:
    """The filters of attendance records: the admin's list and the CSV export take the same
    ones (so a page's download holds the page's records)."""

    session_id: uuid.UUID | None = None
    class_id: uuid.UUID | None = None
    student_id: uuid.UUID | None = None  # Student.id
    subject_id: uuid.UUID | None = None
    teacher_id: uuid.UUID | None = None  # Teacher.id
    status: AttendanceStatus | None = None
    date_from: date | None = None
    date_to: date | None = None
    #: A person search (``people.person_search``) on the record's student.
    search: str = ""

    def history(self) -> HistoryFilters:
        return HistoryFilters(
            date_from=self.date_from,
            date_to=self.date_to,
            subject_id=self.subject_id,
            status=self.status,
            class_id=self.class_id,
        )


def record_clauses(
    actor: User, filters: RecordFilters, learner: type[User] | AliasedClass[User]
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the records ``actor`` may see under ``filters``, on a query joining
    Attendance, ClassSession, SchoolClass, Student and the student's user as ``learner``.

    A teacher sees only the records of their classes whatever the filters name, so another
    teacher's ``teacher_id`` leaves them nothing."""
    clauses = visible_records_filter(actor, filters.history())
    if filters.session_id is not None:
        clauses.append(Attendance.session_id == filters.session_id)
    if filters.student_id is not None:
        clauses.append(Attendance.student_id == filters.student_id)
    if filters.teacher_id is not None:
        clauses.append(SchoolClass.teacher_id == filters.teacher_id)
    if filters.search.strip():
        clauses.append(person_search(filters.search, learner))
    return clauses


@dataclass(frozen=True)
class RecordListRow:
    """One record as the list shows it (plain values)."""

    id: uuid.UUID
    status: AttendanceStatus
    marked_at: datetime
    updated_at: datetime  # the last change (status or notes); marked_at when none
    notes: str
    session_id: uuid.UUID
    session_status: SessionStatus
    start_time: datetime | None  # nullable in the schema (the list shows "—")
    class_name: str
    subject_code: str
    teacher_name: str
    student_number: str
    student_name: str
    student_email: str
    marked_by: str  # who marked it, or who changed it last
    absence_reason: AbsenceReason | None = None  # None: not excused
    excuse_note: str | None = None

    @property
    def changed(self) -> bool:
        """Changed since it was first marked."""
        return self.updated_at > self.marked_at


def list_records(
    *,
    actor: User,
    filters: RecordFilters = RecordFilters(),
    page: int = 1,
    per_page: int = 50,
) -> Page[RecordListRow]:
    """Records under ``filters`` (``search`` on the student's name, number or email), newest
    session first, one page of them (a page past the last shows the last; two queries).
    Raises Forbidden (not an admin), Invalid (PERIOD_REVERSED)."""
    permissions.require_admin(actor)
    check_period(filters.date_from, filters.date_to)
    learner = aliased(User)
    tutor = aliased(User)
    marker = aliased(User)
    clauses = record_clauses(actor, filters, learner)

    def joined(stmt: Select[*Ts]) -> Select[*Ts]:
        return (
            stmt.select_from(Attendance)
            .join(ClassSession, ClassSession.id == Attendance.session_id)
            .join(SchoolClass, SchoolClass.id == ClassSession.class_id)
            .join(Student, Student.id == Attendance.student_id)
            .join(learner, learner.id == Student.user_id)
            .where(*clauses)
        )

    total = db.session.scalar(joined(select(func.count(Attendance.id)))) or 0
    page = clamp(page, total, per_page)
    stmt = (
        joined(
            select(
                Attendance.id,
                Attendance.status,
                Attendance.marked_at,
                Attendance.updated_at,
                Attendance.notes,
                ClassSession.id,
                ClassSession.status,
                ClassSession.start_time,
                SchoolClass.name,
                Subject.code,
                tutor.first_name,
                tutor.last_name,
                Student.student_number,
                learner.first_name,
                learner.last_name,
                learner.email,
                marker.first_name,
                marker.last_name,
                Attendance.absence_reason,
                Attendance.excuse_note,
            )
        )
        .join(Subject, Subject.id == SchoolClass.subject_id)
        .join(Teacher, Teacher.id == SchoolClass.teacher_id)
        .join(tutor, tutor.id == Teacher.user_id)
        .outerjoin(marker, marker.id == Attendance.marked_by_id)
        .order_by(
            # A session without a start (the schema allows it) last on both databases, as
            # history lists it: PostgreSQL would put NULL first in a descending order.
            ClassSession.start_time.desc().nulls_last(),
            ClassSession.id,
            learner.last_name,
            learner.first_name,
            Attendance.id,
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = [
        RecordListRow(
            id=rid,
            status=status,
            marked_at=marked_at,
            updated_at=updated_at or marked_at,
            notes=notes or "",
            session_id=sid,
            session_status=session_status,
            start_time=start_time,
            class_name=class_name,
            subject_code=code,
            teacher_name=full_name(t_first, t_last),
            student_number=number,
            student_name=full_name(s_first, s_last),
            student_email=email,
            marked_by=full_name(m_first, m_last),
            absence_reason=absence_reason,
            excuse_note=excuse_note,
        )
        for (
            rid,
            status,
            marked_at,
            updated_at,
            notes,
            sid,
            session_status,
            start_time,
            class_name,
            code,
            t_first,
            t_last,
            number,
            s_first,
            s_last,
            email,
            m_first,
            m_last,
            absence_reason,
            excuse_note,
        ) in db.session.execute(stmt)
    ]
    return Page(rows, int(total), page, per_page)


@dataclass(frozen=True)
class FilterOptions:
    subjects: list[tuple[uuid.UUID, str]]
    classes: list[tuple[uuid.UUID, str]]
    teachers: list[tuple[uuid.UUID, str]]  # Teacher.id, full name


def filter_options(*, actor: User) -> FilterOptions:
    """The choices of the list's filters (three queries). Raises Forbidden."""
    permissions.require_admin(actor)
    subjects = db.session.execute(
        select(Subject.id, Subject.code, Subject.name).order_by(Subject.code)
    )
    classes = db.session.execute(
        select(SchoolClass.id, SchoolClass.name).order_by(SchoolClass.name, SchoolClass.id)
    )
    teachers = db.session.execute(
        select(Teacher.id, User.first_name, User.last_name)
        .join(User, User.id == Teacher.user_id)
        .order_by(User.last_name, User.first_name, Teacher.id)
    )
    return FilterOptions(
        subjects=[(sid, f"{code} · {name}") for sid, code, name in subjects],
        classes=[(cid, name) for cid, name in classes],
        teachers=[(tid, full_name(first, last)) for tid, first, last in teachers],
    )
