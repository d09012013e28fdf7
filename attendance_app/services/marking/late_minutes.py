"""Minutes late: a LATE student's arrival corrected ("she came at 9:12, I marked her at
9:20"), by the record's id (the API) or by session and student (the roster's tile)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import (
    update,
)
from sqlalchemy.orm.attributes import set_committed_value

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    Channel,
    User,
    utcnow,
)
from attendance_app.services.errors import Invalid
from attendance_app.services.marking.corrections import (
    RETURNED,
    record_for_change,
    record_id_of,
    unlocked_session,
)
from attendance_app.services.marking.records import (
    MarkResult,
    announce,
    append_audit,
    same_status_audit,
)
from attendance_app.services.marking.rules import (
    NOT_LATE,
    late_minutes_problem,
)
from attendance_app.services.reporting.statistics import RecordRow
from attendance_app.services.transaction import unit_of_work


@unit_of_work
def set_minutes_late(
    *,
    actor: User,
    attendance_id: uuid.UUID,
    minutes: int,
    channel: Channel,
    at: datetime | None = None,
) -> MarkResult:
    """Correct how late a LATE student arrived ("she came at 9:12, I marked her at 9:20"):
    the arrival becomes the start + ``minutes``. One audited change (status LATE → LATE, the
    reason says the minutes), broadcast like a tap so every view repaints "+N min".

    Order: record exists (NotFound) → permission (Forbidden) → rule 3 (Invalid) → the record
    is LATE (Invalid on ``minutes``) → the bounds (Invalid on ``minutes``).
    """
    record, student, session, _ = record_for_change(actor, attendance_id)
    if record.status != AttendanceStatus.LATE:
        raise Invalid(NOT_LATE, field="minutes")
    now = at or utcnow()
    if message := late_minutes_problem(minutes, session, now):
        raise Invalid(message, field="minutes")
    assert session.start_time is not None
    before, old_late_at = record.minutes_late(session.start_time), record.late_at
    late_at = session.start_time + timedelta(minutes=minutes)
    written = db.session.execute(
        update(Attendance)
        .where(Attendance.id == attendance_id)
        .values(
            late_at=late_at,
            marked_by_id=actor.id,
            updated_at=now,
            version=Attendance.version + 1,
        )
        .returning(*(getattr(Attendance, key) for key in RETURNED))
        .execution_options(synchronize_session=False)
    ).one()
    change_ids = append_audit(
        [
            same_status_audit(
                record,
                session,
                reason=f"minutes late {before} → {minutes}",
                old_late_at=old_late_at,
                new_late_at=late_at,
            )
        ],
        actor,
        channel,
        now,
    )
    announce(session, (record.id,), actor, (record.student_id,))
    for key, value in zip(RETURNED, written, strict=True):
        set_committed_value(record, key, value)
    return MarkResult(session, RecordRow(record, student, actor.full_name), change_ids[0])


@unit_of_work
def set_student_minutes_late(
    *,
    actor: User,
    session_id: uuid.UUID,
    student_id: uuid.UUID,
    minutes: int,
    channel: Channel,
    at: datetime | None = None,
) -> MarkResult:
    """``set_minutes_late`` for the roster, which knows the session and the student: an
    unmarked student has no minutes late (NOT_LATE), like any student not LATE."""
    unlocked_session(actor, session_id)
    record_id = record_id_of(session_id, student_id)
    if record_id is None:
        raise Invalid(NOT_LATE, field="minutes")
    return set_minutes_late(
        actor=actor, attendance_id=record_id, minutes=minutes, channel=channel, at=at
    )
