"""The JSON session view's session and statistics, read as columns in one statement.

``marking.sessions.get_session_for`` and ``statistics.session_statistics`` gave the same in
two statements, the first building a ClassSession, SchoolClass, Subject, Teacher and User
entity only to print seven of their values: together ~40 % of a 35-student view's CPU.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, select

from attendance_app.models import (
    ClassSession,
    SchoolClass,
    SessionStatus,
    Subject,
    Teacher,
    User,
    full_name,
)
from attendance_app.services import permissions
from attendance_app.services.dialect import iso_text, uuid_text
from attendance_app.services.errors import NotFound
from attendance_app.services.marking.sessions import SESSION_NOT_FOUND
from attendance_app.services.reporting.statistics import (
    SessionStatistics,
    read_columns,
    session_counts,
    statistics_from_counts,
)


class SessionSummary(NamedTuple):
    """A session as the view's ``session`` object shows it: ids and times already as text."""

    id: str
    class_name: str
    subject_code: str
    teacher_first_name: str
    teacher_last_name: str
    start_time: str | None  # as models.base.iso writes it
    end_time: str | None
    status: SessionStatus

    @property
    def teacher_name(self) -> str:
        return full_name(self.teacher_first_name, self.teacher_last_name)

    @property
    def is_locked(self) -> bool:
        """As ``ClassSession.is_locked`` (the same function)."""
        return ClassSession.is_locked.fget(self)  # type: ignore[attr-defined, no-any-return]


_SUMMARY_WIDTH = len(SessionSummary._fields)


@cache
def _summary_statement() -> Select[*tuple[Any, ...]]:
    """The session's :class:`SessionSummary` columns, its teacher's user id (the permission)
    and :func:`statistics.session_counts`; built once."""
    return (
        select(
            uuid_text(ClassSession.id),
            SchoolClass.name,
            Subject.code,
            User.first_name,
            User.last_name,
            iso_text(ClassSession.start_time),
            iso_text(ClassSession.end_time),
            ClassSession.status,
            Teacher.user_id,
            *session_counts(),
        )
        .select_from(ClassSession)
        .join(SchoolClass, SchoolClass.id == ClassSession.class_id)
        .join(Subject, Subject.id == SchoolClass.subject_id)
        .join(Teacher, Teacher.id == SchoolClass.teacher_id)
        .join(User, User.id == Teacher.user_id)
        .where(ClassSession.id == bindparam("session_id"))
    )


def session_summary(actor: User, session_id: uuid.UUID) -> tuple[SessionSummary, SessionStatistics]:
    """The session ``actor`` may manage, and its statistics (one query). Raises NotFound,
    Forbidden — as ``marking.sessions.get_session_for``, in the same order."""
    found = read_columns(_summary_statement(), {"session_id": session_id})
    if not found:
        raise NotFound(SESSION_NOT_FOUND)
    row = found[0]
    permissions.require_manager_of_class_taught_by(actor, row[_SUMMARY_WIDTH])
    return (
        SessionSummary._make(row[:_SUMMARY_WIDTH]),
        statistics_from_counts(row[_SUMMARY_WIDTH + 1 :]),
    )
