"""The demo school of ``flask --app wsgi demo``: realistic, deterministic and idempotent.

Everything is written through the service functions, as the edges would, so the demo obeys
every rule the product enforces. The school is found again by its admin's email: a second
run adds nothing, except that there must always be one ACTIVE session started today, so a
run on a later day closes the previous day's live session and starts today's.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from attendance_app.demo.plan import (
    ADMIN,
    CLASSES,
    DEMO_PASSWORD,
    LESSON,
    LIVE_CLASS,
    LIVE_MARKED,
    LIVE_STARTED_AGO,
    PUNCTUAL,
    SCHOOL_NAME,
    SEED,
    SUBJECTS,
    TEACHERS,
    WEEKS,
    Plan,
    excuse_for,
    guardian_plan,
    lesson_starts,
    lesson_status,
    make_plan,
)
from attendance_app.models import AttendanceStatus, Channel, Role, SessionStatus, User, utcnow
from attendance_app.services.errors import Invalid
from attendance_app.services.marking import attendance, bulk, check_in, excuses, sessions
from attendance_app.services.marking.roster import roster_rows
from attendance_app.services.reporting import statistics
from attendance_app.services.school import guardians, people, structure
from attendance_app.services.transaction import unit_of_work

#: When the office excuses a lesson's absences it was told about: the afternoon after it.
EXCUSED_AFTER = timedelta(hours=3)
#: When a student of today's lesson checked in with the code: as they came through the door.
CHECKED_IN_AFTER = timedelta(minutes=2)

DEMO_EMAIL_TAKEN = "{email} belongs to a non-admin account: the demo cannot use it."

# --- what a run did ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    name: str
    email: str
    about: str


@dataclass
class DemoSummary:
    """What ``load_demo`` found or made, and the logins to try it with."""

    created: bool
    password: str = DEMO_PASSWORD
    logins: list[DemoLogin] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    subjects: int = 0
    classes: int = 0
    teachers: int = 0
    students: int = 0
    enrolments: int = 0
    ended_sessions: int = 0
    records: int = 0
    live_class: str = ""
    live_session_id: uuid.UUID | None = None
    live_started_at: datetime | None = None
    live_marked: int = 0
    live_enrolled: int = 0
    live_checked_in: int = 0
    # Who can try the self check-in on the live session: its teacher shows the code, a
    # student not yet marked checks in.
    check_in_teacher: str = ""
    check_in_student: str = ""

    def describe(self) -> str:
        """The text ``flask demo`` prints."""
        head = "Loaded" if self.created else "Already loaded (nothing duplicated)"
        lines = [f"{head}: the demo school {SCHOOL_NAME}."]
        lines += [f"  {action}" for action in self.actions]
        lines += [
            f"  {self.teachers} teachers, {self.students} students, {self.subjects} subjects,"
            f" {self.classes} classes ({self.enrolments} enrolments)",
            f"  {self.ended_sessions} ended sessions over the last {WEEKS} weeks"
            f" with {self.records} attendance records",
        ]
        if self.live_session_id is not None and self.live_started_at is not None:
            lines.append(
                f"  Live now: {self.live_class}, ACTIVE since"
                f" {self.live_started_at:%H:%M} UTC, {self.live_marked} of"
                f" {self.live_enrolled} students marked ({self.live_checked_in} checked in"
                " with the code);"
                f" roster at /sessions/{self.live_session_id}"
            )
        if self.live_session_id is not None and self.check_in_student:
            lines += [
                "  Self check-in: as "
                f"{self.check_in_teacher}, open /sessions/{self.live_session_id}/check-in-code"
                " on the projector;",
                f"    on a phone, sign in as {self.check_in_student} (not marked yet) and scan"
                " the QR code, or open /check-in and type the code.",
            ]
        lines += ["", f'Logins - every demo account\'s password is "{self.password}":']
        width = max(len(login.email) for login in self.logins)
        for login in self.logins:
            lines.append(
                f"  {login.role.value:<8} {login.email:<{width}}  {login.name} - {login.about}"
            )
        return "\n".join(lines)


# --- loading -----------------------------------------------------------------------------------


def load_demo(*, now: datetime | None = None, seed: int = SEED) -> DemoSummary:
    """Load the demo school unless it is there; keep one ACTIVE session started today.

    One transaction: a failed run leaves nothing behind. Raises what the services raise
    (e.g. Invalid when a demo email is already taken by someone else).
    """
    now = now or utcnow()
    return _load(now, make_plan(seed), seed)


@unit_of_work
def _load(now: datetime, plan: Plan, seed: int) -> DemoSummary:
    admin = people.find_user(ADMIN[2])
    if admin is not None and admin.role != Role.ADMIN:
        raise Invalid(DEMO_EMAIL_TAKEN.format(email=ADMIN[2]), field="email")
    summary = DemoSummary(created=admin is None)
    if admin is None:
        admin = _build_school(now, plan, seed, summary)
    _keep_live_session(admin, now, plan, summary)
    _count(admin, plan, summary)
    return summary


def _build_school(now: datetime, plan: Plan, seed: int, summary: DemoSummary) -> User:
    rng = random.Random(seed + 1)
    password_hash = people.hash_password(DEMO_PASSWORD)  # scrypt once, not per account

    def user(actor, first, last, email, role: Role, number: str | None = None) -> User:
        return people.create_user(
            actor=actor,
            email=email,
            password=DEMO_PASSWORD,
            password_hash=password_hash,
            first_name=first,
            last_name=last,
            role=role,
            student_number=number,
            is_superuser=role == Role.ADMIN,  # the demo admin may also delete ended records
        )

    admin = user(None, *ADMIN, Role.ADMIN)  # the bootstrap admin, as `create-user` makes it
    teachers = [user(admin, *t, Role.TEACHER) for t in TEACHERS]
    students = {
        s.number: user(admin, s.first_name, s.last_name, s.email, Role.STUDENT, s.number)
        for s in plan.students
    }
    listed = guardian_plan(plan, seed)
    for g in listed:
        guardians.add_guardian(
            actor=admin,
            student_id=students[g.student_number].student.id,
            name=g.name,
            email=g.email,
            relationship=g.relationship,
            notify=g.notify,
        )
    subjects = {
        code: structure.create_subject(actor=admin, code=code, name=name) for code, name in SUBJECTS
    }
    by_number = {s.number: s for s in plan.students}
    excused = 0
    for class_plan, roster in zip(CLASSES, plan.rosters, strict=True):
        teacher = teachers[class_plan.teacher]
        school_class = structure.create_class(
            actor=admin,
            subject_id=subjects[class_plan.subject].id,
            teacher_id=teacher.teacher.id,
            name=class_plan.name,
        )
        structure.enroll_students(
            actor=admin,
            class_id=school_class.id,
            student_ids=[students[n].student.id for n in roster],
        )
        starts = lesson_starts(class_plan, now.date())
        for lesson, planned in enumerate(starts):
            start = planned + timedelta(minutes=rng.randint(0, 3))
            marks = {n: lesson_status(rng, by_number[n], lesson, len(starts)) for n in roster}
            excused += _past_lesson(admin, teacher, school_class.id, start, marks, students, rng)
    summary.actions.append(
        f"Created {len(plan.students) + len(TEACHERS) + 1} accounts, {len(SUBJECTS)} subjects,"
        f" {len(CLASSES)} classes and their last {WEEKS} weeks of lessons ({excused} absences"
        " excused by the office afterwards: Attendance records, or a student's history)."
    )
    summary.actions.append(
        f"Listed {len(listed)} guardians (the students at risk and others), emailed the day"
        " their student is absent when mail is configured (People, then a student's page)."
    )
    return admin


def _past_lesson(admin, teacher, class_id, start, marks, students, rng) -> int:
    """One ended lesson: the register taken a few minutes in (latecomers as LATE), then ended;
    afterwards the office excuses the absences it was told the reason of."""
    session_id = sessions.create_session(actor=teacher, class_id=class_id).session.id
    sessions.start_session(actor=teacher, session_id=session_id, at=start)
    # One bulk call per lesson: its size is the class size, so SQLAlchemy compiles the
    # multi-row INSERT once per class instead of once per distinct row count.
    result = bulk.mark_records(
        actor=teacher,
        session_id=session_id,
        entries=[
            attendance.MarkEntry(students[n].student.id, status, note)
            for n, (status, note) in marks.items()
        ],
        channel=Channel.CLI,
        at=start + timedelta(minutes=rng.randint(5, 12)),
    )
    sessions.end_session(actor=teacher, session_id=session_id, at=start + LESSON)
    excused = 0
    for row in result.records:
        reason = excuse_for(row.status, row.notes or None)
        if reason is not None:
            excuses.excuse_absence(
                actor=admin,
                attendance_id=row.id,
                reason=reason,
                channel=Channel.CLI,
                at=start + LESSON + EXCUSED_AFTER,
            )
            excused += 1
    return excused


def _keep_live_session(admin: User, now: datetime, plan: Plan, summary: DemoSummary) -> None:
    """Close live sessions left from an earlier day; make sure one runs today."""
    midnight = datetime.combine(now.date(), time(0), tzinfo=UTC)
    classes = {c.name: c for c in structure.list_classes(actor=admin)}
    live = None
    for index, class_plan in enumerate(CLASSES):
        school_class = classes.get(class_plan.name)
        if school_class is None:
            continue
        teacher = school_class.teacher.user
        for session in sessions.list_sessions(actor=admin, class_id=school_class.id):
            if session.status != SessionStatus.ACTIVE:
                continue
            if session.start_time is not None and session.start_time >= midnight:
                if index == LIVE_CLASS:
                    live = live or session
                continue
            # A lesson of an earlier day that was never ended: the register is completed
            # (students at risk stayed away, the others came) and the lesson ends.
            end = min(session.start_time + LESSON, now) if session.start_time else now
            unmarked = [
                attendance.MarkEntry(row.student.id, _usual_status(plan, row.student))
                for row in roster_rows(session)
                if row.record is None
            ]
            if unmarked:
                bulk.mark_records(
                    actor=teacher,
                    session_id=session.id,
                    entries=unmarked,
                    channel=Channel.CLI,
                    at=end,
                )
            sessions.end_session(actor=teacher, session_id=session.id, at=end)
            summary.actions.append(
                f"Ended the live session of {school_class.name} left from"
                f" {session.start_time:%Y-%m-%d}."
            )
    if live is None:
        live_class = classes.get(CLASSES[LIVE_CLASS].name)
        if live_class is None:
            return
        start = max(now - LIVE_STARTED_AGO, midnight)
        live = _start_live_session(live_class, plan, start, now)
        summary.actions.append(f"Started today's live session of {live_class.name}.")
    summary.live_class = live.school_class.name
    summary.live_session_id = live.id
    summary.live_started_at = live.start_time


def _usual_status(plan: Plan, student) -> AttendanceStatus:
    persona = plan.persona_of(student.student_number)
    return AttendanceStatus.ABSENT if persona == "at risk" else AttendanceStatus.PRESENT


def _start_live_session(school_class, plan: Plan, start: datetime, now: datetime):
    """Today's lesson: started a few minutes ago, a handful of students already marked (none
    of those at risk, whose run of absences stays the latest thing on their record), one of
    them by checking in with the code."""
    teacher = school_class.teacher.user
    session_id = sessions.create_session(actor=teacher, class_id=school_class.id).session.id
    session = sessions.start_session(actor=teacher, session_id=session_id, at=start).session
    students = structure.enrolled_students(school_class.id)
    on_time = [s for s in students if plan.persona_of(s.student_number) in PUNCTUAL]
    on_time = on_time[: LIVE_MARKED - 2]  # the latecomer and one check-in make LIVE_MARKED
    latecomer = next(s for s in students if plan.persona_of(s.student_number) == "often late")
    for entries, minutes in (
        ([attendance.MarkEntry(s.id, AttendanceStatus.PRESENT) for s in on_time], 1),
        ([attendance.MarkEntry(latecomer.id, AttendanceStatus.LATE, "Bus was late")], 5),
    ):
        bulk.mark_records(
            actor=teacher,
            session_id=session_id,
            entries=entries,
            channel=Channel.CLI,
            at=min(start + timedelta(minutes=minutes), now),
        )
    # One student already checked in with the code shown in the room (the roster shows
    # "Checked in" on their tile); not one of the printed logins, who try it themselves.
    printed = {login.email for login in _logins(plan)}
    arriving = next(
        s
        for s in students
        if plan.persona_of(s.student_number) in PUNCTUAL
        and s not in on_time
        and s.user.email not in printed
    )
    # check_in inside the demo's unit of work: the code is the one of ``at``, so it is right
    # (a wrong one would raise Invalid and roll the whole demo back, its count with it).
    at = min(start + CHECKED_IN_AFTER, now)
    code = check_in.check_in_code(actor=teacher, session_id=session_id, at=at).code
    check_in.check_in(actor=arriving.user, session_id=session_id, code=code, at=at)
    return session


def _count(admin: User, plan: Plan, summary: DemoSummary) -> None:
    """Fill in the summary's figures and logins from what the database now holds."""
    demo_classes = {c.name for c in CLASSES}
    classes = [c for c in structure.list_classes(actor=admin) if c.name in demo_classes]
    summary.classes = len(classes)
    summary.subjects = len({c.subject_id for c in classes})
    summary.teachers = len({c.teacher_id for c in classes})
    enrolled = structure.enrolled_counts([c.id for c in classes])
    summary.enrolments = sum(enrolled.values())
    summary.students = len({n for roster in plan.rosters for n in roster})
    ended = [
        s.id
        for c in classes
        for s in sessions.list_sessions(actor=admin, class_id=c.id)
        if s.status == SessionStatus.ENDED
    ]
    summary.ended_sessions = len(ended)
    summary.records = sum(st.marked for st in statistics.statistics_for_sessions(ended).values())
    if summary.live_session_id is not None:
        live_stats = statistics.statistics_for_sessions([summary.live_session_id])
        stats = live_stats[summary.live_session_id]
        summary.live_marked, summary.live_enrolled = stats.marked, stats.total_enrolled
        summary.live_checked_in = check_in.checked_in_count(summary.live_session_id)
    summary.logins = _logins(plan)
    if summary.live_session_id is not None:
        _pick_check_in(admin, summary)


