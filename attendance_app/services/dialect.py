"""The database-specific SQL the services need, chosen once from the engine's dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, cast, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from attendance_app.extensions import db


def insert(table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ``on_conflict_do_nothing`` and ``returning`` on this database.

    SQLAlchemy has no backend-neutral upsert; SQLite (>= 3.35) and PostgreSQL both speak
    ``INSERT … ON CONFLICT DO NOTHING … RETURNING``, which lets the database arbitrate
    concurrent inserts instead of a racy select-then-insert.
    """
    if db.engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def utc_date(column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, as an SQL expression (for GROUP BY).

    PostgreSQL stores ``timestamptz`` (its ``date()`` would use the connection's time zone);
    SQLite stores naive UTC text, whose ``date()`` is already the UTC day.
    """
    if db.engine.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)
