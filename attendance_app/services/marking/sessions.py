"""Class sessions: create, start and end (SCHEDULED → ACTIVE → ENDED)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, Update, bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    ClassSession,
    SchoolClass,
    SessionStatus,
    Teacher,
    User,
    built,
    utcnow,
)
from attendance_app.services import events, permissions
from attendance_app.services.dialect import returned
from attendance_app.services.errors import Invalid, NotFound
from attendance_app.services.reporting.statistics import SessionStatistics, session_statistics
from attendance_app.services.school.structure import CLASS_NOT_FOUND
from attendance_app.services.transaction import execute_core, keep, unit_of_work, unit_state

SESSION_NOT_FOUND = "Session not found."

_MOVES = {"start": SessionStatus.SCHEDULED, "end": SessionStatus.ACTIVE}


def bad_move(verb: str, status: SessionStatus) -> str:
    return f"Cannot {verb} a session that is {status.value}"


def is_markable(session: ClassSession) -> bool:
    """Whether the session's attendance can be changed now: ACTIVE only (SCHEDULED has not
    started, ENDED is locked). The one place pages decide a tile is tappable."""
    return session.status == SessionStatus.ACTIVE and not session.is_locked


@dataclass(frozen=True)
class SessionResult:
    session: ClassSession
    statistics: SessionStatistics


# The statements of every write, built (and their cache keys made) once.
_LOAD_SESSION = (
    select(ClassSession)
    .where(ClassSession.id == bindparam("session_id"))
    .execution_options(populate_existing=True)
)
_LOAD_SESSION_FOR_UPDATE = _LOAD_SESSION.with_for_update(of=ClassSession)
#: The session of a record, found by the record's id in the same statement without locking
#: the record. Every writer locks a session before any record of it (a tap: the session, then
#: the record), so a change found by its record's id locks the session first too: taking the
#: record first, a correction and a tap of one record each waited for the other's lock
#: (PostgreSQL's deadlock, 40P01, a 500).
_OF_RECORD = (
    ClassSession.id
    == (
        select(Attendance.session_id).where(Attendance.id == bindparam("attendance_id"))
    ).scalar_subquery()
)
_LOAD_SESSION_OF_RECORD = (
    select(ClassSession)
    .where(_OF_RECORD)
    .with_for_update(of=ClassSession)
    .execution_options(populate_existing=True)
)
_SESSIONS = cast(Table, ClassSession.__table__)
_CLASSES = cast(Table, SchoolClass.__table__)
_TEACHERS = cast(Table, Teacher.__table__)
_SESSION_KEYS = tuple(_SESSIONS.c.keys())
_CLASS_KEYS = tuple(_CLASSES.c.keys())
#: A session about to change, as columns: every column of the session and of its class, and
#: the user id of the class's teacher (what the permission compares with the actor), read
#: from ``SESSION_TABLES``; ``session_from_row`` builds the entities, without the class's
#: subject and the teacher's user (the rare paths that need them look them up). What a
#: change of attendance reads of its session: its load through the ORM (the class joined,
#: its teacher and subject lazy) was ~420 Python calls of every single write; the same
#: columns as a row ~170.
SESSION_COLUMNS = (*_SESSIONS.c, *_CLASSES.c, _TEACHERS.c.user_id)
SESSION_TABLES = _SESSIONS.join(_CLASSES, _CLASSES.c.id == _SESSIONS.c.class_id).join(
    _TEACHERS, _TEACHERS.c.id == _CLASSES.c.teacher_id
)
_CLASS_AT = len(_SESSION_KEYS)
_TEACHER_USER_AT = _CLASS_AT + len(_CLASS_KEYS)
_TEACHER_ID_AT = _CLASS_AT + _CLASS_KEYS.index("teacher_id")
_SESSION_FOR_A_CHANGE = (
    select(*SESSION_COLUMNS)
    .select_from(SESSION_TABLES)
    .where(_SESSIONS.c.id == bindparam("session_id"))
    .with_for_update(of=_SESSIONS)
)


def session_from_row(row: Sequence[Any]) -> tuple[ClassSession, Sequence[Any]]:
    """The session of a row that starts with ``SESSION_COLUMNS``, with its class and the
    class's teacher (their ids), built, not loaded (``models.built``: read only), and kept
    for the unit of work's later steps (the alert check); and the rest of the row."""
    teacher = built(Teacher, (("id", row[_TEACHER_ID_AT]), ("user_id", row[_TEACHER_USER_AT])))
    school_class = built(
        SchoolClass,
        (*zip(_CLASS_KEYS, row[_CLASS_AT:_TEACHER_USER_AT], strict=True), ("teacher", teacher)),
    )
    session = built(
        ClassSession,
        (*zip(_SESSION_KEYS, row[:_CLASS_AT], strict=True), ("school_class", school_class)),
    )
    keep(session)
    return session, row[_TEACHER_USER_AT + 1 :]


