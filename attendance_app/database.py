"""Engine set-up per database: SQLite pragmas and write transactions that begin IMMEDIATE."""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

#: Execution option a unit of work sets on its connection when it is going to write.
WRITE_INTENT = "attendance_write"
#: ``Connection.info`` key: the SQLite connection's ``total_changes`` when its transaction began.
CHANGES_AT_BEGIN = "attendance_changes_at_begin"


_GATES: dict[int, threading.Lock] = {}
_GATES_LOCK = threading.Lock()


def write_gate(engine: Engine) -> threading.Lock | None:
    """The in-process lock a SQLite write transaction holds from BEGIN IMMEDIATE to its end
    (None for other databases, whose writers wait for each other cooperatively).

    SQLite waits for another writer inside its C library (``busy_timeout``): under eventlet
    or gevent that wait holds the only OS thread, so if the writer it waits for is a green
    thread of the same process that yielded mid-transaction, neither can run until the
    timeout ends with "database is locked", and every tap and socket of the process stalls
    meanwhile. Writers of one process therefore queue on this lock — green after the
    server's monkey-patching, so waiting for it lets the others run — and only writers of
    other processes are left to ``busy_timeout``. Created on first use, i.e. after
    monkey-patching."""
    if engine.dialect.name != "sqlite":
        return None
    gate = _GATES.get(id(engine))
    if gate is None:
        with _GATES_LOCK:
            gate = _GATES.setdefault(id(engine), threading.Lock())
    return gate


def configure_engine(engine: Engine) -> None:
    """Install the per-connection settings the embedded SQLite default needs."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_on_connect(dbapi_connection, _record) -> None:
        # Take BEGIN over from the sqlite3 module so we can choose DEFERRED or IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA busy_timeout=10000",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_on_begin(connection) -> None:
        # A WAL transaction that starts as a read cannot upgrade to a write while another
        # writer is active and fails with SQLITE_BUSY despite busy_timeout; a transaction
        # that means to write therefore takes the write lock up front.
        if connection.get_execution_options().get(WRITE_INTENT):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")
        _note_changes_at_begin(connection)


def restart_as_write(connection: Connection) -> None:
    """End the SQLite read transaction open on ``connection`` (the request's token lookup or
    user load: nothing written, or only what such a read wrote, committed as before) and begin
    a write transaction IMMEDIATE in its place, on the same connection.

    The DBAPI connection's own COMMIT, not the ORM Session's: the Session's commit (its
    flush, its transaction's close, the connection back to the pool and out again) was ~190
    Python calls of every single write, for a transaction that had nothing of the ORM's to
    commit. The Session and its Connection carry on in what is now the write transaction;
    their commit or rollback ends it."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    dbapi_connection.commit()
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    _note_changes_at_begin(connection)


def _note_changes_at_begin(connection: Connection) -> None:
    # What services.data_version compares with: a transaction that has written since (its
    # total_changes moved) has no version to trust.
    connection.info[CHANGES_AT_BEGIN] = connection.connection.dbapi_connection.total_changes  # type: ignore[union-attr]
