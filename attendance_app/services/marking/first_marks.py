"""First marks made by the database: the INSERT … SELECTs behind a bulk mark and "mark all
unmarked" (``marking.bulk``), with one audit row per record made from the records themselves.

500 rows of parameters, each through SQLAlchemy's type processing, cost more than the inserts:
here a bulk mark's entries travel as one JSON value (``dialect.json_rows``), the ids are the
database's or made in one go (time-ordered: ``services.ids``), and the audit rows are
selected from the records just created (PostgreSQL: in the same statement, a data-modifying
CTE).
"""

from __future__ import annotations

import functools
import typing
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Select,
    bindparam,
    cast,
    func,
    literal,
    select,
    true,
)

from attendance_app.extensions import db
from attendance_app.models import Attendance, AttendanceChange, Channel, ClassSession, User
from attendance_app.services.dialect import in_uuids, insert, json_rows, new_uuid, uuid_list
from attendance_app.services.ids import time_ordered_uuids
from attendance_app.services.marking.attendance import MarkEntry, first_late_at
from attendance_app.services.marking.records import FIRST_MARK_COLUMNS


class Audit(NamedTuple):
    """Who, how and when first marks are made: what their audit rows say beside the records'
    own columns (one ``group_id`` per action, undone together)."""

    actor: User
    channel: Channel
    now: datetime
    group_id: uuid.UUID


def insert_entries(
    session: ClassSession, entries: Sequence[MarkEntry], audit: Audit, student_hexes: list[str]
) -> tuple[list[uuid.UUID], frozenset[uuid.UUID]]:
    """First marks for many entries, with their audit rows: one INSERT … SELECT … ON
    CONFLICT DO NOTHING over the entries sent as one JSON value, with ids made here
    (time-ordered, as the database's: ``services.ids``), and the audit rows selected from
    the same value. (The new records' ids in entry order, the
    students who already had a record.) When any student already had one, nothing was
    audited and the caller must fail (roll back): the database decides, so two concurrent
    marks can never both succeed.

    Nothing comes back from a successful insert but its row count: the ids are known, and
    reading 500 of them back (two UUIDs a row through the driver and SQLAlchemy) cost more
    in Python than the database spent writing them.

    ``student_hexes``: the entries' students as ``UUID.hex`` gives them (the caller has
    them). The statuses are written by orjson, which writes an enum as its value."""
    record_ids, record_hexes = time_ordered_uuids(len(entries))
    payload = orjson.dumps(
        [
            [student, e.status, e.notes or "", record]
            for student, e, record in zip(student_hexes, entries, record_hexes, strict=True)
        ]
    ).decode()
    params = {
        "entries": payload,
        "session_id": session.id,
        "now": audit.now,
        "marked_by_id": audit.actor.id,
        **_audit_params(audit),
    }
    records, audit_rows = _entries_statements(db.engine.dialect.name)
    if audit_rows is None:
        count = db.session.execute(records, params).scalar_one()
    else:
        inserted = typing.cast(CursorResult[Any], db.session.execute(records, params))
        count = inserted.rowcount
        if count == len(entries):  # every entry made its record: audit them all
            db.session.execute(audit_rows, params)
    if count == len(entries):
        return record_ids, frozenset()
    # The failing path only: which students already had a record (theirs is not ours).
    attendance = Attendance.__table__
    made = set(
        db.session.scalars(
            select(attendance.c.student_id).where(
                in_uuids(attendance.c.id, uuid_list("record_ids"))
            ),
            {"record_ids": record_ids},
        )
    )
    return record_ids, frozenset(e.student_id for e in entries if e.student_id not in made)


@functools.cache
def _entries_statements(dialect: str) -> tuple[Executable, Executable | None]:
    """``insert_entries``' statements, built once per database (every value a bound
    parameter: the entries, ``session_id``, ``now``, ``marked_by_id`` and the audit's).

    PostgreSQL: the records' INSERT … SELECT with their audit rows from the rows it
    inserted, in one statement (a data-modifying CTE) that answers how many it made; None
    beside it. SQLite has no such CTE: the records' INSERT (its row count says how many it
    made), and the audit rows' INSERT … SELECT over the same entries, for when all were."""
    attendance = Attendance.__table__
    rows, (student_id, status, notes, record_id) = json_rows("entries", 4)
    if dialect == "postgresql":
        student_id = cast(student_id, attendance.c.student_id.type)
        record_id = cast(record_id, attendance.c.id.type)
    session_id = bindparam("session_id", type_=attendance.c.session_id.type)
    now = bindparam("now", type_=attendance.c.marked_at.type)
    entered = new_records(
        session_id,
        bindparam("marked_by_id", type_=attendance.c.marked_by_id.type),
        now,
        student_id=student_id,
        status=status,
        notes=notes,
        late_at=first_late_at(status, now),
        record_id=record_id,
    ).select_from(rows)
    inserting = (
        insert(attendance)
        # SQLite needs a WHERE between the SELECT and ON CONFLICT.
        .from_select(FIRST_MARK_COLUMNS, entered.where(true()))
        .on_conflict_do_nothing(index_elements=["session_id", "student_id"])
    )
    changes = AttendanceChange.__table__
    if dialect == "postgresql":
        new = inserting.returning(
            attendance.c.id,
            attendance.c.session_id,
            attendance.c.student_id,
            attendance.c.status,
            attendance.c.notes,
        ).cte("created")
        audited = insert(changes).from_select(_CHANGE_COLUMNS, _audit_rows(new))
        return select(func.count()).select_from(new).add_cte(audited.cte("audited")), None
    audit_rows = select(
        new_uuid(), record_id, session_id, student_id, *_audit_values(), status, notes
    ).select_from(rows)
    return inserting, insert(changes).from_select(_CHANGE_COLUMNS, audit_rows)