#: On the table, not the mapped class: a Core UPDATE skips the ORM's bulk-update machinery
#: (a visible share of every write); the loaded session takes the two new values below.
_BUMP_LIVE_SEQ = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"))
    .values(live_seq=_SESSIONS.c.live_seq + 1)
    .returning(_SESSIONS.c.live_seq, _SESSIONS.c.updated_at)
)


#: ``SESSION_COLUMNS`` as an UPDATE of the session can return them: its own columns, and its
#: class's and the teacher's user id as scalar subqueries of the updated row (SQLite's
#: RETURNING names no other table; PostgreSQL's could, but one form serves both).
BUMPED_SESSION_COLUMNS = (
    *_SESSIONS.c,
    *(
        returned(select(column).where(_CLASSES.c.id == _SESSIONS.c.class_id).scalar_subquery())
        for column in _CLASSES.c
    ),
    returned(
        select(_TEACHERS.c.user_id)
        .join_from(_CLASSES, _TEACHERS, _TEACHERS.c.id == _CLASSES.c.teacher_id)
        .where(_CLASSES.c.id == _SESSIONS.c.class_id)
        .scalar_subquery()
    ),
)


def bumping_read(where: ColumnElement[bool], *columns: Any) -> Update:
    """The session's ``live_seq`` bump that is also the read of a change of its attendance:
    ``UPDATE class_sessions SET live_seq = live_seq + 1 … WHERE where RETURNING
    BUMPED_SESSION_COLUMNS, columns`` (rows as ``SESSION_COLUMNS``' for
    ``session_from_bumped_row``). The UPDATE takes the session's row lock as ``SELECT … FOR
    UPDATE`` did, and in the same place; its statement saves the bump's own.

    Only for a change whose every outcome that writes nothing is rolled back, the bump with
    it: a mark, a correction (each an error), a tap (a replayed or stale tap too,
    ``taps._WroteNothing``). A number taken and never broadcast would be a gap every listener
    resyncs on."""
    return (
        update(_SESSIONS)
        .where(where)
        .values(live_seq=_SESSIONS.c.live_seq + 1)
        .returning(*BUMPED_SESSION_COLUMNS, *columns)
    )


def session_from_bumped_row(row: Sequence[Any]) -> tuple[ClassSession, Sequence[Any]]:
    """``session_from_row`` for a row of a ``bumping_read``: the session's ``live_seq`` is the
    number its change takes, which ``bump_live_seq`` then gives without a statement."""
    session, rest = session_from_row(row)
    unit_state(_SEQ_TAKEN)[session.id] = session.live_seq
    return session, rest


_SEQ_TAKEN = "seq_taken"


def load_session_for_a_change(session_id: uuid.UUID) -> ClassSession:
    """``load_session(session_id, lock=True)`` for a change of attendance: row-locked, built
    from its columns (``session_from_row``). Raises NotFound."""
    found = execute_core(_SESSION_FOR_A_CHANGE, {"session_id": session_id}).first()
    if found is None:
        raise NotFound(SESSION_NOT_FOUND)
    return session_from_row(found)[0]


def lock_session_of_record(attendance_id: uuid.UUID) -> ClassSession | None:
    """The session of the record ``attendance_id``, row-locked, loaded as ``load_session``
    loads it, or None when there is no such record: what a change found by its record's id
    locks first (the record after it, and re-read then: it may have gone while this
    waited). A change of attendance reads it with its ``live_seq`` bump
    (``corrections.record_for_change``)."""
    return (
        db.session.scalars(_LOAD_SESSION_OF_RECORD, {"attendance_id": attendance_id})
        .unique()
        .one_or_none()
    )


def load_session(session_id: uuid.UUID, *, lock: bool = False) -> ClassSession:
    """The session with its class, subject and teacher, fresh from the database (one query).

    ``lock`` takes the session's row lock (PostgreSQL ``FOR UPDATE``) for an operation that
    changes the session or its attendance: such operations on one session run one after
    another, so no mark lands in a session that is ending and ``live_seq`` orders them.
    SQLite needs none: BEGIN IMMEDIATE already serialises writers. Raises NotFound.
    """
    stmt = _LOAD_SESSION_FOR_UPDATE if lock else _LOAD_SESSION
    session = db.session.scalars(stmt, {"session_id": session_id}).unique().one_or_none()
    if session is None:
        raise NotFound(SESSION_NOT_FOUND)
    return session


