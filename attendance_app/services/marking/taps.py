"""A tap on the roster: create or change one student's record, safely replayable and aware
of what the device saw (the web and socket edges call this; the API marks and updates)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, select

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Channel,
    ClassSession,
    Student,
    User,
)
from attendance_app.services import events, permissions
from attendance_app.services.dialect import uuid_digits
from attendance_app.services.errors import NotFound
from attendance_app.services.marking import roster
from attendance_app.services.marking.attendance import MarkResult, mark_in_locked_session
from attendance_app.services.marking.corrections import (
    RECORD_COLUMNS,
    alert_read,
    alert_with_the_record,
    change_record,
    one_read_for_a_change,
    record_from_row,
    record_read_with_the_bump,
)
from attendance_app.services.marking.roster import Tile
from attendance_app.services.marking.rules import require_unlocked
from attendance_app.services.marking.sessions import (
    SESSION_NOT_FOUND,
    bumping_read,
    session_from_bumped_row,
)
from attendance_app.services.reporting.statistics import RecordRow
from attendance_app.services.transaction import (
    execute_core,
    in_unit_of_work,
    read_at_commit,
    unit_of_work,
)


class TapOutcome(enum.Enum):
    """What a roster tap did."""

    #: The change was made.
    APPLIED = "applied"
    #: This idempotency key was applied before; nothing was done again.
    REPLAYED = "replayed"
    #: Someone else changed the student since the device saw them; nothing was done and the
    #: row shows their change.
    STALE = "stale"


@dataclass(frozen=True)
class TapResult:
    session: ClassSession
    row: RecordRow | None
    outcome: TapOutcome
    change_id: uuid.UUID | None = None
    #: An applied tap's tile as it committed (read just before the commit, under the
    #: session's lock); None when not applied (or that read failed): read it after.
    tile: Tile | None = None

    @property
    def applied(self) -> bool:
        return self.outcome is TapOutcome.APPLIED


#: A tap's statements, built once.
_REPLAYED = (
    select(AttendanceChange.id)
    .where(
        AttendanceChange.session_id == bindparam("session_id"),
        AttendanceChange.idempotency_key == bindparam("idempotency_key"),
    )
    .limit(1)
)
_ATTENDANCE = cast(Table, Attendance.__table__)
_STUDENTS = cast(Table, Student.__table__)
#: The student's record in the session with its student's number, row-locked (as
#: ``update_attendance`` locks it), as columns (``attendance.record_from_row``).
_RECORD_OF = (
    select(*RECORD_COLUMNS)
    .join(_STUDENTS, _STUDENTS.c.id == _ATTENDANCE.c.student_id)
    .where(
        _ATTENDANCE.c.session_id == bindparam("session_id"),
        _ATTENDANCE.c.student_id == bindparam("student_id"),
    )
    .with_for_update(of=_ATTENDANCE)
)
#: A tap's read is its session's ``live_seq`` bump (``sessions.bumping_read``), returning the
#: session; on SQLite the student's record in it too (``RECORD_COLUMNS`` as scalar subqueries
#: of the updated row, NULL: not marked) and the student's alert reason in the class
#: (``corrections.alert_with_the_record``), where PostgreSQL reads the record under the lock
#: the UPDATE took (``_RECORD_OF``). The number is the tap's broadcast's: a tap that writes
#: nothing gives it back by rolling back (``_WroteNothing``).
_SESSIONS = cast(Table, ClassSession.__table__)
_THE_SESSION = _SESSIONS.c.id == bindparam("session_id")
_THE_STUDENTS_RECORD = and_(
    _ATTENDANCE.c.session_id == _SESSIONS.c.id,
    _ATTENDANCE.c.student_id == uuid_digits("student_hex"),
)
_BUMPING_READ = bumping_read(_THE_SESSION)
_BUMPING_READ_WITH_RECORD = bumping_read(
    _THE_SESSION,
    *record_read_with_the_bump(_THE_STUDENTS_RECORD),
    alert_with_the_record(uuid_digits("student_hex")),
)


def _session_and_record(
    session_id: uuid.UUID, student_id: uuid.UUID
) -> tuple[ClassSession, Callable[[], Sequence[Any] | None]]:
    """The session, locked for a change and its next ``live_seq`` taken (NotFound), and how
    to read the student's record in it as ``RECORD_COLUMNS`` (None: not marked) once the
    tap's checks before it have passed: read with the session where one statement may read
    both, else under the session's lock."""
    params = {"session_id": session_id, "student_hex": student_id.hex}
    if one_read_for_a_change():
        found = execute_core(_BUMPING_READ_WITH_RECORD, params).first()
        if found is None:
            raise NotFound(SESSION_NOT_FOUND)
        session, record = session_from_bumped_row(found)
        columns = record if record[0] is not None else None
        return session, lambda: columns
    bumped = execute_core(_BUMPING_READ, params).first()
    if bumped is None:
        raise NotFound(SESSION_NOT_FOUND)
    session = session_from_bumped_row(bumped)[0]
    return session, lambda: execute_core(
        _RECORD_OF, {"session_id": session_id, "student_id": student_id}
    ).first()


