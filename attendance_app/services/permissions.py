"""Who may do what: the only place role rules are written."""

from __future__ import annotations

import uuid
from functools import cache

from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, exists, select

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    ClassSession,
    Enrollment,
    Role,
    SchoolClass,
    SessionStatus,
    Student,
    User,
)
from attendance_app.services.errors import Forbidden


def is_admin(actor: User) -> bool:
    return actor.role == Role.ADMIN


def can_read_notes(actor: User) -> bool:
    """Notes on a record are staff-only: a teacher's remark (a safeguarding note, say) never
    reaches the student it is about, in any page, export or event a student reads."""
    return actor.role in (Role.ADMIN, Role.TEACHER)


def require_record_deleter(actor: User, session: ClassSession, message: str) -> None:
    """Deleting a record: admins; a record of an ENDED (locked) session only superusers,
    the brief's admin-interface rule."""
    require_admin(actor)
    if session.status == SessionStatus.ENDED and not actor.is_superuser:
        raise Forbidden(message)


def teaches(actor: User, school_class: SchoolClass) -> bool:
    """True when ``actor`` is the teacher of ``school_class``.

    Compared through the class's own teacher (loaded with it, or built with its ids for a
    change: ``sessions.session_from_row``): ``actor.teacher`` could cost a query of its own
    on every write."""
    return school_class.teacher.user_id == actor.id


def can_manage_class(actor: User, school_class: SchoolClass) -> bool:
    """Run sessions and mark attendance: the class's teacher, or an admin. An admin's check
    never reads the class's teacher."""
    return is_admin(actor) or teaches(actor, school_class)


def can_manage_class_taught_by(actor: User, teacher_user_id: uuid.UUID) -> bool:
    """:func:`can_manage_class` of a class whose teacher's user id is read as a column (the
    JSON session view reads no entities)."""
    return is_admin(actor) or teacher_user_id == actor.id


def require_superuser_maker(actor: User) -> None:
    """Only a superuser makes another: an admin who could would be one."""
    require_admin(actor)
    if not actor.is_superuser:
        raise Forbidden()


def require_admin(actor: User) -> None:
    if not is_admin(actor):
        raise Forbidden()


def require_guardian_manager(actor: User) -> None:
    """A student's guardians are managed by admins only (their emails are personal data)."""
    require_admin(actor)


def require_student(actor: User) -> Student:
    """Self check-in is a student's own act: their Student profile, or Forbidden."""
    if actor.role != Role.STUDENT or actor.student is None:
        raise Forbidden()
    return actor.student


def can_manage_user(actor: User, user: User) -> bool:
    """Edit, deactivate or reset the password (or second factor) of ``user``: an admin, and
    for a superuser only another superuser (an admin must not be able to become one)."""
    return is_admin(actor) and (actor.is_superuser or not user.is_superuser)


def require_user_manager(actor: User, user: User) -> None:
    if not can_manage_user(actor, user):
        raise Forbidden()


def require_class_manager(actor: User, school_class: SchoolClass) -> None:
    if not can_manage_class(actor, school_class):
        raise Forbidden()


def require_session_manager(actor: User, session: ClassSession) -> None:
    require_class_manager(actor, session.school_class)


def require_manager_of_class_taught_by(actor: User, teacher_user_id: uuid.UUID) -> None:
    if not can_manage_class_taught_by(actor, teacher_user_id):
        raise Forbidden()


def taught_class_ids(actor: User) -> Select[uuid.UUID]:
    """A subquery of the class ids ``actor`` teaches (empty for non-teachers)."""
    return classes_taught_by(actor.teacher.id if actor.teacher else None)


def classes_taught_by(
    teacher_id: uuid.UUID | BindParameter[uuid.UUID] | None,
) -> Select[uuid.UUID]:
    """A subquery of the class ids teacher ``teacher_id`` teaches: a value, or a bind
    parameter in a statement that is built once (history)."""
    return select(SchoolClass.id).where(SchoolClass.teacher_id == teacher_id)


