"""One attendance record as an admin reads it: its session, student, marker and the full
audit trail of that student in that session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from attendance_app.extensions import db
from attendance_app.models import (
    AbsenceReason,
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    ClassSession,
    SessionStatus,
    Student,
    User,
    full_name,
)
from attendance_app.services import permissions
from attendance_app.services.errors import NotFound
from attendance_app.services.marking.attendance import RECORD_NOT_FOUND


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
    old_absence_reason: AbsenceReason | None = None
    new_absence_reason: AbsenceReason | None = None


@dataclass(frozen=True)
class RecordDetail:
    record: Attendance
    session: ClassSession
    student: Student
    marked_by: str
    trail: list[AuditEntry]
    excused_by: str = ""

    @property
    def needs_superuser(self) -> bool:
        return self.session.status == SessionStatus.ENDED


def record_detail(*, actor: User, record_id: uuid.UUID) -> RecordDetail:
    """A record with its session, class, student and audit trail (oldest first), in two
    queries. The trail is the student's in that session, so it includes changes made to an
    earlier record there that was undone. Raises Forbidden (not an admin), NotFound."""
    permissions.require_admin(actor)
    marker = aliased(User)
    excuser = aliased(User)
    found = db.session.execute(
        select(
            Attendance,
            ClassSession,
            Student,
            marker.first_name,
            marker.last_name,
            excuser.first_name,
            excuser.last_name,
        )
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .join(Student, Student.id == Attendance.student_id)
        .outerjoin(marker, marker.id == Attendance.marked_by_id)
        .outerjoin(excuser, excuser.id == Attendance.excused_by_id)
        .where(Attendance.id == record_id)
    ).first()
    if found is None:
        raise NotFound(RECORD_NOT_FOUND)
    record, session, student, m_first, m_last, e_first, e_last = found
    who = aliased(User)
    trail = [
        AuditEntry(
            changed_at=change.changed_at,
            actor_name=full_name(first, last),
            channel=change.channel,
            old_status=change.old_status,
            new_status=change.new_status,
            old_notes=change.old_notes,
            new_notes=change.new_notes,
            reason=change.reason,
            old_absence_reason=change.old_absence_reason,
            new_absence_reason=change.new_absence_reason,
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
    marked_by, excused_by = full_name(m_first, m_last), full_name(e_first, e_last)
    return RecordDetail(record, session, student, marked_by, trail, excused_by)
