"""Engine set-up per database: SQLite pragmas and write transactions that begin IMMEDIATE."""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import PoolProxiedConnection

from attendance_app import checkpoints, compiled_cache

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
    """Install the engine's cache of compiled statements (``compiled_cache``), and the
    per-connection settings the embedded SQLite default needs; a SQLite file's checkpoints
    are made in the background (``checkpoints``)."""
    compiled_cache.install(engine)
    if engine.dialect.name != "sqlite":
        return
    path = checkpoints.file_path(engine.url.database)
    checkpointer = checkpoints.for_database(path) if path else None

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
            # Temporary files in memory, above all statement journals: a statement that may
            # fail half done inside a transaction (any INSERT under a foreign key or unique
            # constraint) keeps a copy of every page it changes, to undo just itself. Past
            # 64 KiB SQLite wrote that copy to a temporary file: ~530 KB in ~240 writes
            # per bulk mark of 500, on the request's thread.
            "PRAGMA temp_store=MEMORY",
        ):
            cursor.execute(pragma)
        if checkpointer is not None:
            # Checkpoints are the background's; a commit makes one only past this bound.
            cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoints.FALLBACK_PAGES}")
        cursor.close()

    # BEGIN as the dialect's own step, not a "begin" event: any connection event makes
    # SQLAlchemy dispatch its before/after-execute and cursor events around every statement
    # (~7 µs each, whether anything listens or not), and the event was the only one.
    engine.dialect.do_begin = _begin_deferred  # type: ignore[method-assign]
    if checkpointer is not None:
        checkpointer.gate = lambda: write_gate(engine)
        wrote = checkpointer.wrote

        def _commit(dbapi_connection: PoolProxiedConnection) -> None:
            """Commit; if the transaction wrote (its connection's ``total_changes`` moved
            since BEGIN), ask for a background checkpoint."""
            dbapi_connection.commit()
            changes = dbapi_connection.dbapi_connection.total_changes  # type: ignore[union-attr]
            if changes != dbapi_connection.info.get(CHANGES_AT_BEGIN):
                wrote()

        engine.dialect.do_commit = _commit  # type: ignore[method-assign]


def _begin_deferred(dbapi_connection: PoolProxiedConnection) -> None:
    """Begin a SQLite transaction (DEFERRED: a read until it first writes), noting the
    connection's ``total_changes``. A unit of work that writes ends it and begins IMMEDIATE
    instead (``restart_as_write``): a WAL transaction that starts as a read cannot upgrade
    to a write while another writer is active, and fails with SQLITE_BUSY despite
    busy_timeout. SQLAlchemy wraps a failure here as it wraps a statement's."""
    dbapi_connection.cursor().execute("BEGIN")
    dbapi_connection.info[CHANGES_AT_BEGIN] = dbapi_connection.dbapi_connection.total_changes  # type: ignore[union-attr]


def restart_as_write(connection: Connection) -> None:
    """End the SQLite read transaction open on ``connection`` (the request's token lookup or
    user load: nothing written, or only what such a read wrote, committed as before; or the
    empty one its checkout began) and begin a write transaction IMMEDIATE in its place, on the
    same connection.

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
