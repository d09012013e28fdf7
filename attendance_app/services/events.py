"""Domain events: recorded inside a transaction, dispatched only after it commits.

A service calls :func:`record`; the event waits in ``session.info`` until the unit of work
commits, and is dropped if it rolls back, so a failed change never reaches a subscriber.
Subscribers run after the commit has returned its connection, so they may read the database.

Handlers registered with :func:`handle_in_transaction` run *before* the commit, inside the
transaction that caused the events, so what they write (alerts) commits or rolls back with
the change itself.

A subscriber may also name a read to make just before the commit, after those handlers
(:func:`subscribe`'s ``read_before_commit``): it reads exactly the state being committed, on
the transaction's own connection, and its answer is handed to the subscriber with the
events — the live statistics, which were a new transaction's read after the commit, a
share of the time a mark takes to reach its listeners.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import event as sa_event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session

log = logging.getLogger(__name__)

_PENDING = "pending_events"
_COMMITTED = "committed_events"
_READ = "reads_before_commit"
_COMMITTED_READ = "committed_reads"
_ALERTS = "alert_reasons"
_STATISTICS = "statistics_noted"


class FirstMark(NamedTuple):
    """A first mark as its writer made it (a bulk mark's record, as its callers use it:
    columns, not an entity — building 500 ORM objects cost more than the inserts)."""

    id: uuid.UUID
    student_id: uuid.UUID
    student_number: str | None  # None: not known to the writer (read with the records' flags)
    status: Any  # models.AttendanceStatus
    notes: str


@dataclass(frozen=True)
class FirstMarks:
    """Every record of an :class:`AttendanceChanged` when one action wrote them all as first
    marks and its writer holds every column (a bulk mark: the ids are made in Python, the
    rest sent): marked, created and updated ``marked_at`` by ``marked_by_id``, version 1, no
    absence reason, late from ``marked_at`` if LATE. A subscriber reads nothing back to know
    them (the live broadcast's records of a bulk mark were a re-read of 500 rows)."""

    records: tuple[FirstMark, ...]  # in the event's ``record_ids`` order
    marked_at: datetime
    marked_by_id: uuid.UUID
    marked_by_name: str | None  # models.full_name of the marker, None if they have none
    class_id: uuid.UUID  # the session's
    session_start: datetime | None  # the session's ``start_time``


@dataclass(frozen=True)
class KnownChange:
    """The one record of an :class:`AttendanceChanged` that changed a marked record (a PATCH,
    a tap on a marked student), as its writer holds it once written: every column the
    broadcast sends is one the writer read or wrote back (``RETURNING``), the marker is the
    actor. Only the student's alert flag may be unknown to it (``alert``)."""

    #: ``reporting.changed_records.ChangedRecord`` as written; its ``alert`` is not used.
    record: Any
    class_id: uuid.UUID  # the session's
    #: The student's alert reason in the class ("" when under the line) as read inside this
    #: transaction where that read is the committed state (SQLite: its one writer), for a
    #: change that runs no alert check (``alert_neutral``); None when not read.
    alert: str | None = None


@dataclass(frozen=True)
class AttendanceChanged:
    """Records of one session were created or changed (one event per operation)."""

    session_id: uuid.UUID
    record_ids: tuple[uuid.UUID, ...]
    actor_id: uuid.UUID | None = None
    seq: int = 0
    # Students whose record was removed (an undone first mark): they are "not marked" again.
    removed_student_ids: tuple[uuid.UUID, ...] = ()
    # The students of ``record_ids``, in the same order, when the writer knows them: the
    # alert check then needs no query to find them. Empty when not given.
    student_ids: tuple[uuid.UUID, ...] = ()
    # Students whose record was excused by this change: an alert their run of absences
    # raised is withdrawn if the excuse takes them back under the line.
    excused_student_ids: tuple[uuid.UUID, ...] = ()
    # Students whose record in an ENDED session this change touched (an excuse given or
    # withdrawn, a deletion): their guardians' absence emails not sent yet are rewritten or
    # withdrawn (notifying/guardian_digest.py). Empty for a change in any other session.
    ended_session_student_ids: tuple[uuid.UUID, ...] = ()
    # The change provably moves nobody across the alert line (``alerts.cannot_cross``: e.g.
    # LATE → PRESENT, or notes only): the alert check is skipped.
    alert_neutral: bool = False
    # The records themselves, when the writer made them all and holds every column.
    first_marks: FirstMarks | None = None
    # The record itself, when the writer changed a single marked record.
    known_change: KnownChange | None = None


@dataclass(frozen=True)
class SessionStatusChanged:
    session_id: uuid.UUID
    status: str
    is_locked: bool
    actor_id: uuid.UUID | None = None
    seq: int = 0


@dataclass(frozen=True)
class UserSignedOut:
    """Every login of this user ended (logout, deactivation): their live connections go."""

    user_id: uuid.UUID


@dataclass(frozen=True)
class TokensRevoked:
    """These API tokens were revoked: live connections opened with them end."""

    user_id: uuid.UUID
    token_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class ClassTeacherChanged:
    """A class has a new teacher: the old one leaves its sessions' rooms at once."""

    class_id: uuid.UUID
    old_teacher_user_id: uuid.UUID


@dataclass(frozen=True)
class NotificationsChanged:
    """These users' notifications were added, withdrawn or read: their bells need a count."""

    user_ids: tuple[uuid.UUID, ...]


DomainEvent = (
    AttendanceChanged
    | SessionStatusChanged
    | UserSignedOut
    | NotificationsChanged
    | TokensRevoked
    | ClassTeacherChanged
)
Subscriber = Callable[[list[DomainEvent]], None]
#: A read made just before the commit: the pending events → what their subscriber needs.
Reader = Callable[[list[DomainEvent]], Any]
#: A subscriber with a read before the commit: the events and that read's answer (None when
#: the commit was not a unit of work's, which makes no read).
ReadingSubscriber = Callable[[list[DomainEvent], Any], None]

_subscribers: list[Subscriber] = []
_readers: dict[ReadingSubscriber, Reader] = {}
_in_transaction: list[Subscriber] = []


def handle_in_transaction(fn: Subscriber) -> Subscriber:
    """Register ``fn`` to see each unit of work's events just before it commits."""
    if fn not in _in_transaction:
        _in_transaction.append(fn)
    return fn


def run_in_transaction_handlers(session: Session) -> None:
    """Hand the pending events to the in-transaction handlers (unit_of_work calls this just
    before committing). Events a handler records are handed on in turn, each exactly once."""
    pending = session.info.get(_PENDING, [])
    done = 0
    while done < len(pending):
        batch, done = pending[done:], len(pending)
        for fn in list(_in_transaction):
            fn(batch)


def subscribe(fn: Subscriber) -> Subscriber:
    """Register ``fn`` to receive the events of every committed unit of work."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def subscribe_with_read(fn: ReadingSubscriber, read_before_commit: Reader) -> None:
    """Register ``fn`` to receive the events of every committed unit of work together with
    what ``read_before_commit`` answered inside that transaction, after the in-transaction
    handlers and just before the commit (so nothing is written after it): ``fn(events,
    answer)``. The read must only read; a rollback drops its answer with the events."""
    _readers[fn] = read_before_commit
    subscribe(cast(Subscriber, fn))


def unsubscribe(fn: Subscriber) -> None:
    if fn in _subscribers:
        _subscribers.remove(fn)
    _readers.pop(cast(ReadingSubscriber, fn), None)


def read_before_commit(session: Session) -> None:
    """Make the subscribers' reads (unit_of_work calls this after
    :func:`run_in_transaction_handlers`, just before committing)."""
    pending = session.info.get(_PENDING)
    if not pending or not _readers:
        return
    reads: dict[ReadingSubscriber, Any] = {}
    for fn, read in list(_readers.items()):
        made, answer = attempt_read_before_commit(read, pending)
        if made:
            reads[fn] = answer
    session.info[_READ] = reads


def attempt_read_before_commit(read: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """Make a read inside a transaction just before its commit: ``(True, answer)``, or
    ``(False, None)`` when the read failed on its own (logged). Such a read never undoes the
    change: its reader reads after the commit instead. A database error is raised: the
    transaction itself failed, and cannot commit."""
    try:
        return True, read(*args)
    except DBAPIError:
        raise
    except Exception:
        log.exception("read before commit %r failed", read)
        return False, None


def note_alert_reasons(
    session: Session | scoped_session[Any], class_id: uuid.UUID, reasons: dict[str, str]
) -> None:
    """Note what the alert check decided in this transaction: {student id as ``UUID.hex``:
    why they are over the line in the class, "" if they are not}, as its ``AlertState`` rows
    now say. A broadcast of a record the writer holds needs no read to flag it
    (``alert_reasons_noted``). Dropped at the commit or rollback, like the events."""
    noted = session.info.setdefault(_ALERTS, {})
    known = noted.get(class_id)
    if known is None:
        noted[class_id] = dict(reasons)
    else:
        known.update(reasons)


def note_statistics(
    session: Session | scoped_session[Any], session_id: uuid.UUID, statistics: Any
) -> None:
    """Note a session's statistics as this transaction will commit them: read after its
    every write (``transaction.read_at_commit``), so a broadcast's read before the commit
    (``statistics_noted``) need not make them again. Dropped at the commit or rollback."""
    session.info.setdefault(_STATISTICS, {})[session_id] = statistics


def statistics_noted(session: Session | scoped_session[Any]) -> dict[uuid.UUID, Any]:
    """{session id: statistics} noted in the current transaction (``note_statistics``)."""
    return cast(dict[uuid.UUID, Any], session.info.get(_STATISTICS, {}))


def alert_reasons_noted(session: Session | scoped_session[Any]) -> dict[uuid.UUID, dict[str, str]]:
    """{class id: :func:`note_alert_reasons`' reasons} noted in the current transaction so far."""
    return cast(dict[uuid.UUID, dict[str, str]], session.info.get(_ALERTS, {}))


def record(session: Session | scoped_session[Any], evt: DomainEvent) -> None:
    """Queue ``evt`` for dispatch once the surrounding transaction commits."""
    session.info.setdefault(_PENDING, []).append(evt)


def _after_commit(session: Session) -> None:
    session.info.pop(_ALERTS, None)
    session.info.pop(_STATISTICS, None)
    pending = session.info.pop(_PENDING, [])
    if pending:
        session.info.setdefault(_COMMITTED, []).extend(pending)
    reads = session.info.pop(_READ, None)
    if reads:
        session.info[_COMMITTED_READ] = reads


def _after_rollback(session: Session, _previous_transaction: object) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_READ, None)
    session.info.pop(_ALERTS, None)
    session.info.pop(_STATISTICS, None)


def install(session_factory: object) -> None:
    """Move pending events to 'committed' on commit, drop them on rollback (idempotent)."""
    for name, fn in (("after_commit", _after_commit), ("after_soft_rollback", _after_rollback)):
        if not sa_event.contains(session_factory, name, fn):
            sa_event.listen(session_factory, name, fn)


def dispatch_committed(session: Session) -> None:
    """Hand committed events to subscribers; a failing subscriber never undoes a commit."""
    events = session.info.pop(_COMMITTED, [])
    reads = session.info.pop(_COMMITTED_READ, {})
    if not events:
        return
    for fn in list(_subscribers):
        try:
            reading = cast(ReadingSubscriber, fn)
            if reading in _readers:
                reading(events, reads.get(reading))
            else:
                fn(events)
        except Exception:
            log.exception("event subscriber %r failed", fn)
