"""Marking's rules: the contract's messages beside the checks that raise them, and the small
pure decisions every write path shares (a tap's next status, a first mark's late time, whether
a note can be stored). The writes themselves are in ``records`` (a first mark), ``corrections``
(a change) and ``attendance`` (a mark)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import (
    ColumnElement,
    case,
    literal,
    null,
)

from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    ClassSession,
    SessionStatus,
    Student,
)
from attendance_app.services import transaction
from attendance_app.services.errors import Invalid, NotFound
from attendance_app.services.fields import NOTES_MAX
from attendance_app.services.school.structure import STUDENT_NOT_FOUND
from attendance_app.shapes import NO_NUL, too_long

# The contract's messages, beside the rules that raise them.
NOT_STARTED = "Cannot mark attendance - session has not started"
ALREADY_MARKED = "Attendance already marked for this student in this session"
# Rule 2 is the database's: two marks racing past the check still answer with its message.
transaction.unique_conflict(
    "unique_attendance_per_session",
    "attendance.session_id, attendance.student_id",
    message=ALREADY_MARKED,
)
LOCKED = "Cannot modify attendance - session ended and is locked"
DUPLICATE_IN_REQUEST = "Duplicate student in request"
RECORD_NOT_FOUND = "Attendance record not found."
NOTHING_TO_UPDATE = "Provide status or notes to update."
NOTE_NEEDS_A_MARK = "Mark the student before adding a note."
NOT_LATE = "Only a late arrival has minutes late: mark the student Late first."

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

#: The statuses an excuse may annotate (services/marking/excuses.py); a change of a record to
#: any other status ends its excuse: the student was there after all.
EXCUSABLE = (AttendanceStatus.ABSENT, AttendanceStatus.LATE)
#: A record's excuse columns when it is not excused.
NOT_EXCUSED = {
    "absence_reason": None,
    "excuse_note": None,
    "excused_at": None,
    "excused_by_id": None,
}

#: The order a tap moves through; an unmarked student becomes PRESENT.
CYCLE = (AttendanceStatus.PRESENT, AttendanceStatus.ABSENT, AttendanceStatus.LATE)


def session_ended_message(end_time: datetime) -> str:
    """Rule 1 for an ENDED session: "… session ended at 14:30 on Jan 10, 2026" (UTC)."""
    if end_time.tzinfo is not None:
        end_time = end_time.astimezone(UTC)
    return (
        f"Cannot mark attendance - session ended at {end_time:%H:%M} "
        f"on {_MONTHS[end_time.month - 1]} {end_time.day}, {end_time.year}"
    )


def not_enrolled_message(student: Student, session: ClassSession) -> str:
    return f"Student '{student.student_number}' is not enrolled in '{session.school_class.name}'"


def next_status(current: AttendanceStatus | None) -> AttendanceStatus:
    """PRESENT → ABSENT → LATE → PRESENT; not marked → PRESENT."""
    if current is None:
        return CYCLE[0]
    return CYCLE[(CYCLE.index(current) + 1) % len(CYCLE)]


@overload
def first_late_at(status: AttendanceStatus | str, now: datetime) -> datetime | None: ...
@overload
def first_late_at(
    status: ColumnElement[Any], now: datetime | ColumnElement[Any]
) -> ColumnElement[Any]: ...
def first_late_at(
    status: AttendanceStatus | str | ColumnElement[Any], now: datetime | ColumnElement[Any]
) -> datetime | ColumnElement[Any] | None:
    """A first mark's ``late_at``: a LATE first mark is late from the marking time ``now``,
    any other status has none. ``status`` is a value (a row's parameters) or a SQL column
    (a bulk INSERT … SELECT), which gets the same rule as a CASE (``now`` a value or a
    bound parameter then)."""
    if isinstance(status, ColumnElement):
        late_at = (
            now
            if isinstance(now, ColumnElement)
            else literal(now, Attendance.__table__.c.late_at.type)
        )
        return case((status == AttendanceStatus.LATE.value, late_at), else_=null())
    # A value may arrive as the enum's text ("LATE"), which compares equal to the member.
    return now if status == AttendanceStatus.LATE else None


# --- the rules, each once ------------------------------------------------------------------


def note_problem(notes: str) -> str | None:
    """Why ``notes`` cannot be stored, or None: a NUL (PostgreSQL cannot store one in text,
    and silently dropping it would change what was written), then the 2000 limit (refused,
    never cut: a cut note could lose its point)."""
    if "\x00" in notes:
        return NO_NUL
    if len(notes) > NOTES_MAX:
        return too_long(NOTES_MAX)
    return None


def clean_notes(notes: str | None) -> str | None:
    """The note as stored (exactly as given: a leading tab is the export's business), every
    edge answered the same. Raises Invalid on ``notes``."""
    if notes is None:
        return None
    if message := note_problem(notes):
        raise Invalid(message, field="notes")
    return notes


def require_markable(session: ClassSession) -> None:
    """Rule 1: only an ACTIVE session takes new marks."""
    if session.status == SessionStatus.ENDED:
        assert session.end_time is not None  # ending a session stamps it (sessions.py)
        raise Invalid(session_ended_message(session.end_time), field="session")
    if session.status != SessionStatus.ACTIVE:
        raise Invalid(NOT_STARTED, field="session")


def require_unlocked(session: ClassSession) -> None:
    """Rule 3: an ENDED session's records never change."""
    if session.is_locked:
        raise Invalid(LOCKED, field="session")


def require_enrolled(session: ClassSession, student: Student | None, enrolled: bool) -> Student:
    """Student exists (NotFound) → rule 4, enrolled in the session's class (Invalid); the
    student."""
    if student is None:
        raise NotFound(STUDENT_NOT_FOUND)
    if not enrolled:
        raise Invalid(not_enrolled_message(student, session), field="student")
    return student


def late_minutes_problem(minutes: int, session: ClassSession, now: datetime) -> str | None:
    """Why ``minutes`` cannot be a LATE student's minutes late, or None: a whole number from
    0 to the minutes since the session started (nobody arrives in the future)."""
    assert session.start_time is not None  # only a started session has LATE records
    elapsed = max(0, int((now - session.start_time).total_seconds() // 60))
    if minutes < 0 or minutes > elapsed:
        return (
            f"Minutes late must be a whole number from 0 to {elapsed} "
            "(the minutes since the session started)."
        )
    return None
