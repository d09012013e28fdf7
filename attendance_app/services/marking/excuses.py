"""Excused absences: an annotation beside a record's status, given or withdrawn by the class's
teacher or an admin, also after the session ended (it changes no status, so rule 3 does not
apply), audited and broadcast like any change of the record."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from attendance_app.extensions import db
from attendance_app.models import (
    AbsenceReason,
    Attendance,
    Channel,
    ClassSession,
    User,
    full_name,
    utcnow,
)
from attendance_app.models.attendance import EXCUSE_NOTE_MAX
from attendance_app.services import events, permissions
from attendance_app.services.errors import Invalid, NotFound
from attendance_app.services.fields import control_character_message
from attendance_app.services.marking.attendance import (
    EXCUSABLE,
    NOT_EXCUSED,
    RECORD_NOT_FOUND,
    append_audit,
    load_students,
    same_status_audit,
)
from attendance_app.services.marking.sessions import (
    bump_live_seq,
    ended_session_students,
    lock_session_of_record,
)
from attendance_app.services.reporting.statistics import RecordRow
from attendance_app.services.transaction import unit_of_work
from attendance_app.shapes import too_long

# The contract's messages (POST/DELETE /api/attendance/{id}/excuse/).
EXCUSED = "Absence excused"
WITHDRAWN = "Excuse withdrawn"
NOT_EXCUSABLE = "Only an absence or a late arrival can be excused."

#: How pages and messages name each reason.
REASON_WORDS = {
    AbsenceReason.ILLNESS: "Illness",
    AbsenceReason.MEDICAL: "Medical appointment",
    AbsenceReason.FAMILY: "Family reasons",
    AbsenceReason.SCHOOL_ACTIVITY: "School activity",
    AbsenceReason.RELIGIOUS: "Religious observance",
    AbsenceReason.OTHER: "Other",
}


def check_note(note: str | None) -> str | None:
    """The note as stored (stripped; None when empty). Raises Invalid on ``note``."""
    note = (note or "").strip()
    if not note:
        return None
    if message := control_character_message(note):
        raise Invalid(message, field="note")
    if len(note) > EXCUSE_NOTE_MAX:
        raise Invalid(too_long(EXCUSE_NOTE_MAX), field="note")
    return note


@dataclass(frozen=True)
class ExcuseResult:
    session: ClassSession
    row: RecordRow
    message: str
    changed: bool


def _locked_record(actor: User, attendance_id: uuid.UUID) -> tuple[Attendance, ClassSession]:
    """The record and its session, both row-locked (the session first, as every writer
    takes them): exists (NotFound) → the class's teacher or an admin (Forbidden). The session
    may be ENDED: an excuse is not a mark."""
    session = lock_session_of_record(attendance_id)
    if session is None:
        raise NotFound(RECORD_NOT_FOUND)
    record = db.session.scalars(
        select(Attendance)
        .where(Attendance.id == attendance_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if record is None:  # removed while this waited for the session's lock
        raise NotFound(RECORD_NOT_FOUND)
    permissions.require_session_manager(actor, session)
    return record, session


def _write(
    record: Attendance,
    session: ClassSession,
    actor: User,
    channel: Channel,
    values: Mapping[str, object],
    now: datetime,
) -> None:
    """Apply the excuse columns, audit the change (status unchanged) and announce it."""
    old_reason = record.absence_reason
    db.session.execute(
        update(Attendance)
        .where(Attendance.id == record.id)
        .values(**values, updated_at=now, version=Attendance.version + 1)
    )
    append_audit(
        [
            same_status_audit(
                record,
                session,
                old_absence_reason=old_reason,
                new_absence_reason=values["absence_reason"],
                reason=values.get("excuse_note"),
            )
        ],
        actor,
        channel,
        now,
    )
    # The alerts a now-excused run of absences raised are withdrawn (notifying/alerts.py).
    events.record(
        db.session,
        events.AttendanceChanged(
            session.id,
            (record.id,),
            actor.id,
            bump_live_seq(session),
            excused_student_ids=(record.student_id,) if values["absence_reason"] else (),
            ended_session_student_ids=ended_session_students(session, record.student_id),
        ),
    )


def _result(record: Attendance, session: ClassSession, message: str, changed: bool) -> ExcuseResult:
    db.session.refresh(record)
    student = load_students([record.student_id])[record.student_id]
    marker = db.session.get(User, record.marked_by_id) if record.marked_by_id else None
    name = full_name(marker.first_name, marker.last_name) if marker else None
    return ExcuseResult(session, RecordRow(record, student, name or None), message, changed)


@unit_of_work
def excuse_absence(
    *,
    actor: User,
    attendance_id: uuid.UUID,
    reason: AbsenceReason,
    note: str | None = None,
    channel: Channel,
    at: datetime | None = None,
) -> ExcuseResult:
    """Excuse an ABSENT or LATE record for ``reason`` (with an optional note), or change the
    excuse it has; the status, its marker and ``marked_at`` stay.

    Order: record exists (NotFound) → the class's teacher or an admin (Forbidden) → note
    shape (Invalid on ``note``) → ABSENT or LATE (Invalid, NOT_EXCUSABLE). Allowed on ENDED
    sessions. Giving the excuse it already has changes nothing and writes nothing.
    """
    record, session = _locked_record(actor, attendance_id)
    note = check_note(note)
    if record.status not in EXCUSABLE:
        raise Invalid(NOT_EXCUSABLE, field="non_field_errors")
    if record.absence_reason == reason and record.excuse_note == note:
        return _result(record, session, EXCUSED, changed=False)
    now = at or utcnow()
    values = {
        "absence_reason": reason,
        "excuse_note": note,
        "excused_at": now,
        "excused_by_id": actor.id,
    }
    _write(record, session, actor, channel, values, now)
    return _result(record, session, EXCUSED, changed=True)


@unit_of_work
def withdraw_excuse(
    *,
    actor: User,
    attendance_id: uuid.UUID,
    channel: Channel,
    at: datetime | None = None,
) -> ExcuseResult:
    """Withdraw a record's excuse (the absence counts as unexcused again).

    Order: record exists (NotFound) → the class's teacher or an admin (Forbidden). Allowed
    on ENDED sessions; a record that is not excused is left as it is (nothing written).
    """
    record, session = _locked_record(actor, attendance_id)
    if record.absence_reason is None:
        return _result(record, session, WITHDRAWN, changed=False)
    now = at or utcnow()
    _write(record, session, actor, channel, dict(NOT_EXCUSED), now)
    return _result(record, session, WITHDRAWN, changed=True)
