"""Which async mode keeps PostgreSQL queries concurrent. The test holds an advisory lock; one
request's query waits for it inside PostgreSQL; a second request's query is then answered
only by a process whose database calls yield to other green threads. A process whose call
stalls cannot answer it until the lock is freed. Decided by what happens in what order, not
by timings (the bounds below are only how long to wait for something that would otherwise
never come).

This runs against the machine's PostgreSQL even when the suite runs on SQLite (advisory
locks need no tables), so it is the same test in either pass: .ci/run runs it once, in the
PostgreSQL pass.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import Connection, create_engine, text

from attendance_app.config import normalise_database_url
from tests.live.conftest import start_server

pytestmark = [pytest.mark.live, pytest.mark.database_independent]

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
#: How long to wait for what a cooperative process does at once (generous: a loaded CI host).
PATIENCE = 15.0
#: How long a process that stalls is given to answer anyway before the lock is freed.
STALLED_FOR = 3.0


def _postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return normalise_database_url(url if url.startswith("postgres") else LOCAL_POSTGRES)


@contextmanager
def _lock_held() -> Iterator[tuple[Connection, int]]:
    """An advisory lock held by this test's own connection (a key no other test uses)."""
    key = secrets.randbits(31)
    engine = create_engine(_postgres_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield conn, key
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine.dispose()


def _wait_until_a_query_waits_for(conn: Connection, key: int) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND classid = 0 AND objid = :key"
    )
    deadline = time.monotonic() + PATIENCE
    while conn.execute(waiting, {"key": key}).scalar_one() == 0:
        assert time.monotonic() < deadline, "the request's query never waited for the lock"
        time.sleep(0.02)


def _query_answered_while_another_waits(mode: str, extra_env: dict | None = None) -> bool:
    """Whether the server answered a query while another request's query was waiting in
    PostgreSQL; both requests are answered once the lock is freed, either way."""
    server = start_server(
        _postgres_url(), mode, module="tests.live.pg_lock_server", extra_env=extra_env
    )
    try:
        assert requests.get(f"{server.url}/_test/pg-query", timeout=30).text == "answered"
        with ThreadPoolExecutor(2) as pool, _lock_held() as (conn, key):
            waiting = pool.submit(
                requests.get, f"{server.url}/_test/pg-wait-for-lock/{key}", timeout=60
            )
            _wait_until_a_query_waits_for(conn, key)
            other = pool.submit(requests.get, f"{server.url}/_test/pg-query", timeout=60)
            wait([other], timeout=PATIENCE if extra_env is None else STALLED_FOR)
            answered = other.done()
            assert not waiting.done(), "the lock's query returned while the lock was held"
        assert waiting.result().text == "locked"
        assert other.result().text == "answered"
        return answered
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_postgres_queries_run_concurrently_in_the_server(mode):
    assert _query_answered_while_another_waits(mode), (
        f"{mode}: a query waiting in PostgreSQL stalled every other request"
    )


def test_without_the_eventlet_wait_function_psycopg_stalls_the_process():
    """Why the server sets PSYCOPG_WAIT_FUNC under eventlet: psycopg's C wait does not
    yield to eventlet's hub (psycopg detects only gevent's patching), so nothing else runs
    while a query waits."""
    assert not _query_answered_while_another_waits("eventlet", {"PSYCOPG_WAIT_FUNC": "wait_c"})