class _WroteNothing(Exception):
    """A tap that writes nothing (a replay, a stale tap) ends its unit of work with a
    rollback, not a commit: its read took the session's next ``live_seq``, which only a
    broadcast change may keep (a number taken and never broadcast is a gap every listener
    resyncs on). Nothing else is lost: such a tap has written nothing."""

    def __init__(self, session: ClassSession, outcome: TapOutcome) -> None:
        super().__init__(outcome.value)
        self.session = session
        self.outcome = outcome


def set_status(
    *,
    actor: User,
    session_id: uuid.UUID,
    student_id: uuid.UUID,
    status: AttendanceStatus,
    channel: Channel,
    at: datetime | None = None,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> TapResult:
    """A tap on the roster: create the student's record or change it, whichever applies.

    The first tap creates (all the marking rules apply); later taps update (rule 3 applies).
    ``idempotency_key`` makes a replayed tap (a retry after a lost response, a queue flushed
    after the network came back) a no-op. ``expected_version`` is the record version the
    device showed (0: not marked): if another person changed the record since, the tap is not
    applied and the result says so, so two devices converge on one state instead of
    overwriting each other blindly. All of it runs under the session's row lock, in a unit of
    work of its own (not inside another: a tap that writes nothing rolls back).
    """
    assert not in_unit_of_work(), "a tap is a unit of work of its own"
    try:
        result, tile = _apply_tap(
            actor=actor,
            session_id=session_id,
            student_id=student_id,
            status=status,
            channel=channel,
            at=at,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )
    except _WroteNothing as nothing:
        # Read after the rollback: the student's row as the tile shows it.
        return TapResult(nothing.session, _row(nothing.session, student_id), nothing.outcome)
    return TapResult(result.session, result.row, TapOutcome.APPLIED, result.change_id, tile())


@unit_of_work
def _apply_tap(
    *,
    actor: User,
    session_id: uuid.UUID,
    student_id: uuid.UUID,
    status: AttendanceStatus,
    channel: Channel,
    at: datetime | None = None,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> tuple[MarkResult, Callable[[], Tile | None]]:
    """:func:`set_status` in its unit of work (``_WroteNothing``: nothing to write): the
    applied change, and how to get the tile it read just before its commit."""
    session, record_columns = _session_and_record(session_id, student_id)
    permissions.require_session_manager(actor, session)
    if idempotency_key and db.session.scalar(
        _REPLAYED, {"session_id": session_id, "idempotency_key": idempotency_key}
    ):
        raise _WroteNothing(session, TapOutcome.REPLAYED)
    found = record_columns()
    record, student = record_from_row(found) if found is not None else (None, None)
    current_version = record.version if record else 0
    if (
        expected_version is not None
        and expected_version != current_version
        and record is not None
        and record.marked_by_id != actor.id
    ):
        raise _WroteNothing(session, TapOutcome.STALE)
    # The session is loaded, locked and its permission checked: the mark's and the update's
    # remaining checks run on it, without loading it (or the record) again.
    if record is None:
        result = mark_in_locked_session(
            session,
            actor=actor,
            student_id=student_id,
            status=status,
            channel=channel,
            at=at,
            idempotency_key=idempotency_key,
        )
    else:
        assert student is not None  # found with its record (an inner join)
        require_unlocked(session)  # update_attendance's rule 3
        result = change_record(
            record,
            student,
            session,
            actor=actor,
            status=status,
            notes=None,
            channel=channel,
            at=at,
            idempotency_key=idempotency_key,
            alert=alert_read(found) if found is not None else None,
        )
    # The answer's tile is read in the tap's transaction, after its writes and alert check:
    # what it reads is what commits, without a transaction of its own after the commit.
    return result, read_at_commit(lambda: _tile_as_committed(result.session, student_id))


def _tile_as_committed(session: ClassSession, student_id: uuid.UUID) -> Tile | None:
    """The student's tile read just before the tap's commit; its statistics noted for the
    broadcast's read before the commit, which then does not count them again."""
    tile = roster.tile(session, student_id)
    if tile is not None:
        events.note_statistics(db.session, session.id, tile.statistics)
    return tile


def _row(session: ClassSession, student_id: uuid.UUID) -> RecordRow | None:
    from attendance_app.services.reporting.statistics import session_records

    rows = session_records(session, student_ids=[student_id])
    return rows[0] if rows else None
