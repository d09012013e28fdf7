"""Self check-in: the rotating code shown in the room, and a student's one-tap mark.

Codes are TOTP (RFC 6238, pyotp) over a secret kept per session: six digits that change every
``CHECK_IN_PERIOD_SECONDS`` (30), counted from the Unix epoch like any authenticator app. A
code is accepted in its own period and the next one (a student typing it as it changes is not
refused), so a code seen outside the room is useless a period later. The secret is made the
first time a code is shown and never leaves the server.

A check-in is a first mark (rule 2: it never overwrites), made by the student themself: the
record's marker is the student, which is how every view tells a check-in from a teacher's
mark (``is_checked_in``); a teacher's later tap makes them the marker, as for any correction.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from flask import current_app
from sqlalchemy import and_, func, select

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    Channel,
    CheckInFailure,
    CheckInSecret,
    ClassSession,
    Enrollment,
    SessionStatus,
    Student,
    User,
    utcnow,
)
from attendance_app.services import permissions
from attendance_app.services.dialect import insert
from attendance_app.services.errors import Invalid, Throttled
from attendance_app.services.marking.attendance import (
    MarkResult,
    enrolled_ids,
    not_enrolled_message,
    require_markable,
    write_first_mark,
)
from attendance_app.services.marking.sessions import load_session
from attendance_app.services.transaction import unit_of_work

# The messages, beside the rules that raise them.
CODE_INVALID = "Invalid or expired check-in code."
TOO_MANY_WRONG_CODES = (
    "Too many wrong check-in codes for this session. Ask your teacher to mark you."
)

#: Wrong codes one student may send for one session; the next attempt answers 429 for the
#: rest of the session (even with the right code), so guessing 6 digits is hopeless.
MAX_WRONG_CODES = 5
CODE_DIGITS = 6


def period_seconds() -> int:
    """How long each code is shown (``CHECK_IN_PERIOD_SECONDS``, default 30)."""
    return int(current_app.config.get("CHECK_IN_PERIOD_SECONDS", 30))


def late_after() -> timedelta:
    """A check-in later than this after the start is LATE (``CHECK_IN_LATE_MINUTES``, 10)."""
    return timedelta(minutes=int(current_app.config.get("CHECK_IN_LATE_MINUTES", 10)))


def is_checked_in(record: Attendance | None, student: Student) -> bool:
    """True when the student's record is their own check-in, not changed by anyone since
    (only a check-in makes a student the marker of their own record)."""
    return record is not None and record.marked_by_id == student.user_id


@dataclass(frozen=True)
class CheckInCode:
    """The code to show now, the period it belongs to and how many have checked in."""

    session: ClassSession
    code: str
    period_seconds: int
    valid_from: datetime
    expires_at: datetime  # the next code replaces it (it is still accepted one more period)
    checked_in: int
    now: datetime

    @property
    def seconds_left(self) -> float:
        """Seconds until the next code, as of when this one was read."""
        return max(0.0, (self.expires_at - self.now).total_seconds())


def _counter(now: datetime, period: int) -> int:
    return int(now.timestamp()) // period


def _code(secret: str, counter: int) -> str:
    return pyotp.TOTP(secret, digits=CODE_DIGITS).generate_otp(counter)


def _secret(session_id: uuid.UUID) -> str | None:
    """The session's secret, if a code was ever shown."""
    return db.session.scalar(
        select(CheckInSecret.secret).where(CheckInSecret.session_id == session_id)
    )


@unit_of_work
def _make_secret(session_id: uuid.UUID, now: datetime) -> str:
    """Make the session's secret; two first requests at once get the same one (the
    database arbitrates)."""
    db.session.execute(
        insert(CheckInSecret.__table__)
        .values(session_id=session_id, secret=pyotp.random_base32(), created_at=now)
        .on_conflict_do_nothing(index_elements=["session_id"])
    )
    secret = _secret(session_id)
    assert secret is not None  # inserted above, or by the request that won the race
    return secret


def _accepts(secret: str, code: str, now: datetime, period: int) -> bool:
    """The code of this period or the one before (compared in constant time)."""
    given = "".join(code.split()).encode()
    counter = _counter(now, period)
    matches = [
        hmac.compare_digest(given, _code(secret, c).encode()) for c in (counter, counter - 1)
    ]
    return any(matches)


def checked_in_count(session_id: uuid.UUID) -> int:
    """How many students of the session checked themselves in (and were not corrected)."""
    return db.session.scalar(  # type: ignore[return-value]  # COUNT is never NULL
        select(func.count())
        .select_from(Attendance)
        .join(Student, Student.id == Attendance.student_id)
        .where(Attendance.session_id == session_id, Attendance.marked_by_id == Student.user_id)
    )


