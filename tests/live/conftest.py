"""Real server processes (``python -m attendance_app.server``) on the test database, and real
python-socketio clients talking to them over the network."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import socketio

from tests.conftest import TEST_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
ASYNC_MODES = ["eventlet", "gevent"]
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    url: str = ""

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def start_server(
    database_url: str,
    mode: str,
    *,
    message_queue: str | None = None,
    channel: str | None = None,
    timeout: float = 120,
    module: str = "attendance_app.server",
    extra_env: dict | None = None,
) -> ServerProcess:
    """Start a server process (``python -m <module>``) on a free port; wait until it listens.

    A start is ~2 s of CPU; ``timeout`` is generous because CI runs two passes of two workers
    each on two cores, and a start that took over 30 s there once failed a run."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SETTINGS["SECRET_KEY"],
        "ATTENDANCE_ENV": "test",
        # No weekly summaries from a test's server: tests count notifications.
        "WEEKLY_SUMMARY": "off",
        "SOCKETIO_ASYNC_MODE": mode,
        "PYTHONUNBUFFERED": "1",
        # The hashes the test data was made with: no 0.3 s scrypt upgrade at every login.
        "PASSWORD_HASH_METHOD": TEST_SETTINGS["PASSWORD_HASH_METHOD"],
    }
    env.pop("SOCKETIO_MESSAGE_QUEUE", None)
    env.pop("MAIL_SERVER", None)  # a developer's own mail settings never reach a test server
    if message_queue:
        env["SOCKETIO_MESSAGE_QUEUE"] = message_queue
    if channel:
        env["SOCKETIO_CHANNEL"] = channel
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = ServerProcess(proc)
    ready = threading.Event()

    def pump() -> None:
        for line in proc.stdout:
            server.lines.append(line)
            match = re.search(r"listening on (http://\S+?)/?\s", line)
            if match and not server.url:
                server.url = match.group(1).rstrip("/")
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout) or not server.url:
        server.stop()
        raise RuntimeError(f"server did not start:\n{server.output()}")
    return server


@pytest.fixture(scope="session", params=ASYNC_MODES)
def live_server(request, database_url: str) -> Iterator[ServerProcess]:
    """One real server per async mode for the run's tests (per xdist worker), as the browser
    tests share theirs: the tests already shared it within a module, each on an emptied
    database with sessions and people of its own, and a start costs ~2 s of CPU. Modules
    that need other settings start their own."""
    server = start_server(database_url, request.param)
    server.mode = request.param
    yield server
    server.stop()


class Listener:
    """A python-socketio client that records every event it receives."""

    def __init__(self) -> None:
        self.client = socketio.Client(reconnection=False)
        self.events: list[tuple[str, object]] = []
        self.client.on("*", self._record)

    def _record(self, event, data=None):
        self.events.append((event, data))

    def connect(self, url: str, *, token: str | None = None, headers: dict | None = None):
        self.client.connect(
            url,
            auth={"token": token} if token else None,
            headers=headers or {},
            transports=["websocket"],
            wait_timeout=10,
        )
        return self

    def join(self, session_id) -> dict:
        return self.client.call("join_session", {"session_id": str(session_id)}, timeout=10)

    def wait_for(self, name: str, predicate=lambda data: True, timeout: float = 10):
        """The first received ``name`` event whose data satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event, data in list(self.events):
                if event == name and predicate(data):
                    return data
            time.sleep(0.02)
        raise AssertionError(f"no {name!r} event within {timeout}s; got {self.events!r}")

    def names(self) -> list[str]:
        return [event for event, _ in self.events]

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


@pytest.fixture
def listeners() -> Iterator[callable]:
    made: list[Listener] = []

    def make() -> Listener:
        listener = Listener()
        made.append(listener)
        return listener

    yield make
    for listener in made:
        listener.close()


def api(server: ServerProcess, token: str) -> requests.Session:
    """A requests session against ``server`` with the token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    session.base = server.url  # type: ignore[attr-defined]
    return session


def browser_login(server: ServerProcess, email: str, password: str) -> requests.Session:
    """Log in through the /login form like a browser; returns the cookie session and sets
    ``csrf`` (the page's CSRF token) on it for htmx-style posts."""
    session = requests.Session()
    page = session.get(f"{server.url}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = session.post(
        f"{server.url}/login",
        data={"email": email, "password": password, "csrf_token": token},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    home = session.get(f"{server.url}/", timeout=10).text
    session.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', home).group(1)
    return session
