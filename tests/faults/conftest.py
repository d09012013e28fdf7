"""Faults: real server processes against a Redis and a PostgreSQL of the test's own, which it
stops and starts again (the machine's services on 6379 and 5432 are never touched).

Every test here uses ``postgres_only``: it runs in the PostgreSQL pass of ``make test`` and is
deselected (not skipped) in the SQLite pass (tests/conftest.py).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from attendance_app.config import normalise_database_url
from tests.live.conftest import listeners  # noqa: F401  (real Socket.IO clients, shared)

pytestmark = pytest.mark.live


@pytest.fixture
def postgres_only(database_url: str) -> str:
    """The test's PostgreSQL database (the fixture also marks the test PostgreSQL-only)."""
    assert database_url.startswith("postgresql"), "deselected outside the PostgreSQL pass"
    return database_url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, *, what: str, timeout: float = 20, every: float = 0.05):
    """Poll ``check`` until it returns something truthy; fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {timeout} s")


class RedisServer:
    """A throwaway ``redis-server`` on a free port (no persistence), stoppable and restartable
    on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, what="redis-server answering")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    assert initdb, "PostgreSQL's server binaries (initdb, pg_ctl) are needed"
    return Path(initdb).parent


class PostgresCluster:
    """A throwaway PostgreSQL cluster (``initdb`` into a temporary folder, trust auth) on a free
    port, stopped and started with ``pg_ctl``. As root it runs as the ``postgres`` user."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="attendance-faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._as, *args], check=True, cwd=self.dir, stdout=subprocess.DEVNULL, timeout=120
        )

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def _ctl(self, action: str, *extra: str) -> None:
        self._run(str(self.bin / "pg_ctl"), action, "-D", str(self.data), "-w", *extra)

    def up(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self._ctl("start", "-l", str(self.log), "-o", options)

    def down(self) -> None:
        """A fast shutdown: what a restart by the operator (or a package upgrade) does."""
        self._ctl("stop", "-m", "fast")

    def create_database(self) -> str:
        name = f"attendance_faults_{uuid.uuid4().hex[:8]}"
        admin = create_engine(normalise_database_url(self.admin_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_postgres(postgres_only) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.up()
        yield cluster
    finally:
        cluster.destroy()
