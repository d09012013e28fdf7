"""``@unit_of_work``: one transaction per public service call, committed at the outermost."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, TypeVarTuple, cast, overload

from sqlalchemy import Connection, CursorResult, Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TypedReturnsRows

from attendance_app.database import restart_as_write, write_gate
from attendance_app.extensions import db
from attendance_app.services import events
from attendance_app.services.errors import Conflict

P = ParamSpec("P")
R = TypeVar("R")
Ts = TypeVarTuple("Ts")
E = TypeVar("E")

_DEPTH = "uow_depth"
#: ``Session.info`` key: the unit of work's Connection, which ``execute_core`` runs on.
_CONNECTION = "uow_connection"
#: ``Session.info`` key: {(class, id): entity} built by the unit of work (``keep``).
_KEPT = "uow_kept"
#: ``Session.info`` key: {name: dict} of the unit of work's own state (``unit_state``).
_STATE = "uow_state"
#: ``Session.info`` key: [(read, answer list)] to make just before the commit (``read_at_commit``).
_READS = "uow_reads"
CONFLICTING_DATA = "This change conflicts with existing data."

#: (markers, message): a unique violation whose database error names any marker becomes a
#: Conflict with that message. The service that owns the constraint registers it, so the
#: kernel knows no domain's words.
_UNIQUE_CONFLICTS: list[tuple[tuple[str, ...], str]] = []


def unique_conflict(*markers: str, message: str) -> None:
    """Have a unique violation naming any of ``markers`` (the constraint's name, or the
    columns as SQLite names them) answer 409 with ``message``."""
    _UNIQUE_CONFLICTS.append((tuple(m.lower() for m in markers), message))


def unit_of_work(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` in one write transaction: commit on success, roll back on any error.

    Nested calls join the outer transaction and leave commit and rollback to it, so an
    outer service may catch a nested one's DomainError and carry on. Just before commit the
    in-transaction handlers (alerts) see the recorded domain events, then the subscribers'
    reads are made (the live statistics); after commit the events are dispatched
    (broadcasts), outside the transaction.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        session = db.session()
        depth = session.info.get(_DEPTH, 0)
        engine = session.get_bind().engine if depth == 0 else None
        gate = write_gate(engine) if engine is not None else None
        if gate is not None:
            gate.acquire()
        try:
            if engine is not None:
                session.info[_CONNECTION] = _begin_write(session, engine.dialect.name)
            session.info[_DEPTH] = depth + 1
        except BaseException:
            if gate is not None:
                gate.release()
            raise
        try:
            result = fn(*args, **kwargs)
            if depth == 0:
                events.run_in_transaction_handlers(session)
                _make_reads_at_commit(session)
                events.read_before_commit(session)
                session.commit()
        except IntegrityError as exc:
            if depth == 0:
                session.rollback()
            raise _integrity_to_conflict(exc) from exc
        except BaseException:
            if depth == 0:
                session.rollback()
            raise
        finally:
            session.info[_DEPTH] = depth
            if depth == 0:
                session.info.pop(_CONNECTION, None)
                session.info.pop(_KEPT, None)
                session.info.pop(_STATE, None)
                session.info.pop(_READS, None)
            if gate is not None:
                gate.release()
        if depth == 0:
            events.dispatch_committed(session)
        return result

    return wrapper


def in_unit_of_work() -> bool:
    """True inside a unit of work (a write transaction is open)."""
    depth: int = db.session().info.get(_DEPTH, 0)
    return depth > 0


def keep(entity: Any) -> None:
    """Keep ``entity`` (built from columns, so not in the Session's identity map) until the
    unit of work ends, for its own later steps to find by id (``kept``): the alert check
    finds the session the change locked and read."""
    session = db.session()
    if session.info.get(_DEPTH, 0):
        session.info.setdefault(_KEPT, {})[type(entity), entity.id] = entity


def kept(cls: type[E], entity_id: Any) -> E | None:
    """The entity of ``cls`` with ``entity_id`` this unit of work keeps (``keep``), or None."""
    found: dict[tuple[type[Any], Any], Any] | None = db.session().info.get(_KEPT)
    return found.get((cls, entity_id)) if found else None


def unit_state(name: str) -> dict[Any, Any]:
    """A dict that lives as long as the unit of work (an empty, unkept one outside it)."""
    session = db.session()
    if not session.info.get(_DEPTH, 0):
        return {}
    state: dict[str, dict[Any, Any]] = session.info.setdefault(_STATE, {})
    return state.setdefault(name, {})


def read_at_commit(read: Callable[[], R]) -> Callable[[], R | None]:
    """Have ``read`` made in this unit of work just before it commits, after every write of
    it (the in-transaction handlers' included), under its locks: what it reads is what the
    commit makes, with no transaction of its own after the commit (a connection taken from
    the pool again, a BEGIN and a ROLLBACK). Returns how to get its answer once the unit of
    work has committed: None if it did not (or the read failed: the read never undoes the
    change, and the caller reads after the commit instead)."""
    session = db.session()
    assert session.info.get(_DEPTH, 0), "read_at_commit is for inside a unit of work"
    answer: list[R] = []
    session.info.setdefault(_READS, []).append((read, answer))
    return lambda: answer[0] if answer else None


def _make_reads_at_commit(session: Session) -> None:
    for read, answer in session.info.pop(_READS, ()):
        made, value = events.attempt_read_before_commit(read)
        if made:
            answer.append(value)


def affected_rows(statement: Executable) -> int:
    """Run an UPDATE or DELETE and say how many rows it changed: the answer of a
    compare-and-set (``WHERE`` the old state), which is how two racing writers learn
    which of them won."""
    result = cast(CursorResult[Any], db.session.execute(statement))
    return result.rowcount


@overload
def execute_core(statement: TypedReturnsRows[*Ts], params: Any = None) -> Result[*Ts]: ...
@overload
def execute_core(statement: Executable, params: Any = None) -> Result[*tuple[Any, ...]]: ...
def execute_core(statement: Executable, params: Any = None) -> Result[*tuple[Any, ...]]:
    """Run a statement of table columns (no ORM entity, no ORM attribute) in the current
    transaction, on its connection. The Session's own execute looks up the bind for every
    statement (Flask-SQLAlchemy walks the statement's tables for a bind key) and sets up an
    ORM execution, which a single write paid on each of its five or six statements. What the
    Session would have flushed first is flushed here (nothing, on the write paths).

    Inside a unit of work, on the connection it began (kept in ``Session.info``): asking the
    Session for it again walks its transaction's state machine (~30 Python calls a
    statement) for the same Connection."""
    session = db.session()
    session.flush()
    connection: Connection | None = session.info.get(_CONNECTION)
    if connection is None:
        connection = session.connection()
    return connection.execute(statement, params)


def _begin_write(session: Session, dialect: str) -> Connection:
    """Make the session's transaction one that intends to write; its connection.

    On SQLite a transaction that began as a read (the request's token lookup) cannot become
    a write safely, so it is ended and a new one begins IMMEDIATE on the same connection
    (``database.restart_as_write``); a session with no connection yet gets one first, whose
    empty transaction is ended the same way. Other databases take row locks as the writes
    come, at READ COMMITTED every statement sees what others committed, and the read
    transaction simply carries on: one COMMIT round trip fewer on every write.
    """
    if dialect != "sqlite":
        return session.connection()
    transaction = session.get_transaction()
    # A transaction with no connection yet (begun by an ``add``, say) has read nothing: what
    # it holds is flushed in the write transaction.
    if (
        transaction is not None
        and transaction._connections
        and (session.new or session.dirty or session.deleted)
    ):
        # Changes made before the unit of work were committed with the read transaction, as
        # before: the Session's commit flushes them first.
        session.commit()
    connection = session.connection()
    restart_as_write(connection)
    return connection


def _integrity_to_conflict(exc: IntegrityError) -> Exception:
    """A unique violation that slipped past a service's own check is still a 409, not a 500."""
    text = str(exc.orig).lower()
    for markers, message in _UNIQUE_CONFLICTS:
        if any(marker in text for marker in markers):
            return Conflict(message, field="non_field_errors")
    return Conflict(CONFLICTING_DATA, field="non_field_errors")
