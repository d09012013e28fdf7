"""The daily absence email to guardians: one per student per day, through the outbox.

At ``GUARDIAN_DIGEST_TIME`` (school time, default 16:00; "off" for none) a serving process
queues, for each student marked ABSENT and not excused in a session of that day that has
ended, one email to each of their guardians with ``notify`` on: the lessons missed, the
school's contact address (``SCHOOL_CONTACT_EMAIL``, else ``MAIL_FROM``) and a link that turns
the emails off without a login. Each email carries a dedupe key (guardian, student, day): a
rerun, another process, or a later round the same day sends nothing twice, while a session
that ends after the digest time still reaches the guardians not told yet that day.

An absence excused before the email goes out is not in it: the digest leaves excused records
out. Any later change of the student's record in an ENDED session before the email is sent (an
excuse given or withdrawn, a superuser's deletion) recomputes the lessons missed: the email is
rewritten with them, or withdrawn when none remain (the outbox's withdrawal). Records of
ENDED sessions change in no other way (rule 3 refuses status corrections). A session that
ends while a student's email of that day waits is such a change for its absent students: the
email is rewritten with the lesson (a rewrite from the records, so never twice). Once the
email has been sent, nothing more goes out that day (one email per student per day).

A digest round and such a change serialise on one lock (:func:`serialise_with_the_digest`), so
whichever commits second sees the other: the round sees the session ENDED (or the excuse),
or the change sees the email the round queued.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    ClassSession,
    Guardian,
    OutboxEmail,
    SchoolClass,
    SessionStatus,
    Student,
    utcnow,
)
from attendance_app.services import events
from attendance_app.services.clock import school_zone
from attendance_app.services.notifying import outbox
from attendance_app.services.school.guardians import unsubscribe_path
from attendance_app.services.transaction import affected_rows, unit_of_work

#: How often a serving process looks whether a day's digest is due.
CHECK_EVERY_SECONDS = 5 * 60
#: PostgreSQL's advisory lock of the digest ("gdig"): any fixed number no other lock uses.
DIGEST_LOCK = 0x67646967
_KEY = "guardian:{student}:{day}:{guardian}"


@dataclass(frozen=True)
class Lesson:
    class_name: str
    subject: str
    start: datetime  # school time

    def line(self) -> str:
        return f"- {self.start:%H:%M} {self.class_name} ({self.subject})"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The school's calendar day ``day`` as a UTC [start, end)."""
    zone = school_zone()
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def missed_lessons(
    day: date, student_ids: list[uuid.UUID] | None = None
) -> dict[uuid.UUID, list[Lesson]]:
    """{student id: lessons missed} on ``day``: records ABSENT, not excused, in ENDED
    sessions that started that day (school time); in order of time. One query."""
    start, end = day_bounds(day)
    query = (
        select(Attendance.student_id, ClassSession.start_time, SchoolClass)
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .join(SchoolClass, SchoolClass.id == ClassSession.class_id)
        .where(
            Attendance.status == AttendanceStatus.ABSENT,
            Attendance.absence_reason.is_(None),
            ClassSession.status == SessionStatus.ENDED,
            ClassSession.start_time >= start,
            ClassSession.start_time < end,
        )
        .order_by(ClassSession.start_time, SchoolClass.name)
    )
    if student_ids is not None:
        query = query.where(Attendance.student_id.in_(student_ids))
    zone = school_zone()
    out: dict[uuid.UUID, list[Lesson]] = defaultdict(list)
    for student_id, start_time, school_class in db.session.execute(query):
        out[student_id].append(
            # start_time is never NULL here: the WHERE compares it with the day's bounds.
            Lesson(school_class.name, school_class.subject.name, start_time.astimezone(zone))  # type: ignore[union-attr]
        )
    return dict(out)


def contact_address() -> str:
    config = current_app.config
    return config.get("SCHOOL_CONTACT_EMAIL") or config.get("MAIL_FROM") or ""


def subject_for(student_name: str, day: date) -> str:
    return f"{student_name} was absent on {day:%A %d %B %Y}"


def body_for(guardian: Guardian, student_name: str, day: date, lessons: list[Lesson]) -> str:
    """The email's text: who, which lessons, whom to contact, how to stop these emails."""
    count = "a lesson" if len(lessons) == 1 else f"{len(lessons)} lessons"
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    lines = [
        f"Dear {guardian.name},",
        "",
        f"{student_name} was marked absent from {count} on {day:%A %d %B %Y}:",
        *(lesson.line() for lesson in lessons),
        "",
        "If you know why, or think this is a mistake, please contact the school at"
        f" {contact_address()}.",
        "",
        f"You receive this email as {student_name}'s {guardian.relationship.lower()}."
        " To stop these emails, open:",
        f"{base}{unsubscribe_path(guardian.id)}",
    ]
    return "\n".join(lines) + "\n"


