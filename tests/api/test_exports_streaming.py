"""GET /api/attendance/export.csv of a big school (2,500 records): streamed in batches, its
query run lazily and once per batch, from a server-side cursor on PostgreSQL.

The tests here only read, so they share one school built once for the module (as the
fuzzing world is shared): building it through the service costs seconds each time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest

from attendance_app.extensions import db
from attendance_app.models import User
from attendance_app.services.reporting import exports
from attendance_app.services.reporting.records import RecordFilters
from tests.api.test_exports import EXPORT, HEADER, build_big_class
from tests.conftest import empty_database
from tests.factories import ClassInfo, Person


@pytest.fixture(scope="module")
def big_class(app) -> Iterator[tuple[Person, ClassInfo]]:
    """``build_big_class``'s school, on an emptied database, emptied again at the end."""
    empty_database(app)
    yield build_big_class(app)
    empty_database(app)


@pytest.fixture(autouse=True)
def _empty_database():
    """The big school stays for the module (``big_class`` empties the database)."""
    yield


def test_a_large_export_is_streamed_in_several_chunks(api_as, big_class):
    admin, _ = big_class

    resp = api_as(admin).get(EXPORT)
    assert resp.is_streamed
    chunks = list(resp.response)
    resp.close()

    # The header, then one chunk per batch of rows: never the whole file at once.
    assert len(chunks) >= 1 + 2500 // exports.EXPORT_BATCH_SIZE
    assert max(len(c) for c in chunks) < sum(len(c) for c in chunks) / 4
    text = b"".join(chunks).decode("utf-8")
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    assert header == HEADER
    assert len(rows) == 2500
    starts = [r[1] for r in rows]
    assert starts == sorted(starts)


def test_the_view_returns_a_streamed_response(app, big_class):
    admin, _ = big_class

    with app.test_request_context(EXPORT, headers={"Authorization": f"Bearer {admin.token}"}):
        response = app.full_dispatch_request()
        assert response.is_streamed
        assert response.mimetype == "text/csv"
        chunks = list(response.iter_encoded())
        response.close()

    assert len(chunks) > 1
    assert b"".join(chunks).count(b"\r\n") == 2501


def test_the_export_runs_its_query_lazily_and_only_once_for_every_batch(
    app, count_queries, big_class
):
    admin, _ = big_class
    with app.app_context():
        actor = db.session.get(User, admin.user_id)
        with count_queries() as before_reading:
            rows = exports.export_rows(actor=actor, filters=RecordFilters())
        with count_queries() as reading:
            read = sum(1 for _ in rows)
        db.session.remove()

    assert before_reading.count == 0
    assert read == 2500
    assert reading.count == 1


def test_the_export_query_streams_from_the_database_in_batches(app, api_as, big_class):
    """yield_per asks for a server-side cursor (PostgreSQL) / batched fetches (SQLite)."""
    from sqlalchemy import event

    admin, _ = big_class
    seen = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if "FROM attendance" in statement and "ORDER BY" in statement:
            seen.append((context.execution_options, type(cursor).__name__))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        resp = api_as(admin).get(EXPORT)
        resp.get_data()
        resp.close()
    finally:
        event.remove(engine, "before_cursor_execute", before)

    ((options, cursor_type),) = seen
    assert options["yield_per"] == exports.EXPORT_BATCH_SIZE
    assert options["stream_results"] is True
    if engine.dialect.name == "postgresql":
        assert cursor_type == "ServerCursor"
