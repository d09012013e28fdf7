"""Domain events: recorded inside a transaction, dispatched only after it commits.

A service calls :func:`record`; the event waits in ``session.info`` until the unit of work
commits, and is dropped if it rolls back, so a failed change never reaches a subscriber.
Subscribers run after the commit has returned its connection, so they may read the database.

Handlers registered with :func:`handle_in_transaction` run *before* the commit, inside the
transaction that caused the events, so what they write (alerts) commits or rolls back with
the change itself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, scoped_session

log = logging.getLogger(__name__)

_PENDING = "pending_events"
_COMMITTED = "committed_events"


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

_subscribers: list[Subscriber] = []
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


def unsubscribe(fn: Subscriber) -> None:
    if fn in _subscribers:
        _subscribers.remove(fn)


def record(session: Session | scoped_session[Any], evt: DomainEvent) -> None:
    """Queue ``evt`` for dispatch once the surrounding transaction commits."""
    session.info.setdefault(_PENDING, []).append(evt)


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    if pending:
        session.info.setdefault(_COMMITTED, []).extend(pending)


def _after_rollback(session: Session, _previous_transaction: object) -> None:
    session.info.pop(_PENDING, None)


def install(session_factory: object) -> None:
    """Move pending events to 'committed' on commit, drop them on rollback (idempotent)."""
    for name, fn in (("after_commit", _after_commit), ("after_soft_rollback", _after_rollback)):
        if not sa_event.contains(session_factory, name, fn):
            sa_event.listen(session_factory, name, fn)


def dispatch_committed(session: Session) -> None:
    """Hand committed events to subscribers; a failing subscriber never undoes a commit."""
    events = session.info.pop(_COMMITTED, [])
    if not events:
        return
    for fn in list(_subscribers):
        try:
            fn(events)
        except Exception:
            log.exception("event subscriber %r failed", fn)