@unit_of_work
def send_guardian_digests(*, day: date) -> int:
    """Queue the absence emails of ``day`` not queued before; returns how many are new (0
    when mail is off, or they were queued before). Four queries whatever the school's size."""
    if not outbox.mail_enabled():
        return 0
    serialise_with_the_digest()
    missed = missed_lessons(day)
    if not missed:
        return 0
    rows = db.session.execute(
        select(Guardian, Student)
        .join(Student, Student.id == Guardian.student_id)
        .where(Guardian.student_id.in_(list(missed)), Guardian.notify.is_(True))
        .order_by(Guardian.student_id, Guardian.email)
    ).all()
    keys = {
        g.id: _KEY.format(student=g.student_id, day=day.isoformat(), guardian=g.id) for g, _ in rows
    }
    sent = (
        set(
            db.session.scalars(
                select(OutboxEmail.dedupe_key).where(
                    OutboxEmail.dedupe_key.in_(list(keys.values()))
                )
            )
        )
        if keys
        else set()
    )
    emails = [
        outbox.Email(
            to=guardian.email,
            subject=subject_for(student.user.full_name, day),
            body=body_for(guardian, student.user.full_name, day, missed[student.id]),
            dedupe_key=keys[guardian.id],
        )
        for guardian, student in rows
        if keys[guardian.id] not in sent
    ]
    outbox.queue(emails)
    return len(emails)


def serialise_with_the_digest() -> None:
    """Wait for a digest round (or a change of its emails) in progress to commit, and hold
    them off until this transaction ends. On PostgreSQL (READ COMMITTED) a round and a
    session ending or an excuse could otherwise each read before the other commits: the
    email would go out without the lesson, or naming an excused one. SQLite needs nothing:
    its writers run one at a time (BEGIN IMMEDIATE)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(DIGEST_LOCK)))


def withdraw_for_guardian(guardian_id: uuid.UUID) -> int:
    """Delete a guardian's emails not yet sent (removed, or emails turned off); how many.
    Joins the caller's transaction."""
    return affected_rows(
        delete(OutboxEmail).where(
            OutboxEmail.dedupe_key.like(f"guardian:%:{guardian_id}"),
            OutboxEmail.sent_at.is_(None),
        )
    )


def on_events(batch: list[events.DomainEvent]) -> None:
    """A change of a student's record in an ENDED session (an excuse given or withdrawn, a
    deletion, or the session ending with them absent) before a guardian's email went out
    rewrites the email from the lessons missed now, or takes it away when nothing is missed
    that day any more. Changes in other sessions cannot alter the email (it names ENDED
    sessions only) and cost nothing here."""
    students = {
        s
        for e in batch
        if isinstance(e, events.AttendanceChanged)
        for s in e.ended_session_student_ids
    }
    ended = [
        e.session_id
        for e in batch
        if isinstance(e, events.SessionStatusChanged) and e.status == SessionStatus.ENDED.value
    ]
    if ended and outbox.mail_enabled():  # without mail no digest queues anything
        students.update(_absent_in(ended))
    if students:
        _rewrite_waiting(sorted(students))


def _absent_in(session_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The students absent, not excused, in these sessions: those whose guardians' email of
    the day an ending session can add a lesson to."""
    return list(
        db.session.scalars(
            select(Attendance.student_id).where(
                Attendance.session_id.in_(session_ids),
                Attendance.status == AttendanceStatus.ABSENT,
                Attendance.absence_reason.is_(None),
            )
        )
    )


def _rewrite_waiting(student_ids: list[uuid.UUID]) -> None:
    """Rewrite (or withdraw, when nothing is missed any more) every guardian email of these
    students not sent yet, from the records as they are now: one query when none waits
    (after the digest's lock, on PostgreSQL)."""
    serialise_with_the_digest()
    # The keys of the guardian emails not sent yet (few: the digest sends them within
    # minutes), matched to the students here rather than with one LIKE per student: a
    # session of 500 ending absent would otherwise compare every key 500 times.
    wanted = {str(s) for s in student_ids}
    keys = db.session.execute(
        select(OutboxEmail.id, OutboxEmail.dedupe_key).where(
            OutboxEmail.dedupe_key.like("guardian:%"), OutboxEmail.sent_at.is_(None)
        )
    ).all()
    ids = [i for i, key in keys if key and key.split(":")[1] in wanted]
    if not ids:
        return
    waiting = db.session.scalars(
        select(OutboxEmail).where(OutboxEmail.id.in_(ids)).order_by(OutboxEmail.dedupe_key)
    ).all()
    for email in waiting:
        _, student_text, day_text, guardian_id = (email.dedupe_key or "").split(":")
        student_id, day = uuid.UUID(student_text), date.fromisoformat(day_text)
        lessons = missed_lessons(day, [student_id]).get(student_id)
        guardian = db.session.get(Guardian, uuid.UUID(guardian_id))
        if not lessons or guardian is None:
            db.session.execute(delete(OutboxEmail).where(OutboxEmail.id == email.id))
        else:
            student = db.session.get_one(Student, student_id)
            email.body = body_for(guardian, student.user.full_name, day, lessons)


# --- the schedule ------------------------------------------------------------------------


def parse_digest_time(text: str) -> time | None:
    """``"16:00"`` → 16:00 (school time); ``"off"`` → None. Raises ValueError, saying what is
    expected, for anything else."""
    value = (text or "").strip().lower()
    if value == "off":
        return None
    try:
        return time.fromisoformat(value)
    except ValueError as err:
        raise ValueError(
            f"GUARDIAN_DIGEST_TIME must be a school time like '16:00' or 'off', not {text!r}"
        ) from err


def last_due_day(now: datetime, at: time) -> date:
    """The school day whose digest was last due at ``now``: today once ``at`` has passed
    (school time), else yesterday."""
    local = now.astimezone(school_zone())
    return local.date() if local.time() >= at else local.date() - timedelta(days=1)


def send_due_digests(at: time, *, now: datetime | None = None) -> int:
    """Queue the digest of the day last due (what a serving process does every
    ``CHECK_EVERY_SECONDS``); how many emails were new."""
    return send_guardian_digests(day=last_due_day(now or utcnow(), at))
