"""Test data built through the service layer, so every rule holds in it.

Each factory opens its own app context and returns plain values (ids, tokens), so a test's
HTTP requests never share a database session with its set-up.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask

from attendance_app.extensions import db
from attendance_app.models import AttendanceStatus, Channel, Role, User
from attendance_app.services import attendance, people, school, sessions

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
        token = people.issue_token(email=email, password=PASSWORD).token if with_token else ""
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
    code = subject_code or f"TEST{n:03d}"
    with app.app_context():
        a = actor(admin.user_id)
        subject = school.create_subject(actor=a, code=code, name=f"Subject {code}")
        school_class = school.create_class(
            actor=a,
            subject_id=subject.id,
            teacher_id=teacher.profile_id,
            name=name or f"{code} Section A",
        )
        if students:
            school.enroll_students(
                actor=a, class_id=school_class.id, student_ids=[s.profile_id for s in students]
            )
        info = ClassInfo(school_class.id, school_class.name, subject.id, code, teacher, students)
        db.session.remove()
    return info


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
