"""PostgreSQL's cursor (``attendance_app/psycopg_cursor.py``): the app's connections use it,
and its description, made only when read, is the one psycopg makes, column for column."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from attendance_app.config import normalise_database_url
from attendance_app.extensions import db
from attendance_app.psycopg_cursor import Cursor

#: Statements whose results differ in shape: columns of several types, no column, no rows
#: (not a query), a write that returns rows, one that does not.
STATEMENTS = (
    "SELECT 1 AS one, 'a'::text AS word, now() AS at, NULL::numeric(5, 2) AS money, "
    "gen_random_uuid() AS id, true AS yes, ARRAY[1, 2] AS ints, 'x'::varchar(7) AS short",
    "SELECT",
    "SELECT 1 WHERE false",
    "CREATE TEMPORARY TABLE t (id int, name text)",
    "INSERT INTO t VALUES (1, 'one'), (2, 'two') RETURNING id, name",
    "UPDATE t SET name = 'uno' WHERE id = 1",
    "SELECT * FROM t ORDER BY id",
)


@pytest.fixture
def postgres_only(database_url: str) -> str:
    """The test's PostgreSQL database (the fixture also marks the test PostgreSQL-only)."""
    assert database_url.startswith("postgresql"), "deselected outside the PostgreSQL pass"
    return (
        make_url(normalise_database_url(database_url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def _columns(description) -> list[tuple] | None:
    if description is None:
        return None
    return [(*column, column.type_display) for column in description]


def test_the_apps_connections_use_the_cursor(app, postgres_only):
    with app.app_context(), db.engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        assert type(cursor) is Cursor
        cursor.close()


def test_its_description_is_psycopgs(postgres_only):
    with psycopg.connect(postgres_only) as ours, psycopg.connect(postgres_only) as theirs:
        ours.cursor_factory = Cursor
        mine, reference = ours.cursor(), theirs.cursor()
        assert type(reference) is psycopg.Cursor
        for statement in STATEMENTS:
            mine.execute(statement)
            reference.execute(statement)
            made, expected = mine.description, reference.description
            assert (made is None) == (expected is None), statement
            if expected is not None:
                assert len(made) == len(expected) and bool(made) == bool(expected), statement
                assert _columns(made) == _columns(expected), statement
                assert _columns(made[1:]) == _columns(expected[1:]), statement
                assert [c.name for c in made] == [c.name for c in expected], statement


def test_a_description_read_late_still_describes_its_own_result(postgres_only):
    with psycopg.connect(postgres_only) as conn:
        conn.cursor_factory = Cursor
        cursor = conn.cursor()
        cursor.execute("SELECT 1 AS first, 'x'::text AS second")
        kept = cursor.description
        cursor.execute("SELECT 2 AS other")
        assert [c.name for c in kept] == ["first", "second"]
        assert [c.name for c in cursor.description] == ["other"]
        cursor.close()
        assert [c.type_code for c in kept] == [23, 25]  # int4, text
