"""Which async mode keeps PostgreSQL queries concurrent: two requests that each run
``SELECT pg_sleep(0.5)`` at once take ~0.5 s in a cooperative process, ~1 s in one that stalls.

This runs against the machine's PostgreSQL even when the suite runs on SQLite (pg_sleep
needs no tables), so it is the same test in either pass: .ci/run runs it once, in the
PostgreSQL pass. The measured totals are printed.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from attendance_app.config import normalise_database_url
from tests.live.conftest import start_server

pytestmark = [pytest.mark.live, pytest.mark.database_independent]

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
COOPERATIVE = 0.8  # seconds; two 0.5 s sleeps that overlap finish well under this


def _postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return normalise_database_url(url if url.startswith("postgres") else LOCAL_POSTGRES)


def _two_concurrent_sleeps(mode: str, extra_env: dict | None = None) -> float:
    server = start_server(
        _postgres_url(), mode, module="tests.live.pg_sleep_server", extra_env=extra_env
    )
    try:
        url = f"{server.url}/_test/pg-sleep"
        assert requests.get(url, timeout=10).text == "slept"  # warm the pool
        with ThreadPoolExecutor(2) as pool:
            started = time.monotonic()
            results = list(pool.map(lambda _: requests.get(url, timeout=10), range(2)))
            total = time.monotonic() - started
        assert [r.status_code for r in results] == [200, 200]
        return total
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_postgres_queries_run_concurrently_in_the_server(mode):
    total = _two_concurrent_sleeps(mode)
    print(f"\n{mode}: two concurrent pg_sleep(0.5) requests took {total:.2f} s")
    assert total < COOPERATIVE, f"{mode} serialised the queries: {total:.2f} s"


def test_without_the_eventlet_wait_function_psycopg_stalls_the_process():
    """Why the server sets PSYCOPG_WAIT_FUNC under eventlet: psycopg's C wait does not
    yield to eventlet's hub (psycopg detects only gevent's patching), so the two sleeps
    run one after the other."""
    total = _two_concurrent_sleeps("eventlet", {"PSYCOPG_WAIT_FUNC": "wait_c"})
    print(f"\neventlet with psycopg's C wait: {total:.2f} s")
    assert total > 0.95, f"expected the process to stall, took {total:.2f} s"
