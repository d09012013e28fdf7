"""The JSON session view: its session and statistics, read as columns in one statement, and
the finished view kept while the database's data stays the same.

``marking.sessions.get_session_for`` and ``statistics.session_statistics`` gave the same in
two statements, the first building a ClassSession, SchoolClass, Subject, Teacher and User
entity only to print seven of their values: together ~40 % of a 35-student view's CPU.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import Select, bindparam, select

from attendance_app.models import (
    AttendanceStatus,
    ClassSession,
    SchoolClass,
    SessionStatus,
    Subject,
    Teacher,
    User,
    full_name,
)
from attendance_app.services import permissions
from attendance_app.services.data_version import data_version
from attendance_app.services.dialect import iso_text, uuid_text
from attendance_app.services.errors import NotFound
from attendance_app.services.marking.sessions import SESSION_NOT_FOUND
from attendance_app.services.reporting.statistics import (
    RecordView,
    SessionStatistics,
    read_columns,
    session_counts,
    session_record_views,
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


def _summary(session_id: uuid.UUID) -> tuple[SessionSummary, uuid.UUID, SessionStatistics]:
    """The session, its teacher's user id and its statistics (one query). Raises NotFound."""
    found = read_columns(_summary_statement(), {"session_id": session_id})
    if not found:
        raise NotFound(SESSION_NOT_FOUND)
    row = found[0]
    return (
        SessionSummary._make(row[:_SUMMARY_WIDTH]),
        row[_SUMMARY_WIDTH],
        statistics_from_counts(row[_SUMMARY_WIDTH + 1 :]),
    )


def session_summary(actor: User, session_id: uuid.UUID) -> tuple[SessionSummary, SessionStatistics]:
    """The session ``actor`` may manage, and its statistics (one query). Raises NotFound,
    Forbidden — as ``marking.sessions.get_session_for``, in the same order."""
    summary, teacher_user_id, stats = _summary(session_id)
    permissions.require_manager_of_class_taught_by(actor, teacher_user_id)
    return summary, stats


#: What the view's caller makes of a session's summary, statistics and records: the body.
Render = Callable[[SessionSummary, SessionStatistics, Sequence[RecordView]], bytes]


class _Kept(NamedTuple):
    teacher_user_id: uuid.UUID  # the permission, asked again of every caller
    body: bytes


class _Views:
    """Finished views by (data version, session, filters), the least recently used dropped
    first beyond ``SESSION_VIEW_CACHE_BYTES`` of bodies (one per app: per database)."""

    def __init__(self) -> None:
        self.kept: dict[Hashable, _Kept] = {}
        self.size = 0
        self.lock = threading.Lock()  # green under eventlet/gevent; nothing inside yields

    def get(self, key: Hashable) -> _Kept | None:
        with self.lock:
            kept = self.kept.pop(key, None)
            if kept is not None:
                self.kept[key] = kept  # now the most recently used
            return kept

    def put(self, key: Hashable, kept: _Kept, limit: int) -> None:
        with self.lock:
            previous = self.kept.pop(key, None)
            if previous is not None:
                self.size -= len(previous.body)
            self.kept[key] = kept
            self.size += len(kept.body)
            while self.size > limit:
                self.size -= len(self.kept.pop(next(iter(self.kept))).body)


def _views() -> _Views:
    views: _Views | None = current_app.extensions.get("attendance_session_views")
    if views is None:
        views = current_app.extensions.setdefault("attendance_session_views", _Views())
    return views


def session_view(
    actor: User,
    session_id: uuid.UUID,
    *,
    status: AttendanceStatus | None,
    marked_after: datetime | None,
    include_absent: bool,
    render: Render,
) -> bytes:
    """The session view's body: ``render`` of the session ``actor`` may manage, its
    statistics and its records (``statistics.session_record_views``'s filters). Raises
    NotFound, Forbidden, in ``session_summary``'s order.

    A body made once is given again while the database's data is the same
    (``services.data_version``: any write anywhere, by any process, makes a new version),
    after the permission is asked again of this actor. The key holds everything a body
    depends on besides the data: the session and the filters; ``render`` must depend on
    nothing else (the app's JSON settings are per app, and so is this memory).
    """
    limit = current_app.config.get("SESSION_VIEW_CACHE_BYTES", 0)
    version = data_version() if limit > 0 else None
    key = (version, session_id, status, marked_after, include_absent)
    if version is not None:
        kept = _views().get(key)
        if kept is not None:
            permissions.require_manager_of_class_taught_by(actor, kept.teacher_user_id)
            return kept.body
    summary, teacher_user_id, stats = _summary(session_id)
    permissions.require_manager_of_class_taught_by(actor, teacher_user_id)
    rows = session_record_views(
        session_id, status=status, marked_after=marked_after, include_absent=include_absent
    )
    body = render(summary, stats, rows)
    if version is not None:
        _views().put(key, _Kept(teacher_user_id, body), limit)
    return body
