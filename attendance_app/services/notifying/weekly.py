"""The weekly summary each teacher receives: their classes' week in a few lines.

Sent by the serving processes at ``WEEKLY_SUMMARY`` (default Monday 06:00 UTC, for the week
that ended the day before), or by ``flask --app wsgi weekly-summary`` (cron). One notification
per teacher per week (and an email when mail is configured); sending twice for the same week
sends nothing new, so several processes, or a retried cron job, are harmless.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import (
    AlertState,
    ClassSession,
    NotificationKind,
    Role,
    SchoolClass,
    SessionStatus,
    Student,
    Teacher,
    User,
    utcnow,
)
from attendance_app.services.notifying import notifications
from attendance_app.services.notifying.notifications import Message, Recipient
from attendance_app.services.reporting.analytics import STARTED
from attendance_app.services.reporting.statistics import rate_text, statistics_for_sessions
from attendance_app.services.transaction import unit_of_work


@dataclass(frozen=True)
class ClassWeek:
    school_class: SchoolClass
    sessions: int
    attendance_rate: float | None  # mean of the sessions' rates; None without sessions
    not_taken: int  # ENDED sessions that still had students unmarked
    at_risk: list[tuple[str, str]]  # (student name, reason), over the alert line now

    def line(self) -> str:
        if not self.sessions:
            head = f"{self.school_class.name}: no sessions this week."
        else:
            head = (
                f"{self.school_class.name}: {_count(self.sessions, 'session')},"
                f" {rate_text(self.attendance_rate or 0)}% attendance"
            )
            if self.not_taken:
                head += f", {self.not_taken} ended with students unmarked"
            head += "."
        lines = [head]
        lines += [f"  - {name}: {reason}" for name, reason in self.at_risk]
        return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def week_bounds(week_ending: date) -> tuple[datetime, datetime]:
    """The seven UTC days ending with ``week_ending`` (inclusive), as [start, end)."""
    end = datetime.combine(week_ending + timedelta(days=1), datetime.min.time(), UTC)
    return end - timedelta(days=7), end


def summarise(week_ending: date) -> dict[uuid.UUID, list[ClassWeek]]:
    """{teacher user id: their classes' weeks} for every active teacher with classes (four
    queries whatever the school's size)."""
    start, end = week_bounds(week_ending)
    classes = db.session.scalars(
        select(SchoolClass)
        .join(Teacher, Teacher.id == SchoolClass.teacher_id)
        .join(User, User.id == Teacher.user_id)
        .where(User.is_active.is_(True), User.role == Role.TEACHER)
        .order_by(SchoolClass.name)
    ).all()
    class_ids = [c.id for c in classes]
    week_sessions = db.session.execute(
        select(ClassSession.id, ClassSession.class_id, ClassSession.status).where(
            ClassSession.class_id.in_(class_ids),
            ClassSession.status.in_(STARTED),
            ClassSession.start_time >= start,
            ClassSession.start_time < end,
        )
    ).all()
    stats = statistics_for_sessions([sid for sid, _, _ in week_sessions])
    by_class: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for sid, class_id, status in week_sessions:
        by_class[class_id].append((stats[sid], status))
    risks: dict[uuid.UUID, list[tuple[str, str]]] = defaultdict(list)
    for state, student in db.session.execute(
        select(AlertState, Student)
        .join(Student, Student.id == AlertState.student_id)
        .where(AlertState.class_id.in_(class_ids))
    ):
        risks[state.class_id].append((student.user.full_name, state.reason))
    out: dict[uuid.UUID, list[ClassWeek]] = defaultdict(list)
    for school_class in classes:
        held = by_class[school_class.id]
        mean = round(sum(s.attendance_rate for s, _ in held) / len(held), 2) if held else None
        out[school_class.teacher.user_id].append(
            ClassWeek(
                school_class=school_class,
                sessions=len(held),
                attendance_rate=mean,
                not_taken=sum(
                    1 for s, status in held if status == SessionStatus.ENDED and s.not_marked
                ),
                at_risk=sorted(risks[school_class.id]),
            )
        )
    return out


@unit_of_work
def send_weekly_summaries(*, week_ending: date) -> int:
    """Deliver each teacher's summary of the week ending ``week_ending``; returns how many
    were new (0 when this week's were sent before)."""
    weeks = summarise(week_ending)
    if not weeks:
        return 0
    start, _ = week_bounds(week_ending)
    label = f"{start:%d %b} – {week_ending:%d %b %Y}"
    teachers = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(list(weeks))))}
    deliveries = []
    for user_id, class_weeks in weeks.items():
        teacher = teachers[user_id]
        at_risk = sum(len(w.at_risk) for w in class_weeks)
        held = sum(w.sessions for w in class_weeks)
        title = (
            f"Your week, {label}: {_count(held, 'session')}, {_count(at_risk, 'student')} at risk"
        )
        body = "\n".join(w.line() for w in class_weeks)
        deliveries.append(
            (
                Recipient(teacher.id, teacher.email),
                Message(
                    kind=NotificationKind.WEEKLY,
                    title=title,
                    body=body,
                    dedupe_key=f"weekly:{week_ending.isoformat()}",
                    link="/",
                ),
            )
        )
    return len(notifications.deliver(deliveries))


# --- the schedule ------------------------------------------------------------------------------


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: How often a serving process looks whether a week's summaries are due.
CHECK_EVERY_SECONDS = 15 * 60


def parse_schedule(text: str) -> tuple[int, time] | None:
    """``"monday 06:00"`` → (0, 06:00) (UTC); ``"off"`` → None. Raises ValueError, saying what
    is expected, for anything else."""
    value = (text or "").strip().lower()
    if value == "off":
        return None
    try:
        day, clock = value.split()
        return WEEKDAYS.index(day), time.fromisoformat(clock)
    except ValueError as err:
        raise ValueError(
            f"WEEKLY_SUMMARY must be like 'monday 06:00' (a weekday and a UTC time) or 'off',"
            f" not {text!r}"
        ) from err


def last_due_week(now: datetime, schedule: tuple[int, time]) -> date:
    """The week whose summaries were last due at ``now``: the one ending the day before the
    latest scheduled moment at or before ``now``."""
    weekday, at = schedule
    moment = datetime.combine(now.date(), at, UTC) - timedelta(days=(now.weekday() - weekday) % 7)
    if moment > now:
        moment -= timedelta(days=7)
    return moment.date() - timedelta(days=1)


def send_due_summaries(schedule: tuple[int, time], *, now: datetime | None = None) -> int:
    """Send the summaries of the week last due under ``schedule`` (what a serving process
    does every ``CHECK_EVERY_SECONDS``); how many were sent now (0 once they were)."""
    return send_weekly_summaries(week_ending=last_due_week(now or utcnow(), schedule))
