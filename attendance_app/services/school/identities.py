"""Who is calling, as a User entity: read from the database, built from memory when the
row is one seen before.

Every request that carries a token or a login cookie reads its user's row (with the
teacher's or student's profile) in one Core statement, unless nothing at all has been
written since a token was last found valid (``tokens._Seen``, by the data version): a
revoked or expired token, a deactivation, a new password or a sign-out everywhere is
therefore seen on the very next request, in every process, as before. What is kept per
process is the *entity* built from a row: a detached User (and profile) made once per
distinct row (:func:`kept_user`), read as it is by reads that only ask who is calling, and
copied into the request's session with ``Session.merge(load=False)`` (no SQL) for
everything else (:func:`attached`). The key is the whole row, so a kept entity is used
only for a row equal, column by column, to the one it was made from: there is nothing to
invalidate. The ORM's loading of a User with its two joined profiles cost ~480 Python
calls a token request (SQLite), ~560 a cookie's; the row and the copy ~360 and ~380
(docs/PERFORMANCE.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import current_app
from sqlalchemy import Column, Row, Select, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from attendance_app.extensions import db
from attendance_app.memory import Bounded
from attendance_app.models import Student, Teacher, User

#: Kept entities per process: one per user (a new row replaces the old), up to ~8 KiB each
#: with its row (tracemalloc), so at most ~35 MiB; beyond it the oldest half is dropped.
KEPT_USERS = 4_096


def _id_first(cls: type[Any]) -> tuple[Column[Any], ...]:
    """Every column of ``cls``'s table, its primary key ``id`` first."""
    table = cls.__table__
    return (table.c.id, *(column for column in table.columns if column.key != "id"))


_USER, _TEACHER, _STUDENT = _id_first(User), _id_first(Teacher), _id_first(Student)
#: The columns of a user and both profiles (each id first; a missing profile's are NULL):
#: a kept entity's key.
COLUMNS: tuple[Column[Any], ...] = (*_USER, *_TEACHER, *_STUDENT)
_AFTER_USER = len(_USER)
_AFTER_TEACHER = _AFTER_USER + len(_TEACHER)
_WIDTH = len(COLUMNS)
#: Where a row of :data:`COLUMNS` says whether the account is active.
IS_ACTIVE = [column.key for column in _USER].index("is_active")


def select_user(*extra: Any) -> Select[Any]:
    """``SELECT`` the :data:`COLUMNS` of a user (profiles outer-joined), then ``extra``."""
    return (
        select(*COLUMNS, *extra)
        .select_from(User)
        .outerjoin(Teacher, Teacher.user_id == User.id)
        .outerjoin(Student, Student.user_id == User.id)
    )


def execute(statement: Select[Any], params: dict[str, Any]) -> Row[Any] | None:
    """The statement's one row (or None), on the request session's connection: the Core
    statement without the ORM session's per-execution work."""
    return db.session.connection().execute(statement, params).one_or_none()


def in_session(user_id: uuid.UUID, session: Session | None = None) -> User | None:
    """The user already in the request's session (``session``, when the caller has looked it
    up already), as an ORM load would return it, or None."""
    # The identity key's documented shape, (class, primary key tuple, identity token), made
    # directly: sqlalchemy.orm.util.identity_key costs ~60 calls through the mapper.
    found = (session or db.session()).identity_map.get((User, (user_id,), None))
    return found if isinstance(found, User) else None


class _Kept:
    """Detached entities by user id, each with the row it was made from."""

    def __init__(self) -> None:
        self.users: Bounded[uuid.UUID, tuple[Sequence[Any], User]] = Bounded(KEPT_USERS)

    def get(self, row: Sequence[Any]) -> User | None:
        kept = self.users.get(row[0])
        return kept[1] if kept is not None and kept[0] == row else None

    def put(self, row: Sequence[Any], user: User) -> None:
        self.users.remember(row[0], (row, user))


def _kept() -> _Kept:
    found: _Kept | None = current_app.extensions.get("attendance.identities")
    if found is None:
        found = current_app.extensions["attendance.identities"] = _Kept()
    return found


def _entity(cls: type[Any], columns: Sequence[Column[Any]], values: Sequence[Any]) -> Any:
    """A detached ``cls`` holding ``values`` as committed, loaded state (no history)."""
    entity = cls()
    for column, value in zip(columns, values, strict=True):
        set_committed_value(entity, column.key, value)
    return entity


def _detached(row: Sequence[Any]) -> User:
    """The User (with its profile) that ``row`` is, detached: what an ORM load would give."""
    user: User = _entity(User, _USER, row[:_AFTER_USER])
    teacher_values, student_values = row[_AFTER_USER:_AFTER_TEACHER], row[_AFTER_TEACHER:_WIDTH]
    teacher = _entity(Teacher, _TEACHER, teacher_values) if teacher_values[0] is not None else None
    student = _entity(Student, _STUDENT, student_values) if student_values[0] is not None else None
    set_committed_value(user, "teacher", teacher)
    set_committed_value(user, "student", student)
    for profile in (teacher, student):
        if profile is not None:
            set_committed_value(profile, "user", user)
            make_transient_to_detached(profile)
    make_transient_to_detached(user)
    return user


def kept_user(row: Sequence[Any]) -> User:
    """The process's detached User (with its profile) for a row of :data:`COLUMNS` (extra
    columns after them are ignored), made now if there is none for this very row.

    Shared by every request that meets the row: read its attributes, never change it or
    hand it to a session (:func:`attached` gives the request's own copy)."""
    values = tuple(row[:_WIDTH])
    kept = _kept()
    template = kept.get(values)
    if template is None:
        template = _detached(values)
        kept.put(values, template)
    return template


def attached(user: User) -> User:
    """The request session's User for ``user`` (a :func:`kept_user` entity, or one already
    in the session): the one already in the session, else a copy made without SQL."""
    present = in_session(user.id)
    return present if present is not None else _copy(user)


def user_from_row(row: Sequence[Any]) -> User:
    """The request session's User for a row of :data:`COLUMNS` (extra columns after them are
    ignored): the one already in the session, else a copy of the entity kept for this very
    row, made now if there is none."""
    present = in_session(row[0])  # users.id
    return present if present is not None else _copy(kept_user(row))


def copy_into(session: Session, row: Sequence[Any]) -> User:
    """:func:`user_from_row` for a caller that has just found no User of ``row``'s id in
    ``session`` (the request's): the copy of the kept entity, made there."""
    return _copy(kept_user(row), session)


def _copy(user: User, session: Session | None = None) -> User:
    # load=False copies the kept state without SQL; the kept entity itself never joins a
    # session, so requests running at once never share one.
    copy: User = (session or db.session()).merge(user, load=False)
    return copy
