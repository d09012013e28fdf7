"""MAX_CONNECTIONS: how many connections one server process holds at once."""

from __future__ import annotations

import subprocess
import sys

import pytest
import socketio

from tests.factories import make_admin
from tests.live.conftest import ASYNC_MODES, ROOT, start_server

pytestmark = pytest.mark.live


def connect(url: str, token: str, wait: float) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=wait)
    return client


@pytest.mark.parametrize("mode", ASYNC_MODES)
def test_a_process_holds_max_connections_and_the_next_waits_for_a_free_one(app, database_url, mode):
    admin = make_admin(app)
    server = start_server(database_url, mode, extra_env={"MAX_CONNECTIONS": "2"})
    held: list[socketio.Client] = []
    try:
        assert "holding at most 2 connections" in server.output()
        held = [connect(server.url, admin.token, 10) for _ in range(2)]
        with pytest.raises(socketio.exceptions.ConnectionError):
            held.append(connect(server.url, admin.token, 2))
        held.pop(0).disconnect()
        held.append(connect(server.url, admin.token, 10))
        assert all(client.connected for client in held)
    finally:
        for client in held:
            if client.connected:
                client.disconnect()
        server.stop()


@pytest.mark.database_independent  # refused before any database is opened
@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_a_max_connections_that_is_not_a_positive_number_is_refused(value):
    result = subprocess.run(
        [sys.executable, "-m", "attendance_app.server", "--port", "0"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "MAX_CONNECTIONS": value, "SECRET_KEY": "x" * 40},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"MAX_CONNECTIONS={value!r}: expected a positive whole number" in result.stderr
