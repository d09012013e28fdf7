"""The server's own end of a client's connection, read from the running process."""

from __future__ import annotations

import ctypes
import http.client
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import websocket

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


def test_the_server_sends_responses_without_waiting_for_acknowledgements(live_server):
    """TCP_NODELAY on every accepted connection: without it a response written in pieces
    can wait up to 40 ms for the client's delayed acknowledgement (a 17 kB history page took
    48 ms at the median, the server idle meanwhile)."""
    address = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    conn.request("GET", "/login")
    assert conn.getresponse().read()  # answered, and the connection is kept open
    theirs = servers_end(live_server.proc.pid, address.port, conn.sock)
    try:
        assert theirs.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        theirs.close()
        conn.close()


def test_a_websocket_its_client_closes_is_answered_and_its_connection_ended(live_server):
    """The server answers a client's closing frame and ends the connection, as the WebSocket
    protocol asks. gevent's server once kept it open, waiting for a next HTTP request, so
    every client that disconnected (python-socketio, through websocket-client) hung until
    its own 3 s timeout gave up on the end it was waiting for."""
    url = live_server.url.replace("http://", "ws://", 1)
    ws = websocket.create_connection(f"{url}/socket.io/?EIO=4&transport=websocket", timeout=10)
    try:
        assert ws.recv().startswith("0{")  # Engine.IO's open packet: the socket is up
        ws.send_close()
        received = b""
        try:
            while chunk := ws.sock.recv(4096):
                received += chunk
        except TimeoutError:
            pytest.fail("the server kept the connection open after its client closed it")
        assert received == b"\x88\x02\x03\xe8"  # its closing frame: 1000, normal closure
    finally:
        ws.shutdown()
