"""The school's structure: subjects, classes and enrolments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from attendance_app.extensions import db
from attendance_app.models import Enrollment, Role, SchoolClass, Student, Subject, Teacher, User
from attendance_app.services import events, permissions
from attendance_app.services.dialect import insert
from attendance_app.services.errors import Invalid, NotFound
from attendance_app.services.fields import (
    CLASS_NAME_MAX,
    SUBJECT_CODE_MAX,
    SUBJECT_NAME_MAX,
    require_fits,
)
from attendance_app.services.transaction import affected_rows, unit_of_work

SUBJECT_CODE_TAKEN = "A subject with this code already exists."
CLASS_NOT_FOUND = "Class not found."
SUBJECT_NOT_FOUND = "Subject not found."
TEACHER_NOT_FOUND = "Teacher not found."
STUDENT_NOT_FOUND = "Student not found."
NOT_ENROLLED_HERE = "Student is not enrolled in this class."


def _require_subject_fields(code: str, name: str) -> None:
    require_fits(code=(code.strip(), SUBJECT_CODE_MAX), name=(name.strip(), SUBJECT_NAME_MAX))


def invalid_pk(pk: uuid.UUID) -> str:
    """DRF's wording for a reference to an object that does not exist."""
    return f'Invalid pk "{pk}" - object does not exist.'


@unit_of_work
def create_subject(*, actor: User, code: str, name: str) -> Subject:
    """Create a subject (admins). Raises Forbidden, Invalid (duplicate code)."""
    permissions.require_admin(actor)
    _require_subject_fields(code, name)
    code = code.strip()
    if db.session.scalar(select(Subject.id).where(func.lower(Subject.code) == code.lower())):
        raise Invalid(SUBJECT_CODE_TAKEN, field="code")
    subject = Subject(code=code, name=name.strip())
    db.session.add(subject)
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise Invalid(SUBJECT_CODE_TAKEN, field="code") from exc
    return subject


def list_subjects() -> list[Subject]:
    return list(db.session.scalars(select(Subject).order_by(Subject.code)))


def get_subject_for(*, actor: User, subject_id: uuid.UUID) -> Subject:
    """One subject, for an admin. Raises Forbidden, NotFound."""
    permissions.require_admin(actor)
    subject = db.session.get(Subject, subject_id)
    if subject is None:
        raise NotFound(SUBJECT_NOT_FOUND)
    return subject


@unit_of_work
def update_subject(*, actor: User, subject_id: uuid.UUID, code: str, name: str) -> Subject:
    """Change a subject's code and name (admins); codes stay unique in any case.

    Raises Forbidden, NotFound, Invalid (code taken by another subject).
    """
    permissions.require_admin(actor)
    subject = db.session.get(Subject, subject_id, populate_existing=True)
    if subject is None:
        raise NotFound(SUBJECT_NOT_FOUND)
    _require_subject_fields(code, name)
    code = code.strip()
    if db.session.scalar(
        select(Subject.id).where(func.lower(Subject.code) == code.lower(), Subject.id != subject.id)
    ):
        raise Invalid(SUBJECT_CODE_TAKEN, field="code")
    subject.code = code
    subject.name = name.strip()
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise Invalid(SUBJECT_CODE_TAKEN, field="code") from exc
    return subject


@unit_of_work
def create_class(
    *, actor: User, subject_id: uuid.UUID, teacher_id: uuid.UUID, name: str
) -> SchoolClass:
    """Create a class of a subject taught by a teacher (admins). Raises Forbidden, Invalid."""
    permissions.require_admin(actor)
    require_fits(name=(name.strip(), CLASS_NAME_MAX))
    if db.session.get(Subject, subject_id) is None:
        raise Invalid(invalid_pk(subject_id), field="subject_id")
    if db.session.get(Teacher, teacher_id) is None:
        raise Invalid(invalid_pk(teacher_id), field="teacher_id")
    school_class = SchoolClass(subject_id=subject_id, teacher_id=teacher_id, name=name.strip())
    db.session.add(school_class)
    db.session.flush()
    db.session.refresh(school_class)
    return school_class