def new_records(
    session_id: Any,
    actor_id: Any,
    now: Any,
    *,
    student_id: ColumnElement[Any],
    status: ColumnElement[Any],
    notes: ColumnElement[Any],
    late_at: ColumnElement[Any],
    record_id: ColumnElement[Any] | None = None,
) -> Select[Any]:
    """The columns of first marks in ``FIRST_MARK_COLUMNS`` order, for an INSERT … SELECT:
    what every first mark writes (an id by the database unless ``record_id`` gives it,
    marked and created ``now`` by ``actor_id`` in ``session_id``, version 1) beside the
    given student, status, notes and late time. The session, actor and time are values or
    bound parameters (a statement built once)."""
    attendance = Attendance.__table__

    def value(given: Any, column: str) -> ColumnElement[Any]:
        if isinstance(given, ColumnElement):
            return given
        return literal(given, attendance.c[column].type)

    return select(
        new_uuid() if record_id is None else record_id,
        value(session_id, "session_id"),
        student_id,
        status,
        notes,
        value(now, "marked_at"),
        late_at,
        value(actor_id, "marked_by_id"),
        value(now, "created_at"),
        value(now, "updated_at"),
        literal(1, attendance.c.version.type),
    )


def insert_new(
    session: ClassSession, rows: Select[Any], audit: Audit, params: dict[str, Any] | None = None
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Insert first marks from ``rows`` and their audit rows; (student id, new record id)
    of each record made. A student missing from the answer already had a record: the
    database decides (ON CONFLICT DO NOTHING), so two concurrent marks can never both succeed.
    The answer is fetched at once (one ``fetchall``; row by row, 500 rows were ~3,000 Python
    calls of the drivers'), as pairs (a dict by student hashed 500 UUIDs in Python).

    On PostgreSQL the audit rows come from the inserted rows in the same statement (a
    data-modifying CTE): one round trip, and no list of the new ids sent back to find them.
    SQLite has no such CTE: the audit rows are a second INSERT … SELECT (``audit_created``)."""
    attendance = Attendance.__table__
    inserting = (
        insert(attendance)
        .from_select(FIRST_MARK_COLUMNS, rows)
        .on_conflict_do_nothing(index_elements=["session_id", "student_id"])
    )
    if db.engine.dialect.name != "postgresql":
        created = db.session.execute(
            inserting.returning(attendance.c.student_id, attendance.c.id), params
        ).all()
        if created:
            audit_created(session, [rid for _, rid in created], *audit)
        return [tuple(row) for row in created]
    new = inserting.returning(
        attendance.c.student_id,
        attendance.c.id,
        attendance.c.session_id,
        attendance.c.status,
        attendance.c.notes,
    ).cte("created")
    audited = insert(AttendanceChange.__table__).from_select(_CHANGE_COLUMNS, _audit_rows(new))
    inserted = db.session.execute(
        select(new.c.student_id, new.c.id).add_cte(audited.cte("audited")),
        {**(params or {}), **_audit_params(audit)},
    ).all()
    return [tuple(row) for row in inserted]


def audit_created(
    session: ClassSession,
    record_ids: Sequence[uuid.UUID],
    actor: User,
    channel: Channel,
    now: datetime,
    group_id: uuid.UUID,
) -> None:
    """The audit rows of records just created in ``session`` (one each: no old values, the
    new status and notes), made from the records in the database by one INSERT … SELECT
    instead of sent row by row."""
    db.session.execute(
        _audit_created_statement(db.engine.dialect.name),
        {
            **_audit_params(Audit(actor, channel, now, group_id)),
            "session_id": session.id,
            "record_ids": record_ids,
        },
    )


@functools.cache
def _audit_created_statement(dialect: str) -> Executable:
    """``audit_created``'s statement, one per database, built once (its values are bound
    parameters, the record ids one ``UuidList``)."""
    attendance = Attendance.__table__
    return insert(AttendanceChange.__table__).from_select(
        _CHANGE_COLUMNS,
        _audit_rows(attendance).where(
            attendance.c.session_id == bindparam("session_id", type_=attendance.c.session_id.type),
            in_uuids(attendance.c.id, uuid_list("record_ids")),
        ),
    )


def _audit_rows(records: Any) -> Select[Any]:
    """The audit rows (``_CHANGE_COLUMNS``) of first marks read from ``records`` (the table
    or the records an INSERT just returned): no old values, the new status and notes, and
    who, when, how and which action as the bound parameters of :func:`_audit_params`."""
    return select(
        new_uuid(),
        records.c.id,
        records.c.session_id,
        records.c.student_id,
        *_audit_values(),
        records.c.status,
        records.c.notes,
    )


def _audit_values() -> list[ColumnElement[Any]]:
    """Who, when, how and which action, as the bound parameters of :func:`_audit_params`."""
    changes = AttendanceChange.__table__
    return [
        bindparam("actor_id", type_=changes.c.actor_id.type),
        bindparam("changed_at", type_=changes.c.changed_at.type),
        bindparam("channel", type_=changes.c.channel.type),
        bindparam("group_id", type_=changes.c.group_id.type),
    ]


def _audit_params(audit: Audit) -> dict[str, Any]:
    return {
        "actor_id": audit.actor.id,
        "changed_at": audit.now,
        "channel": audit.channel,
        "group_id": audit.group_id,
    }


_CHANGE_COLUMNS = [
    "id",
    "attendance_id",
    "session_id",
    "student_id",
    "actor_id",
    "changed_at",
    "channel",
    "group_id",
    "new_status",
    "new_notes",
]
