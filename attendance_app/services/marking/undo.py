"""Undo: put back what one tap or one bulk action changed, as a new, audited change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    ClassSession,
    User,
    utcnow,
)
from attendance_app.services import events, permissions
from attendance_app.services.errors import Invalid, NotFound
from attendance_app.services.marking.attendance import append_audit, require_unlocked
from attendance_app.services.marking.sessions import bump_live_seq, load_session
from attendance_app.services.transaction import unit_of_work

NOTHING_TO_UNDO = "There is nothing to undo."
CHANGED_SINCE = "This can no longer be undone: the attendance was changed again since."
TOO_OLD = "This can no longer be undone: undo is possible for a few minutes only."
NOT_YOURS = "Only the person who made a change can undo it."

#: How long after a change its Undo still works (the page offers it for a few seconds).
UNDO_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class UndoResult:
    session: ClassSession
    student_ids: list[uuid.UUID]


def _excuse_back(change: AttendanceChange, actor: User, now: datetime) -> dict[str, object]:
    """A tap to PRESENT that ended an excuse, undone, gives the excuse's reason back (its
    note is not kept); any other tap left the excuse as it was."""
    if change.old_absence_reason == change.new_absence_reason:
        return {}
    return {
        "absence_reason": change.old_absence_reason,
        "excused_at": now,
        "excused_by_id": actor.id,
    }


def _late_at_back(change: AttendanceChange, now: datetime) -> datetime | None:
    """The late time an undone change gives back: the one the record had before it (a student
    LATE since 09:05 is late since 09:05 again, not since the undo), so the minutes late
    shown stay as they were. An audit row written before migration 0013 kept none: a LATE
    record is then late from ``now``."""
    if change.old_status != AttendanceStatus.LATE:
        return None
    return change.old_late_at or now


@unit_of_work
def undo_change(
    *,
    actor: User,
    session_id: uuid.UUID,
    change_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    channel: Channel,
    at: datetime | None = None,
) -> UndoResult:
    """Undo the change ``change_id`` (a tap) or, if it belongs to a bulk action, the whole
    action. A first mark is undone by removing the record ("not marked" again).

    Order: session exists (NotFound) → permission (Forbidden) → locked (rule 3, Invalid) →
    change exists in this session and is the actor's (NotFound, Invalid) → not too old →
    nothing changed those records since (Invalid).
    """
    session = load_session(session_id, lock=True)
    permissions.require_session_manager(actor, session)
    require_unlocked(session)
    if change_id is not None:
        change = db.session.get(AttendanceChange, change_id)
    else:
        change = db.session.scalars(
            select(AttendanceChange).where(AttendanceChange.group_id == group_id).limit(1)
        ).first()
    if change is None or change.session_id != session_id or change.new_status is None:
        raise NotFound(NOTHING_TO_UNDO)
    if (
        change.old_status is not None
        and change.old_status == change.new_status
        and (change.old_absence_reason != change.new_absence_reason)
    ):
        # An excuse given or withdrawn is not a tap: it is withdrawn or given again instead.
        raise NotFound(NOTHING_TO_UNDO)
    if change.actor_id != actor.id and not permissions.is_admin(actor):
        raise Invalid(NOT_YOURS)
    now = at or utcnow()
    if now - change.changed_at > UNDO_WINDOW:
        raise Invalid(TOO_OLD)
    changes = [change]
    if change.group_id is not None:
        changes = list(
            db.session.scalars(
                select(AttendanceChange).where(AttendanceChange.group_id == change.group_id)
            )
        )
    record_ids = [c.attendance_id for c in changes]
    if None in record_ids:
        raise Invalid(CHANGED_SINCE)
    later = db.session.scalar(
        select(AttendanceChange.id)
        .where(
            AttendanceChange.attendance_id.in_(record_ids),
            AttendanceChange.changed_at >= change.changed_at,
            AttendanceChange.id.not_in([c.id for c in changes]),
        )
        .limit(1)
    )
    if later is not None:
        raise Invalid(CHANGED_SINCE)

    created = [c for c in changes if c.old_status is None]
    updated = [c for c in changes if c.old_status is not None]
    undo_group = uuid.uuid4() if change.group_id else None
    # Audit first: a removed record's id is still there to point at (then set to NULL).
    append_audit(
        [
            {
                "attendance_id": c.attendance_id,
                "session_id": session.id,
                "student_id": c.student_id,
                "old_status": c.new_status,
                "new_status": c.old_status,
                "old_notes": c.new_notes,
                "new_notes": c.old_notes,
                "old_absence_reason": c.new_absence_reason,
                "new_absence_reason": c.old_absence_reason,
                "old_late_at": c.new_late_at,
                "new_late_at": _late_at_back(c, now),
                "reason": "undo",
            }
            for c in changes
        ],
        actor,
        channel,
        now,
        undo_group,
    )
    if created:
        db.session.execute(
            delete(Attendance).where(Attendance.id.in_([c.attendance_id for c in created]))
        )
    for c in updated:  # a tap changes one record; bulk actions only create
        db.session.execute(
            update(Attendance)
            .where(Attendance.id == c.attendance_id)
            .values(
                status=c.old_status,
                notes=c.old_notes or "",
                marked_by_id=actor.id,
                updated_at=now,
                version=Attendance.version + 1,
                late_at=_late_at_back(c, now),
                **_excuse_back(c, actor, now),
            )
        )
    events.record(
        db.session,
        events.AttendanceChanged(
            session.id,
            tuple(c.attendance_id for c in updated if c.attendance_id is not None),
            actor.id,
            bump_live_seq(session),
            removed_student_ids=tuple(c.student_id for c in created),
        ),
    )
    return UndoResult(session, [c.student_id for c in changes])
