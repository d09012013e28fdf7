"""The database-specific SQL the services need, chosen once from the engine's dialect."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from attendance_app.extensions import db


def insert(table):
    """An INSERT that supports ``on_conflict_do_nothing`` and ``returning`` on this database.

    SQLAlchemy has no backend-neutral upsert; SQLite (>= 3.35) and PostgreSQL both speak
    ``INSERT … ON CONFLICT DO NOTHING … RETURNING``, which lets the database arbitrate
    concurrent inserts instead of a racy select-then-insert.
    """
    if db.engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
