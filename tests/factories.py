"""Test data built through the service layer, so every rule holds in it.

Each factory opens its own app context and returns plain values (ids, tokens), so a test's
HTTP requests never share a database session with its set-up.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask

from attendance_app.extensions import db
from attendance_app.models import AttendanceStatus, Channel, Role, User
from attendance_app.services.marking import attendance, bulk, sessions
from attendance_app.services.school import people, structure, tokens

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    role: Role
    token: str
    profile_id: uuid.UUID | None = None  # Student.id or Teacher.id
    number: str | None = None  # a student's school number

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class ClassInfo:
    id: uuid.UUID
    name: str
    subject_id: uuid.UUID
    subject_code: str
    teacher: Person
    students: list[Person] = field(default_factory=list)


def actor(user_id: uuid.UUID) -> User:
    """The User for a service call inside an app context."""
    return db.session.get(User, user_id)


def make_person(
    app: Flask,
    role: Role,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    number: str | None = None,
    email: str | None = None,
    with_token: bool = True,
) -> Person:
    n = next(_seq)
    first_name = first_name or f"{role.value.title()}{n}"
    last_name = last_name or f"Test{n:04d}"
    email = email or f"{role.value.lower()}{n}-{uuid.uuid4().hex[:6]}@school.test"
    if role == Role.STUDENT and number is None:
        number = f"S{n:05d}{uuid.uuid4().hex[:3].upper()}"
    with app.app_context():
        user = people.create_user(
            actor=None,
            email=email,
            password=PASSWORD,
            first_name=first_name,
            last_name=last_name,
            role=role,
            student_number=number,
        )
        token = tokens.issue_token(email=email, password=PASSWORD).token if with_token else ""
        profile = user.student or user.teacher
        person = Person(
            user.id,
            user.email,
            first_name,
            last_name,
            role,
            token,
            profile.id if profile else None,
            number if role == Role.STUDENT else None,
        )
        db.session.remove()
    return person


def make_admin(app: Flask, **kw) -> Person:
    return make_person(app, Role.ADMIN, **kw)


def make_teacher(app: Flask, **kw) -> Person:
    return make_person(app, Role.TEACHER, **kw)


def make_student(app: Flask, **kw) -> Person:
    return make_person(app, Role.STUDENT, **kw)


def make_class(
    app: Flask,
    *,
    admin: Person,
    teacher: Person | None = None,
    students: int | list[Person] = 3,
    name: str | None = None,
    subject_code: str | None = None,
) -> ClassInfo:
    """A subject, a class taught by ``teacher`` and its enrolled students."""
    teacher = teacher or make_teacher(app)
    if isinstance(students, int):
        students = [make_student(app, with_token=False) for _ in range(students)]
    n = next(_seq)
    if n == 101:
        # "TEST101" is the contract's example class (make_test101): a worker's 101st class,
        # made beside it in one test, took the same code (a 400, "already exists").
        n = next(_seq)
    code = subject_code or f"TEST{n:03d}"
    with app.app_context():
        a = actor(admin.user_id)
        subject = structure.create_subject(actor=a, code=code, name=f"Subject {code}")
        school_class = structure.create_class(
            actor=a,
            subject_id=subject.id,
            teacher_id=teacher.profile_id,
            name=name or f"{code} Section A",
        )
        if students:
            structure.enroll_students(
                actor=a, class_id=school_class.id, student_ids=[s.profile_id for s in students]
            )
        info = ClassInfo(school_class.id, school_class.name, subject.id, code, teacher, students)
        db.session.remove()
    return info


def make_test101(app: Flask, *, students: list[Person]) -> tuple[Person, ClassInfo]:
    """The contract's example: Ada Admin and "TEST101 Section A", taught by Tina Lee, with
    ``students`` enrolled."""
    admin = make_admin(app, first_name="Ada", last_name="Admin")
    teacher = make_teacher(app, first_name="Tina", last_name="Lee")
    klass = make_class(
        app,
        admin=admin,
        teacher=teacher,
        students=students,
        name="TEST101 Section A",
        subject_code="TEST101",
    )
    return admin, klass


def make_session(
    app: Flask,
    klass: ClassInfo,
    *,
    start: bool = True,
    end: bool = False,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> uuid.UUID:
    """A session of ``klass``, started (ACTIVE) by default, ENDED with ``end=True``."""
    with app.app_context():
        teacher = actor(klass.teacher.user_id)
        result = sessions.create_session(actor=teacher, class_id=klass.id)
        if start or end:
            sessions.start_session(actor=teacher, session_id=result.session.id, at=start_at)
        if end:
            sessions.end_session(actor=teacher, session_id=result.session.id, at=end_at)
        session_id = result.session.id
        db.session.remove()
    return session_id


def mark(
    app: Flask,
    klass: ClassInfo,
    session_id: uuid.UUID,
    student: Person,
    status: AttendanceStatus | str,
    *,
    notes: str | None = None,
    at: datetime | None = None,
) -> uuid.UUID:
    """Mark one student through the service (as the class's teacher); the record id."""
    with app.app_context():
        result = attendance.mark_attendance(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            student_id=student.profile_id,
            status=AttendanceStatus(status),
            notes=notes,
            channel=Channel.API,
            at=at,
        )
        db.session.remove()
    return result.row.record.id


def mark_many(
    app: Flask,
    klass: ClassInfo,
    session_id: uuid.UUID,
    marks: list[tuple[Person, AttendanceStatus | str]],
    *,
    at: datetime | None = None,
) -> list[uuid.UUID]:
    """Mark many students in one bulk service call (as the class's teacher); the record ids
    in the order given."""
    with app.app_context():
        result = bulk.mark_records(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            entries=[
                attendance.MarkEntry(student.profile_id, AttendanceStatus(status))
                for student, status in marks
            ],
            channel=Channel.API,
            at=at,
        )
        ids = [row.id for row in result.records]
        db.session.remove()
    return ids


def unenroll(app: Flask, klass: ClassInfo, student: Person, *, admin: Person) -> None:
    """Take ``student`` out of ``klass`` (their records stay)."""
    with app.app_context():
        structure.unenroll_student(
            actor=actor(admin.user_id), class_id=klass.id, student_id=student.profile_id
        )
        db.session.remove()


def deactivate_user(app: Flask, person: Person) -> None:
    """Mark a user inactive (no service deactivates users yet, so this writes the column)."""
    with app.app_context():
        user = db.session.get(User, person.user_id)
        user.is_active = False
        db.session.commit()
        db.session.remove()


def stored_attendance(app: Flask, session_id: uuid.UUID) -> dict[uuid.UUID, AttendanceStatus]:
    """What the database holds for a session: {Student.id: status}."""
    from sqlalchemy import select

    from attendance_app.models import Attendance

    with app.app_context():
        rows = db.session.execute(
            select(Attendance.student_id, Attendance.status).where(
                Attendance.session_id == session_id
            )
        ).all()
        db.session.remove()
    return dict(rows)


def make_students(app: Flask, count: int) -> list[Person]:
    """``count`` students (no tokens) created by the service inside one unit of work, so a
    class of hundreds costs one commit instead of hundreds."""
    from attendance_app.services.transaction import unit_of_work

    specs = []
    for _ in range(count):
        n = next(_seq)
        number = f"S{n:05d}{uuid.uuid4().hex[:3].upper()}"
        email = f"student{n}-{uuid.uuid4().hex[:6]}@school.test"
        specs.append((email, f"Student{n}", f"Test{n:04d}", number))

    @unit_of_work
    def create_all() -> list[Person]:
        made = []
        for email, first, last, number in specs:
            user = people.create_user(
                actor=None,
                email=email,
                password=PASSWORD,
                first_name=first,
                last_name=last,
                role=Role.STUDENT,
                student_number=number,
            )
            # Read before the commit expires them (no reload query per student).
            made.append(
                Person(user.id, email, first, last, Role.STUDENT, "", user.student.id, number)
            )
        return made

    with app.app_context():
        made = create_all()
        db.session.remove()
    return made


def enroll(app: Flask, klass: ClassInfo, students: list[Person], *, admin: Person) -> None:
    """Enrol more ``students`` in ``klass`` (already enrolled ones are skipped)."""
    with app.app_context():
        structure.enroll_students(
            actor=actor(admin.user_id),
            class_id=klass.id,
            student_ids=[s.profile_id for s in students],
        )
        db.session.remove()


def end_session(
    app: Flask, klass: ClassInfo, session_id: uuid.UUID, *, at: datetime | None = None
) -> None:
    """End (and lock) an ACTIVE session of ``klass`` through the service, as its teacher."""
    with app.app_context():
        sessions.end_session(actor=actor(klass.teacher.user_id), session_id=session_id, at=at)
        db.session.remove()


def audit_trail(app: Flask, session_id: uuid.UUID) -> list[dict]:
    """The session's audit rows, oldest first, as plain dicts (student_id, actor_id, channel,
    old_status, new_status, old_notes, new_notes)."""
    from sqlalchemy import select

    from attendance_app.models import AttendanceChange

    with app.app_context():
        rows = db.session.scalars(
            select(AttendanceChange)
            .where(AttendanceChange.session_id == session_id)
            .order_by(AttendanceChange.changed_at, AttendanceChange.id)
        ).all()
        out = [
            {
                "student_id": r.student_id,
                "actor_id": r.actor_id,
                "channel": r.channel,
                "old_status": r.old_status,
                "new_status": r.new_status,
                "old_notes": r.old_notes,
                "new_notes": r.new_notes,
            }
            for r in rows
        ]
        db.session.remove()
    return out


def run_sessions(
    app: Flask,
    klass: ClassInfo,
    plan: list[dict[Person, AttendanceStatus | str]],
    *,
    first_start: datetime,
    every: timedelta = timedelta(days=1),
    end: bool = False,
) -> list[uuid.UUID]:
    """One session of ``klass`` per entry of ``plan``, started ``every`` apart from
    ``first_start`` (oldest first), its students marked as the entry says in one bulk call
    a minute after the start (students not named stay unmarked), ENDED with ``end=True``;
    the session ids in plan order."""
    ids = []
    for i, marks in enumerate(plan):
        start = first_start + i * every
        session_id = make_session(app, klass, start_at=start)
        if marks:
            mark_many(app, klass, session_id, list(marks.items()), at=start + timedelta(minutes=1))
        if end:
            end_session(app, klass, session_id, at=start + timedelta(hours=1))
        ids.append(session_id)
    return ids


def make_superuser(app: Flask, *, with_token: bool = False) -> Person:
    """An ADMIN with ``is_superuser`` (may delete records of ENDED sessions); a token only
    with ``with_token``."""
    n = next(_seq)
    email = f"super{n}-{uuid.uuid4().hex[:6]}@school.test"
    with app.app_context():
        user = people.create_user(
            actor=None,
            email=email,
            password=PASSWORD,
            first_name=f"Super{n}",
            last_name=f"User{n:04d}",
            role=Role.ADMIN,
            is_superuser=True,
        )
        token = tokens.issue_token(email=email, password=PASSWORD).token if with_token else ""
        person = Person(user.id, user.email, user.first_name, user.last_name, Role.ADMIN, token)
        db.session.remove()
    return person


def add_guardian(
    app: Flask,
    student: Person,
    *,
    admin: Person,
    name: str = "Pat Doe",
    email: str | None = None,
    relationship: str = "Mother",
    notify: bool = True,
) -> uuid.UUID:
    """A guardian of ``student`` through the service (as ``admin``); its id."""
    from attendance_app.services.school import guardians

    with app.app_context():
        guardian = guardians.add_guardian(
            actor=actor(admin.user_id),
            student_id=student.profile_id,
            name=name,
            email=email or f"guardian-{uuid.uuid4().hex[:6]}@home.test",
            relationship=relationship,
            notify=notify,
        )
        db.session.remove()
    return guardian.id


# --- the shared schools (tests/conftest.py exposes each as a fixture) ------------------------


@dataclass(frozen=True)
class Test101:
    """The contract's example class (``make_test101_class``)."""

    __test__ = False  # a data holder, not a test class

    admin: Person
    klass: ClassInfo
    john: Person  # John Doe, S12345
    jane: Person  # Jane Roe, S12346

    @property
    def teacher(self) -> Person:
        return self.klass.teacher

    @property
    def students(self) -> list[Person]:
        return self.klass.students


def make_test101_class(app: Flask) -> Test101:
    """Ada Admin and "TEST101 Section A" taught by Tina Lee, with four students enrolled in
    this order, each with a token: John Doe (S12345), Jane Roe (S12346), Ken Ito (S12347),
    Lia Ong (S12348)."""
    names = [("John", "Doe"), ("Jane", "Roe"), ("Ken", "Ito"), ("Lia", "Ong")]
    students = [
        make_student(app, first_name=first, last_name=last, number=f"S{12345 + i}")
        for i, (first, last) in enumerate(names)
    ]
    admin, klass = make_test101(app, students=students)
    return Test101(admin, klass, students[0], students[1])


@dataclass(frozen=True)
class Classroom:
    """A teacher's class and the people around it (``make_classroom``)."""

    admin: Person
    teacher: Person
    other_teacher: Person  # teaches nothing
    klass: ClassInfo
    outsider: Person  # a student in no class


def make_classroom(app: Flask) -> Classroom:
    """An admin, a teacher with a class of three students (last names Adams, Baker, Clark,
    enrolled in that order, no tokens), another teacher and a student in no class."""
    admin = make_admin(app)
    teacher = make_teacher(app)
    students = [
        make_student(app, last_name=last, with_token=False) for last in ("Adams", "Baker", "Clark")
    ]
    klass = make_class(app, admin=admin, teacher=teacher, students=students)
    return Classroom(
        admin=admin,
        teacher=teacher,
        other_teacher=make_teacher(app),
        klass=klass,
        outsider=make_student(app, with_token=False),
    )


@dataclass(frozen=True)
class TwoTeacherSchool:
    """Two classes, two teachers, four students (``make_two_teacher_school``)."""

    admin: Person
    tina: Person  # Tina Lee, teaches math
    hal: Person  # Hal Ng, teaches hist
    cara: Person  # Cara Adams, S10001
    ann: Person  # Ann Baker, S10002
    zed: Person  # Zed Baker, S10003
    olga: Person  # Olga Other, S10004, never in Tina's classes
    math: ClassInfo  # MATH101 "Algebra A"
    hist: ClassInfo  # HIST101 "History B"


def make_two_teacher_school(app: Flask) -> TwoTeacherSchool:
    """An admin; MATH101 "Algebra A" taught by Tina Lee to Zed Baker, Ann Baker and Cara
    Adams; HIST101 "History B" taught by Hal Ng to Ann, Cara and Olga Other. Everyone has a
    token; no sessions yet."""
    admin = make_admin(app)
    tina = make_teacher(app, first_name="Tina", last_name="Lee")
    hal = make_teacher(app, first_name="Hal", last_name="Ng")
    cara = make_student(app, first_name="Cara", last_name="Adams", number="S10001")
    ann = make_student(app, first_name="Ann", last_name="Baker", number="S10002")
    zed = make_student(app, first_name="Zed", last_name="Baker", number="S10003")
    olga = make_student(app, first_name="Olga", last_name="Other", number="S10004")
    math = make_class(
        app,
        admin=admin,
        teacher=tina,
        students=[zed, ann, cara],
        name="Algebra A",
        subject_code="MATH101",
    )
    hist = make_class(
        app,
        admin=admin,
        teacher=hal,
        students=[ann, cara, olga],
        name="History B",
        subject_code="HIST101",
    )
    return TwoTeacherSchool(admin, tina, hal, cara, ann, zed, olga, math, hist)
