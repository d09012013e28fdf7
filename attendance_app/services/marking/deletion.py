"""Deleting an attendance record (admins; an ENDED session's records by a superuser only),
kept in the audit trail and broadcast so live views show the student as not marked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    Channel,
    User,
    utcnow,
)
from attendance_app.services import events, permissions
from attendance_app.services.errors import NotFound
from attendance_app.services.marking.attendance import RECORD_NOT_FOUND, append_audit
from attendance_app.services.marking.sessions import (
    bump_live_seq,
    ended_session_students,
    load_session,
)
from attendance_app.services.transaction import unit_of_work

ENDED_NEEDS_SUPERUSER = "Only a superuser can delete a record of an ended session."
DELETED_REASON = "deleted"


@dataclass(frozen=True)
class DeleteResult:
    session_id: uuid.UUID
    student_id: uuid.UUID


@unit_of_work
def delete_record(
    *,
    actor: User,
    record_id: uuid.UUID,
    channel: Channel,
    at: datetime | None = None,
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
    permissions.require_record_deleter(actor, session, ENDED_NEEDS_SUPERUSER)
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
                "old_late_at": record.late_at,
                "new_late_at": None,
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
            ended_session_student_ids=ended_session_students(session, record.student_id),
        ),
    )
    return DeleteResult(session.id, record.student_id)
