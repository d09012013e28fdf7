"""The admin's list of attendance records: filtered, searchable, paged, and the choices of
its filters. One record with its audit trail is ``record_detail``; deleting one is
``marking.deletion``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from attendance_app.extensions import db
from attendance_app.models import (
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
from attendance_app.services.reporting.history import HistoryFilters, visible_records_filter


@dataclass(frozen=True)
class RecordFilters:
    status: AttendanceStatus | None = None
    subject_id: uuid.UUID | None = None
    class_id: uuid.UUID | None = None
    teacher_id: uuid.UUID | None = None  # Teacher.id
    date_from: date | None = None
    date_to: date | None = None

    def history(self) -> HistoryFilters:
        return HistoryFilters(
            date_from=self.date_from,
            date_to=self.date_to,
            subject_id=self.subject_id,
            status=self.status,
            class_id=self.class_id,
        )


@dataclass(frozen=True)
class RecordListRow:
    """One record as the list shows it (plain values)."""

    id: uuid.UUID
    status: AttendanceStatus
    marked_at: datetime
    notes: str
    session_id: uuid.UUID
    session_status: SessionStatus
    start_time: datetime
    class_name: str
    subject_code: str
    teacher_name: str
    student_number: str
    student_name: str
    student_email: str
    marked_by: str


def _like(text: str) -> str:
    """``text`` as a case-insensitive LIKE pattern matching it anywhere, wildcards escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_records(
    *,
    actor: User,
    filters: RecordFilters = RecordFilters(),
    query: str = "",
    page: int = 1,
    per_page: int = 50,
) -> Page[RecordListRow]:
    """Records under ``filters`` whose student's name, number or email contains ``query``,
    newest session first, one page of them (a page past the last shows the last; two
    queries). Raises Forbidden (not an admin)."""
    permissions.require_admin(actor)
    learner = aliased(User)
    tutor = aliased(User)
    marker = aliased(User)
    clauses = visible_records_filter(actor, filters.history())
    if filters.teacher_id is not None:
        clauses.append(SchoolClass.teacher_id == filters.teacher_id)
    query = (query or "").strip()
    if query:
        pattern = _like(query)
        clauses.append(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        learner.first_name + " " + learner.last_name,
                        learner.last_name + " " + learner.first_name,
                        Student.student_number,
                        learner.email,
                    )
                )
            )
        )

    def joined(stmt):
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
            )
        )
        .join(Subject, Subject.id == SchoolClass.subject_id)
        .join(Teacher, Teacher.id == SchoolClass.teacher_id)
        .join(tutor, tutor.id == Teacher.user_id)
        .outerjoin(marker, marker.id == Attendance.marked_by_id)
        .order_by(
            ClassSession.start_time.desc(),
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
        )
        for (
            rid,
            status,
            marked_at,
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
