"""The admin's view of attendance records: a filtered, searchable list, one record with its
audit trail, and deletion (an ENDED session's records by a superuser only)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import aliased

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    ClassSession,
    SchoolClass,
    SessionStatus,
    Student,
    Subject,
    Teacher,
    User,
    utcnow,
)
from attendance_app.services import events, permissions
from attendance_app.services.errors import Forbidden, NotFound
from attendance_app.services.marking.attendance import append_audit
from attendance_app.services.marking.sessions import bump_live_seq, load_session
from attendance_app.services.paging import Page, clamp
from attendance_app.services.reporting.history import HistoryFilters, visible_records_filter
from attendance_app.services.transaction import unit_of_work

RECORD_NOT_FOUND = "Attendance record not found."
ENDED_NEEDS_SUPERUSER = "Only a superuser can delete a record of an ended session."
DELETED_REASON = "deleted"


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


def _name(first: str | None, last: str | None) -> str:
    return f"{first or ''} {last or ''}".strip()


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
            teacher_name=_name(t_first, t_last),
            student_number=number,
            student_name=_name(s_first, s_last),
            student_email=email,
            marked_by=_name(m_first, m_last),
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
        teachers=[(tid, _name(first, last)) for tid, first, last in teachers],
    )


@dataclass(frozen=True)
class AuditEntry:
    changed_at: datetime
    actor_name: str
    channel: Channel
    old_status: AttendanceStatus | None
    new_status: AttendanceStatus | None
    old_notes: str | None
    new_notes: str | None
    reason: str | None


@dataclass(frozen=True)
class RecordDetail:
    record: Attendance
    session: ClassSession
    student: Student
    marked_by: str
    trail: list[AuditEntry]

    @property
    def needs_superuser(self) -> bool:
        return self.session.status == SessionStatus.ENDED


def record_detail(*, actor: User, record_id: uuid.UUID) -> RecordDetail:
    """A record with its session, class, student and audit trail (oldest first), in two
    queries. The trail is the student's in that session, so it includes changes made to an
    earlier record there that was undone. Raises Forbidden (not an admin), NotFound."""
    permissions.require_admin(actor)
    marker = aliased(User)
    found = db.session.execute(
        select(Attendance, ClassSession, Student, marker.first_name, marker.last_name)
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .join(Student, Student.id == Attendance.student_id)
        .outerjoin(marker, marker.id == Attendance.marked_by_id)
        .where(Attendance.id == record_id)
    ).first()
    if found is None:
        raise NotFound(RECORD_NOT_FOUND)
    record, session, student, m_first, m_last = found
    who = aliased(User)
    trail = [
        AuditEntry(
            changed_at=change.changed_at,
            actor_name=_name(first, last) if first is not None or last is not None else "",
            channel=change.channel,
            old_status=change.old_status,
            new_status=change.new_status,
            old_notes=change.old_notes,
            new_notes=change.new_notes,
            reason=change.reason,
        )
        for change, first, last in db.session.execute(
            select(AttendanceChange, who.first_name, who.last_name)
            .outerjoin(who, who.id == AttendanceChange.actor_id)
            .where(
                AttendanceChange.session_id == record.session_id,
                AttendanceChange.student_id == record.student_id,
            )
            .order_by(AttendanceChange.changed_at, AttendanceChange.id)
        )
    ]
    return RecordDetail(record, session, student, _name(m_first, m_last), trail)


@dataclass(frozen=True)
class DeleteResult:
    session_id: uuid.UUID
    student_id: uuid.UUID


@unit_of_work
def delete_record(
    *,
    actor: User,
    record_id: uuid.UUID,
    at: datetime | None = None,
    channel: Channel = Channel.WEB,
) -> DeleteResult:
    """Delete an attendance record, keeping an audit row of what it held; live views see
    the student as not marked.

    Order: admin (Forbidden) → record exists (NotFound) → a record of an ENDED session only
    by a superuser (Forbidden, ENDED_NEEDS_SUPERUSER).
    """
    permissions.require_admin(actor)
    record = db.session.get(Attendance, record_id)
    if record is None:
        raise NotFound(RECORD_NOT_FOUND)
    session = load_session(record.session_id, lock=True)
    if session.status == SessionStatus.ENDED and not actor.is_superuser:
        raise Forbidden(ENDED_NEEDS_SUPERUSER)
    # Re-read under the session's lock: a concurrent undo or delete may have removed it.
    record = db.session.scalars(
        select(Attendance)
        .where(Attendance.id == record_id)
        .execution_options(populate_existing=True)
    ).first()
    if record is None:
        raise NotFound(RECORD_NOT_FOUND)
    # Audit first: the record's id is still there to point at (then set to NULL).
    append_audit(
        [
            {
                "attendance_id": record.id,
                "session_id": session.id,
                "student_id": record.student_id,
                "old_status": record.status,
                "new_status": None,
                "old_notes": record.notes,
                "new_notes": None,
                "reason": DELETED_REASON,
            }
        ],
        actor,
        channel,
        at or utcnow(),
    )
    db.session.execute(delete(Attendance).where(Attendance.id == record.id))
    events.record(
        db.session,
        events.AttendanceChanged(
            session.id,
            (),
            actor.id,
            bump_live_seq(session),
            removed_student_ids=(record.student_id,),
        ),
    )
    return DeleteResult(session.id, record.student_id)