def bump_live_seq(session: ClassSession) -> int:
    """The next broadcast sequence number of ``session`` (in the caller's transaction): the
    one its ``bumping_read`` took, once, or a new one."""
    taken = unit_state(_SEQ_TAKEN).pop(session.id, None)
    if taken is not None:
        return int(taken)
    seq, updated_at = execute_core(_BUMP_LIVE_SEQ, {"session_id": session.id}).one()
    set_committed_value(session, "live_seq", seq)
    set_committed_value(session, "updated_at", updated_at)
    return int(seq)


def ended_session_students(session: ClassSession, *student_ids: uuid.UUID) -> tuple[uuid.UUID, ...]:
    """``student_ids`` if ``session`` has ENDED, else none: what a change of its records
    carries as ``AttendanceChanged.ended_session_student_ids`` (decided from the session the
    writer has loaded, without a statement)."""
    return student_ids if session.status == SessionStatus.ENDED else ()


def get_session_for(actor: User, session_id: uuid.UUID) -> ClassSession:
    """A session ``actor`` may manage. Raises NotFound, Forbidden."""
    session = load_session(session_id)
    permissions.require_session_manager(actor, session)
    return session


def session_detail(*, actor: User, session_id: uuid.UUID) -> SessionResult:
    session = get_session_for(actor, session_id)
    return SessionResult(session, session_statistics(session))


@unit_of_work
def create_session(*, actor: User, class_id: uuid.UUID) -> SessionResult:
    """Schedule a new session of a class. Raises NotFound (class), Forbidden."""
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound(CLASS_NOT_FOUND)
    permissions.require_class_manager(actor, school_class)
    session = ClassSession(class_id=class_id, status=SessionStatus.SCHEDULED)
    session.school_class = school_class
    db.session.add(session)
    db.session.flush()
    return SessionResult(session, session_statistics(session))


@unit_of_work
def start_session(
    *, actor: User, session_id: uuid.UUID, at: datetime | None = None
) -> SessionResult:
    """SCHEDULED → ACTIVE with ``start_time`` now. Raises NotFound, Forbidden, Invalid."""
    return _move(actor, session_id, "start", at)


@unit_of_work
def end_session(*, actor: User, session_id: uuid.UUID, at: datetime | None = None) -> SessionResult:
    """ACTIVE → ENDED with ``end_time`` now; the attendance locks. Raises as start_session."""
    return _move(actor, session_id, "end", at)


def _move(actor: User, session_id: uuid.UUID, verb: str, at: datetime | None) -> SessionResult:
    session = load_session(session_id, lock=True)
    # The clock is read only once the row lock is held: a mark that held the lock first has
    # committed by now, so it can never carry a time later than the end_time set here.
    now = at or utcnow()
    permissions.require_session_manager(actor, session)
    if session.status != _MOVES[verb]:
        raise Invalid(bad_move(verb, session.status), field="status")
    if verb == "start":
        session.status, session.start_time = SessionStatus.ACTIVE, now
    else:
        session.status, session.end_time = SessionStatus.ENDED, now
    db.session.flush()
    events.record(
        db.session,
        events.SessionStatusChanged(
            session.id, session.status.value, session.is_locked, actor.id, bump_live_seq(session)
        ),
    )
    return SessionResult(session, session_statistics(session))


def list_sessions(*, actor: User, class_id: uuid.UUID) -> list[ClassSession]:
    """A class's sessions, newest first. Raises NotFound, Forbidden."""
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound(CLASS_NOT_FOUND)
    permissions.require_class_manager(actor, school_class)
    stmt = (
        select(ClassSession)
        .where(ClassSession.class_id == class_id)
        .order_by(ClassSession.start_time.desc().nulls_first(), ClassSession.created_at.desc())
    )
    return list(db.session.scalars(stmt).unique())


def sessions_overview(*, actor: User, day_start: datetime, day_end: datetime) -> list[ClassSession]:
    """The sessions a person deals with today: every ACTIVE or SCHEDULED one of the classes
    they may manage, and those that started in [day_start, day_end). ACTIVE first."""
    stmt = select(ClassSession).where(
        (ClassSession.status != SessionStatus.ENDED)
        | ((ClassSession.start_time >= day_start) & (ClassSession.start_time < day_end))
    )
    if not permissions.is_admin(actor):
        stmt = stmt.where(ClassSession.class_id.in_(permissions.taught_class_ids(actor)))
    found = list(db.session.scalars(stmt).unique())
    order = {SessionStatus.ACTIVE: 0, SessionStatus.SCHEDULED: 1, SessionStatus.ENDED: 2}
    return sorted(
        found,
        key=lambda s: (order[s.status], -(s.start_time.timestamp() if s.start_time else 0)),
    )


def class_session_ids(class_id: uuid.UUID) -> list[uuid.UUID]:
    """The ids of every session of a class (whose rooms someone may have joined)."""
    return list(
        db.session.scalars(select(ClassSession.id).where(ClassSession.class_id == class_id))
    )