def check_in_code(*, actor: User, session_id: uuid.UUID, at: datetime | None = None) -> CheckInCode:
    """The check-in code to show in the room now (the session's secret is made on first use;
    after that, showing a code is a read: the projector asks every period).

    Order: session exists (NotFound) → the class's teacher or an admin (Forbidden) → session
    ACTIVE (Invalid, rule 1's messages).
    """
    session = load_session(session_id)
    permissions.require_session_manager(actor, session)
    require_markable(session)
    now = at or utcnow()
    period = period_seconds()
    secret = _secret(session.id) or _make_secret(session.id, now)
    counter = _counter(now, period)
    return CheckInCode(
        session=session,
        code=_code(secret, counter),
        period_seconds=period,
        valid_from=datetime.fromtimestamp(counter * period, UTC),
        expires_at=datetime.fromtimestamp((counter + 1) * period, UTC),
        checked_in=checked_in_count(session.id),
        now=now,
    )


def check_in(
    *, actor: User, session_id: uuid.UUID, code: str, at: datetime | None = None
) -> MarkResult:
    """A student marks themself PRESENT (LATE after ``CHECK_IN_LATE_MINUTES``) with the code.

    Order: session exists (NotFound) → a STUDENT (Forbidden) → rule 1, ACTIVE (Invalid) →
    rule 4, enrolled (Invalid) → fewer than MAX_WRONG_CODES wrong codes (Throttled) → the
    code (Invalid on ``code``) → rule 2, not yet marked (Conflict). The rules that do not
    depend on the code come first, so a student learns what really stops them; the throttle
    guards only the code; rule 2 is the database's, decided by the insert, as for any mark.

    Recorded in the audit trail with the channel CHECK_IN (the edge it came through is not
    what matters about it). A wrong code is counted even though the call fails: the count is
    committed on its own, so this function must be called outside any unit of work.
    """
    result = _check_in(actor=actor, session_id=session_id, code=code, at=at)
    if result is None:
        raise Invalid(CODE_INVALID, field="code")
    return result


@unit_of_work
def _check_in(
    *, actor: User, session_id: uuid.UUID, code: str, at: datetime | None
) -> MarkResult | None:
    """check_in's transaction; None (with the wrong code counted and committed) for a wrong
    or expired code."""
    session = load_session(session_id, lock=True)
    student = permissions.require_student(actor)
    require_markable(session)
    if student.id not in enrolled_ids(session, [student.id]):
        raise Invalid(not_enrolled_message(student, session), field="student")
    failures = db.session.scalar(
        select(CheckInFailure.failures).where(
            CheckInFailure.session_id == session.id, CheckInFailure.student_id == student.id
        )
    )
    if (failures or 0) >= MAX_WRONG_CODES:
        raise Throttled(TOO_MANY_WRONG_CODES)
    # The clock is read under the session's row lock, as for a mark.
    now = at or utcnow()
    secret = _secret(session.id)
    if secret is None or not _accepts(secret, code, now, period_seconds()):
        _count_wrong_code(session.id, student.id, now)
        return None
    late = session.start_time is not None and now - session.start_time > late_after()
    status = AttendanceStatus.LATE if late else AttendanceStatus.PRESENT
    return write_first_mark(
        session, student, status=status, notes="", actor=actor, channel=Channel.CHECK_IN, now=now
    )


def _count_wrong_code(session_id: uuid.UUID, student_id: uuid.UUID, now: datetime) -> None:
    table = CheckInFailure.__table__
    db.session.execute(
        insert(table)
        .values(session_id=session_id, student_id=student_id, failures=1, last_failed_at=now)
        .on_conflict_do_update(
            index_elements=["session_id", "student_id"],
            set_={"failures": table.c.failures + 1, "last_failed_at": now},
        )
    )


# --- what the student's page shows ----------------------------------------------------------


@dataclass(frozen=True)
class CheckInOption:
    """A lesson of the student's running now, and their record in it (if any)."""

    session: ClassSession
    record: Attendance | None
    checked_in: bool

    @property
    def minutes_late(self) -> int | None:
        return self.record.minutes_late(self.session.start_time) if self.record else None


def check_in_options(*, actor: User) -> list[CheckInOption]:
    """The ACTIVE sessions of the student's classes, newest first, each with the student's
    record in it (one query). Raises Forbidden for anyone but a student."""
    student = permissions.require_student(actor)
    stmt = (
        select(ClassSession, Attendance)
        .join(
            Enrollment,
            and_(Enrollment.class_id == ClassSession.class_id, Enrollment.student_id == student.id),
        )
        .outerjoin(
            Attendance,
            and_(Attendance.session_id == ClassSession.id, Attendance.student_id == student.id),
        )
        .where(ClassSession.status == SessionStatus.ACTIVE)
        .order_by(ClassSession.start_time.desc(), ClassSession.id)
    )
    return [
        CheckInOption(session, record, is_checked_in(record, student))
        for session, record in db.session.execute(stmt).unique()
    ]