@unit_of_work
def update_class(
    *, actor: User, class_id: uuid.UUID, subject_id: uuid.UUID, teacher_id: uuid.UUID, name: str
) -> SchoolClass:
    """Rename a class, or move it to another subject or teacher (admins); its sessions,
    records and enrolments stay with it.

    Raises Forbidden, NotFound (class), Invalid (unknown subject or teacher).
    """
    permissions.require_admin(actor)
    school_class = db.session.get(SchoolClass, class_id, populate_existing=True)
    if school_class is None:
        raise NotFound(CLASS_NOT_FOUND)
    require_fits(name=(name.strip(), CLASS_NAME_MAX))
    if db.session.get(Subject, subject_id) is None:
        raise Invalid(invalid_pk(subject_id), field="subject_id")
    if db.session.get(Teacher, teacher_id) is None:
        raise Invalid(invalid_pk(teacher_id), field="teacher_id")
    if school_class.teacher_id != teacher_id:
        # The old teacher stops receiving the class's live events at once (after commit).
        events.record(
            db.session,
            events.ClassTeacherChanged(school_class.id, school_class.teacher.user_id),
        )
    school_class.subject_id = subject_id
    school_class.teacher_id = teacher_id
    school_class.name = name.strip()
    db.session.flush()
    # The subject and teacher relationships still point at the old rows until reloaded.
    db.session.refresh(school_class)
    return school_class


def get_class_for(actor: User, class_id: uuid.UUID) -> SchoolClass:
    """The class, if ``actor`` may manage it. Raises NotFound, Forbidden."""
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound(CLASS_NOT_FOUND)
    permissions.require_class_manager(actor, school_class)
    return school_class


def list_classes(*, actor: User) -> list[SchoolClass]:
    """Every class for an admin; a teacher's own classes; nothing for students."""
    stmt = select(SchoolClass).order_by(SchoolClass.name)
    if not permissions.is_admin(actor):
        if actor.role != Role.TEACHER:
            return []
        stmt = stmt.where(SchoolClass.id.in_(permissions.taught_class_ids(actor)))
    return list(db.session.scalars(stmt))


def enrolled_count(class_id: uuid.UUID) -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.class_id == class_id)
        )
        or 0
    )


def enrolled_counts(class_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """{class id: enrolled count} for many classes in one query."""
    if not class_ids:
        return {}
    rows = db.session.execute(
        select(Enrollment.class_id, func.count())
        .where(Enrollment.class_id.in_(class_ids))
        .group_by(Enrollment.class_id)
    )
    # Unpack the rows: SQLAlchemy 2.1's deprecated Result.tuples() no longer feeds dict().
    return {class_id: count for class_id, count in rows}


def enrolled_students(class_id: uuid.UUID) -> list[Student]:
    """The class's students ordered by last and first name (one query)."""
    return list(
        db.session.scalars(
            select(Student)
            .join(Enrollment, Enrollment.student_id == Student.id)
            .join(User, User.id == Student.user_id)
            .where(Enrollment.class_id == class_id)
            .order_by(User.last_name, User.first_name, Student.student_number)
        ).unique()
    )


@dataclass(frozen=True)
class EnrollResult:
    school_class: SchoolClass
    enrolled: int
    total_enrolled: int


@unit_of_work
def enroll_students(
    *, actor: User, class_id: uuid.UUID, student_ids: list[uuid.UUID]
) -> EnrollResult:
    """Enrol students in a class (admins); enrolling twice is not an error.

    Raises Forbidden, NotFound (class), Invalid (unknown student ids, keyed by index).
    """
    permissions.require_admin(actor)
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound(CLASS_NOT_FOUND)
    wanted = list(dict.fromkeys(student_ids))
    known = set(db.session.scalars(select(Student.id).where(Student.id.in_(wanted))))
    missing = {str(i): [invalid_pk(sid)] for i, sid in enumerate(student_ids) if sid not in known}
    if missing:
        raise Invalid(
            invalid_pk(student_ids[int(next(iter(missing)))]), field="student_ids", errors=missing
        )
    added = 0
    if wanted:
        rows = db.session.execute(
            insert(Enrollment)
            .values([{"class_id": class_id, "student_id": sid} for sid in wanted])
            .on_conflict_do_nothing(index_elements=["class_id", "student_id"])
            .returning(Enrollment.student_id)
        ).all()
        added = len(rows)
    return EnrollResult(school_class, added, enrolled_count(class_id))


@unit_of_work
def unenroll_student(*, actor: User, class_id: uuid.UUID, student_id: uuid.UUID) -> None:
    """Remove a student from a class (admins); their attendance records stay.

    Raises Forbidden, NotFound (class, or the student is not enrolled in it).
    """
    permissions.require_admin(actor)
    if db.session.get(SchoolClass, class_id) is None:
        raise NotFound(CLASS_NOT_FOUND)
    removed = affected_rows(
        delete(Enrollment).where(
            Enrollment.class_id == class_id, Enrollment.student_id == student_id
        )
    )
    if removed == 0:
        raise NotFound(NOT_ENROLLED_HERE)