def require_student_reader(
    actor: User, student_id: uuid.UUID, *, teaches: bool | None = None
) -> None:
    """A student's own figures: themself, an admin, or a teacher of one of their classes —
    enrolled there now, or with records there (a student who left keeps their history).

    A teacher with no class in common with the student gets 403 rather than an empty page,
    so a teacher cannot probe which ids are students. ``teaches``: the answer of
    :func:`teaches_student` (records counting) for this teacher, already read with the
    caller's own statement; None: read it here.
    """
    _require_student_access(actor, student_id, records_count=True, teaches=teaches)


def require_student_analytics_reader(actor: User, student_id: uuid.UUID) -> None:
    """A student's analytics: themself, an admin, or a teacher of a class they are enrolled
    in (the contract's rule for analytics: records alone do not make a teacher theirs)."""
    _require_student_access(actor, student_id, records_count=False)


def _require_student_access(
    actor: User, student_id: uuid.UUID, *, records_count: bool, teaches: bool | None = None
) -> None:
    if is_admin(actor):
        return
    if actor.role == Role.STUDENT:
        if actor.student is not None and actor.student.id == student_id:
            return
        raise Forbidden()
    if actor.role == Role.TEACHER and actor.teacher is not None:
        if teaches is None:
            params = {"student_id": student_id, "teacher_id": actor.teacher.id}
            teaches = bool(db.session.scalar(_teaches_student_statement(records_count), params))
        if teaches:
            return
    raise Forbidden()


def teaches_student(
    student_id: BindParameter[uuid.UUID],
    teacher_id: BindParameter[uuid.UUID],
    records_count: bool,
) -> ColumnElement[bool]:
    """Whether teacher ``teacher_id`` teaches student ``student_id``: a class of theirs
    where the student is enrolled, or, with ``records_count``, has records. A column, so a
    read may carry the answer beside its own (a student's history).

    Each EXISTS joins the student's rows to their class's teacher and stops at the first
    match; written as ``class_id IN (the teacher's classes)`` SQLite built that list first,
    every time (~80 µs for a teacher of 60 classes, against ~8)."""
    mine: ColumnElement[bool] = exists(
        select(Enrollment.class_id)
        .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .where(Enrollment.student_id == student_id, SchoolClass.teacher_id == teacher_id)
    )
    if records_count:
        mine = mine | exists(
            select(Attendance.id)
            .join(ClassSession, ClassSession.id == Attendance.session_id)
            .join(SchoolClass, SchoolClass.id == ClassSession.class_id)
            .where(Attendance.student_id == student_id, SchoolClass.teacher_id == teacher_id)
        )
    return mine


@cache
def _teaches_student_statement(records_count: bool) -> Select[tuple[bool]]:
    """:func:`teaches_student` as a statement, built once with bind parameters: building it
    per request was a sixth of a student's history."""
    return select(teaches_student(bindparam("student_id"), bindparam("teacher_id"), records_count))


def require_class_analytics_filter(actor: User, school_class: SchoolClass) -> None:
    """Narrowing analytics to one class: a teacher only to a class they teach."""
    if actor.role == Role.TEACHER and not teaches(actor, school_class):
        raise Forbidden()


def require_export_reader(
    actor: User,
    *,
    student_id: uuid.UUID | None,
    class_id: uuid.UUID | None,
    session_id: uuid.UUID | None,
) -> None:
    """Who may download records under these filters: an admin any; a student only their own
    (``student_id`` must be theirs); a teacher only their classes' (a class or session they
    do not teach is refused, not emptied, so the download never pretends to be complete)."""
    if is_admin(actor):
        return
    if actor.role == Role.STUDENT:
        own = actor.student.id if actor.student is not None else None
        if own is None or student_id != own:
            raise Forbidden()
        return
    if actor.role != Role.TEACHER or actor.teacher is None:
        raise Forbidden()
    taught = taught_class_ids(actor)
    checks = []
    if class_id is not None:
        checks.append(
            select(SchoolClass.id).where(SchoolClass.id == class_id, SchoolClass.id.in_(taught))
        )
    if session_id is not None:
        checks.append(
            select(ClassSession.id).where(
                ClassSession.id == session_id, ClassSession.class_id.in_(taught)
            )
        )
    if checks and not db.session.scalar(select(and_(*(c.exists() for c in checks)))):
        raise Forbidden()
    if student_id is not None:
        require_student_reader(actor, student_id)
