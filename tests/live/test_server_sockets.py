"""The server's own end of a client's connection, read from the running process."""

from __future__ import annotations

import ctypes
import http.client
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.live.conftest import ASYNC_MODES, start_server

pytestmark = pytest.mark.live

#: pidfd_getfd(2): the same number on x86_64 and aarch64.
SYS_PIDFD_GETFD = 438


def servers_end(pid: int, server_port: int, client: socket.socket) -> socket.socket:
    """A duplicate of the socket process ``pid`` accepted for ``client``'s connection."""
    client_port = client.getsockname()[1]
    inode = next(
        fields[9]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if int(fields[1].split(":")[1], 16) == server_port
        and int(fields[2].split(":")[1], 16) == client_port
    )
    fd = next(
        int(entry.name)
        for entry in Path(f"/proc/{pid}/fd").iterdir()
        if os.readlink(entry) == f"socket:[{inode}]"
    )
    pidfd = os.pidfd_open(pid)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        duplicate = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if duplicate < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
    finally:
        os.close(pidfd)
    return socket.socket(fileno=duplicate)


@pytest.mark.parametrize("mode", ASYNC_MODES)
def test_the_server_sends_responses_without_waiting_for_acknowledgements(database_url, mode):
    """TCP_NODELAY on every accepted connection: without it a response written in pieces
    can wait up to 40 ms for the client's delayed acknowledgement (a 17 kB history page took
    48 ms at the median, the server idle meanwhile)."""
    server = start_server(database_url, mode)
    try:
        address = urlsplit(server.url)
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        conn.request("GET", "/login")
        assert conn.getresponse().read()  # answered, and the connection is kept open
        theirs = servers_end(server.proc.pid, address.port, conn.sock)
        try:
            assert theirs.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            theirs.close()
            conn.close()
    finally:
        server.stop()
