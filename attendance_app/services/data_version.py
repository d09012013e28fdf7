"""What the current transaction reads, as a value: equal values mean equal data, so a read
computed once may be answered again from memory for as long as the value stays the same.

The database keeps this count itself, so no writer has to remember to bump anything: every
write of every table, by any process, service, CLI command, migration or ``psql`` session,
changes it. The price is the other way round: a write that does not touch what was read
(a mark in another class) changes it too, so a cached read lives only until the next write
anywhere. It proves a cache exact; it does not make one hit often.
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy.engine import Connection

from attendance_app.database import CHANGES_AT_BEGIN
from attendance_app.extensions import db

#: PostgreSQL: the statement's snapshot — the oldest transaction still running, the next
#: transaction id to be given out and those in progress (``xmin:xmax:xip``, 64-bit ids: no
#: wraparound). A transaction id is given to every transaction that writes, at its first
#: write; two equal snapshots therefore see exactly the same committed transactions, and any
#: commit (or abort) of a writer since makes the next snapshot differ. NULL when this
#: transaction has written itself: its own changes are visible to it without changing its
#: snapshot, so there is no value to trust then.
_POSTGRESQL = (
    "SELECT CASE WHEN pg_current_xact_id_if_assigned() IS NULL"
    " THEN CAST(pg_current_snapshot() AS TEXT) END"
)
#: SQLite: ``data_version`` changes when another connection, of this process or any other,
#: has committed a change since this connection last read; it is fixed for the length of a
#: read transaction (the snapshot a WAL reader keeps), so it describes what this
#: transaction's statements see. It does not change for this connection's own writes.
_SQLITE = "PRAGMA data_version"


def data_version() -> Hashable | None:
    """The identity of the data the session's transaction reads, or None when there is none
    to trust (this transaction has written, or another database).

    PostgreSQL: the statement's snapshot (READ COMMITTED: a later statement of the same
    transaction sees this data or newer, never older). SQLite: the connection itself, its
    ``data_version`` and its ``total_changes``, the rows this connection has ever inserted,
    updated or deleted, committed or rolled back (SQLite counts a statement's own rows, not
    those its foreign keys cascade to, but a cascade always starts from a counted row): its
    own commits, which ``data_version`` does not see, change the value all the same, and a
    transaction that has written since it began (``database.CHANGES_AT_BEGIN``) gets None.
    The connection is part of the value, and held by it, so two connections' versions are
    never compared, and a closed connection's id is never reused while a value holds it.
    """
    session = db.session()
    session.flush()
    connection = session.connection()
    name = connection.dialect.name
    if name == "postgresql":
        return connection.exec_driver_sql(_POSTGRESQL).scalar()
    if name == "sqlite":
        return _sqlite_version(connection)
    return None


def cheap_data_version(connection: Connection) -> Hashable | None:
    """:func:`data_version` of what statements executed on ``connection`` itself read (the
    session's changes not yet flushed are not in it, nor in them), where the database tells
    it without a statement (SQLite); else None: on PostgreSQL it is a round trip of its own,
    which a caller that would save only one statement with it must not pay."""
    return _sqlite_version(connection) if connection.dialect.name == "sqlite" else None


def _sqlite_version(connection: Connection) -> Hashable | None:
    raw = connection.connection.dbapi_connection
    changes = raw.total_changes  # type: ignore[union-attr]
    if changes != connection.info.get(CHANGES_AT_BEGIN):
        return None  # written in this transaction (perhaps to be rolled back)
    # Asked of the DBAPI connection directly, as total_changes is: SQLAlchemy's execution
    # of this one PRAGMA (events, execution context, result) was ~90 Python calls, half of
    # what a kept session view costs beyond the request itself. So it is not among the
    # statements an engine's ``before_cursor_execute`` listener sees. Inside the
    # transaction's BEGIN it starts the read snapshot, as a SELECT would.
    (version,) = raw.execute(_SQLITE).fetchone()  # type: ignore[union-attr]
    return (raw, version, changes)