def _pick_check_in(admin: User, summary: DemoSummary) -> None:
    """Who tries the self check-in: the live lesson's teacher, and a student of it not yet
    marked (one of the printed logins when one is still unmarked)."""
    live = sessions.get_session_for(admin, summary.live_session_id)
    unmarked = [row.student.user.email for row in roster_rows(live) if row.record is None]
    if not unmarked:
        return
    listed = [login.email for login in summary.logins if login.role == Role.STUDENT]
    summary.check_in_teacher = live.school_class.teacher.user.email
    summary.check_in_student = next((e for e in listed if e in unmarked), unmarked[0])


def _logins(plan: Plan) -> list[DemoLogin]:
    live_roster = set(plan.rosters[LIVE_CLASS])
    taught: dict[int, list[str]] = {}
    for class_plan in CLASSES:
        taught.setdefault(class_plan.teacher, []).append(class_plan.name)
    logins = [DemoLogin(Role.ADMIN, f"{ADMIN[0]} {ADMIN[1]}", ADMIN[2], "administrator")]
    for i, (first, last, email) in enumerate(TEACHERS):
        about = "teaches " + ", ".join(taught.get(i, []))
        if i == CLASSES[LIVE_CLASS].teacher:
            about += " (lesson running now)"
        logins.append(DemoLogin(Role.TEACHER, f"{first} {last}", email, about))
    wanted = {
        "reliable": "almost always on time",
        "often late": "often late",
        "at risk": "at risk: many absences, missed the latest lessons",
    }
    for persona, about in wanted.items():
        student = next(s for s in plan.students if s.persona == persona and s.number in live_roster)
        logins.append(
            DemoLogin(
                Role.STUDENT,
                f"{student.first_name} {student.last_name}",
                student.email,
                f"{student.number}, {about}",
            )
        )
    return logins
