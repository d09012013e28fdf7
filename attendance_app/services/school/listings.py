"""What the admin's back office pages read: people by page, a person's classes, the classes
with their enrolment counts, the choices of the class form and the students to enrol."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import exists, func, select

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    ClassSession,
    Enrollment,
    Role,
    SchoolClass,
    Student,
    Subject,
    Teacher,
    User,
)
from attendance_app.services import permissions
from attendance_app.services.errors import NotFound
from attendance_app.services.paging import Page, clamp
from attendance_app.services.school.people import user_filters
from attendance_app.services.school.structure import (
    CLASS_NOT_FOUND,
    NOT_ENROLLED_HERE,
    enrolled_counts,
)

PEOPLE_PER_PAGE = 50
CANDIDATES_SHOWN = 50


def page_users(
    *,
    actor: User,
    role: Role | None = None,
    query: str = "",
    page: int = 1,
    per_page: int = PEOPLE_PER_PAGE,
) -> Page[User]:
    """One page of the people ``list_users`` would list, in the same order; a page past the
    last shows the last (two queries). Raises Forbidden (not an admin)."""
    permissions.require_admin(actor)
    clauses = user_filters(role=role, query=query)
    total = db.session.scalar(select(func.count(User.id)).where(*clauses)) or 0
    page = clamp(page, total, per_page)
    users = db.session.scalars(
        select(User)
        .where(*clauses)
        .order_by(User.last_name, User.first_name, User.email, User.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).unique()
    return Page(list(users), total, page, per_page)


def person_classes(*, actor: User, user: User) -> list[SchoolClass]:
    """A teacher's classes, or the classes a student is enrolled in, by name; nothing for an
    admin. Raises Forbidden (not an admin)."""
    permissions.require_admin(actor)
    stmt = select(SchoolClass).order_by(SchoolClass.name, SchoolClass.id)
    if user.teacher is not None:
        stmt = stmt.where(SchoolClass.teacher_id == user.teacher.id)
    elif user.student is not None:
        stmt = stmt.join(Enrollment, Enrollment.class_id == SchoolClass.id).where(
            Enrollment.student_id == user.student.id
        )
    else:
        return []
    return list(db.session.scalars(stmt))


@dataclass(frozen=True)
class SubjectRow:
    subject: Subject
    classes: int


def subject_rows(*, actor: User) -> list[SubjectRow]:
    """Every subject by code with its number of classes (one query). Raises Forbidden."""
    permissions.require_admin(actor)
    classes = (
        select(func.count(SchoolClass.id))
        .where(SchoolClass.subject_id == Subject.id)
        .scalar_subquery()
    )
    return [
        SubjectRow(subject, count)
        for subject, count in db.session.execute(
            select(Subject, classes).order_by(Subject.code, Subject.id)
        )
    ]


def get_class_for_admin(*, actor: User, class_id: uuid.UUID) -> SchoolClass:
    """One class, for an admin (its teacher included: the back office is admins' only).
    Raises Forbidden, NotFound."""
    permissions.require_admin(actor)
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound(CLASS_NOT_FOUND)
    return school_class


@dataclass(frozen=True)
class ClassRow:
    school_class: SchoolClass
    enrolled: int


def class_rows(*, actor: User) -> list[ClassRow]:
    """Every class by name with its subject, teacher and enrolled count (two queries).
    Raises Forbidden (not an admin)."""
    permissions.require_admin(actor)
    classes = list(
        db.session.scalars(select(SchoolClass).order_by(SchoolClass.name, SchoolClass.id))
    )
    counts = enrolled_counts([c.id for c in classes])
    return [ClassRow(c, counts.get(c.id, 0)) for c in classes]


@dataclass(frozen=True)
class TeacherChoice:
    id: uuid.UUID  # Teacher.id
    name: str
    active: bool


@dataclass(frozen=True)
class ClassChoices:
    subjects: list[Subject]
    teachers: list[TeacherChoice]


def class_choices(*, actor: User) -> ClassChoices:
    """The subjects and teachers a class can be given (two queries). Raises Forbidden."""
    permissions.require_admin(actor)
    subjects = list(db.session.scalars(select(Subject).order_by(Subject.code)))
    teachers = [
        TeacherChoice(tid, f"{first} {last}".strip(), active)
        for tid, first, last, active in db.session.execute(
            select(Teacher.id, User.first_name, User.last_name, User.is_active)
            .join(User, User.id == Teacher.user_id)
            .order_by(User.last_name, User.first_name, Teacher.id)
        )
    ]
    return ClassChoices(subjects, teachers)


@dataclass(frozen=True)
class Candidates:
    students: list[Student]
    more: bool  # more students match than are shown


def enrolment_candidates(
    *, actor: User, class_id: uuid.UUID, query: str = "", limit: int = CANDIDATES_SHOWN
) -> Candidates:
    """Active students not enrolled in the class whose name, number or email contains
    ``query``, by name, at most ``limit`` of them. Raises Forbidden, NotFound (class)."""
    get_class_for_admin(actor=actor, class_id=class_id)
    enrolled = exists().where(Enrollment.class_id == class_id, Enrollment.student_id == Student.id)
    found = list(
        db.session.scalars(
            select(Student)
            .join(User, User.id == Student.user_id)
            .where(
                *user_filters(role=Role.STUDENT, query=query),
                User.is_active.is_(True),
                ~enrolled,
            )
            .order_by(User.last_name, User.first_name, Student.student_number)
            .limit(limit + 1)
        ).unique()
    )
    return Candidates(found[:limit], len(found) > limit)


@dataclass(frozen=True)
class Enrolment:
    school_class: SchoolClass
    student: Student
    records: int  # the student's attendance records in this class's sessions


def enrolment_for(*, actor: User, class_id: uuid.UUID, student_id: uuid.UUID) -> Enrolment:
    """One student's enrolment in a class, with how many records they have there.
    Raises Forbidden, NotFound (class, or the student is not enrolled in it)."""
    school_class = get_class_for_admin(actor=actor, class_id=class_id)
    student = db.session.scalar(
        select(Student)
        .join(Enrollment, Enrollment.student_id == Student.id)
        .where(Enrollment.class_id == class_id, Student.id == student_id)
    )
    if student is None:
        raise NotFound(NOT_ENROLLED_HERE)
    records = db.session.scalar(
        select(func.count(Attendance.id))
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .where(ClassSession.class_id == class_id, Attendance.student_id == student_id)
    )
    return Enrolment(school_class, student, int(records or 0))
