"""The broadcasts' frames on the wire: exactly python-socketio's default encoding of their
payloads, whatever packet class the server builds them with (live/packet.py), and the same
bytes from a process that heard them through the message queue (live/message_queue.py)."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websocket
from socketio import packet

from tests.live.conftest import ASYNC_MODES, REDIS_URL, start_server

pytestmark = pytest.mark.live

#: Non-ASCII on purpose: the default encoding escapes it (``\\u00eb``), raw UTF-8 would differ.
NOTES = "Zoë's bus — 10 min late"


class RawSocketIO:
    """A Socket.IO client written against the protocol itself (Engine.IO 4 over one
    WebSocket), so the test reads every frame exactly as the server sent it."""

    def __init__(self, url: str, token: str) -> None:
        ws_url = url.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(ws_url, timeout=10)
        assert self.ws.recv().startswith("0{")  # Engine.IO open
        self.ws.send("40" + json.dumps({"token": token}))
        assert self.next_message().startswith("0{")  # Socket.IO connected

    def next_message(self, timeout: float = 10) -> str:
        """The next Engine.IO message's Socket.IO packet, answering pings meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.ws.recv()
            if frame == "2":
                self.ws.send("3")
            elif frame.startswith("4"):
                return frame[1:]
        raise AssertionError("no message")

    def events(self, names: set[str], timeout: float = 10) -> dict[str, str]:
        """The raw packet of the first event of each of ``names``."""
        found: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while names - found.keys():
            raw = self.next_message(max(0.1, deadline - time.monotonic()))
            if raw.startswith("2["):
                name = json.loads(raw[1:])[0]
                if name in names:
                    found.setdefault(name, raw)
        return found

    def join(self, session_id) -> None:
        self.ws.send("420" + json.dumps(["join_session", {"session_id": str(session_id)}]))
        while not (ack := self.next_message()).startswith("30["):
            pass  # e.g. who else is watching
        assert json.loads(ack[2:])[0]["ok"] is True

    def close(self) -> None:
        self.ws.close()


def default_encoding(raw: str) -> str:
    """What python-socketio's default Packet makes of the data this packet carries."""
    return packet.Packet(packet.EVENT, data=json.loads(raw[1:])).encode()


def test_a_marks_broadcasts_are_sent_byte_for_byte_as_python_socketio_encodes_them(
    live_server, test101, test101_session
):
    klass = test101.klass
    client = RawSocketIO(live_server.url, klass.teacher.token)
    try:
        client.ws.send("420" + json.dumps(["join_session", {"session_id": str(test101_session)}]))
        ack = client.next_message()
        assert ack.startswith("30[") and json.loads(ack[2:])[0]["ok"] is True
        response = requests.post(
            f"{live_server.url}/api/attendance/mark/",
            json={
                "session_id": str(test101_session),
                "student_id": str(klass.students[0].profile_id),
                "status": "LATE",
                "notes": NOTES,
            },
            headers={"Authorization": f"Bearer {klass.teacher.token}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        frames = client.events({"statistics", "attendance"})
    finally:
        client.close()
    for raw in frames.values():
        assert raw == default_encoding(raw)
    assert "\\u00eb" in frames["attendance"]
    records = json.loads(frames["attendance"][1:])[1]["records"]
    assert [r["notes"] for r in records] == [NOTES]


@pytest.fixture(scope="module", params=ASYNC_MODES)
def two_servers_on_redis(request, database_url):
    """Two server processes on one database and a Redis channel of their own."""
    channel = f"attendance-test-{uuid.uuid4().hex[:12]}"
    with ThreadPoolExecutor(2) as pool:
        servers = list(
            pool.map(
                lambda _: start_server(
                    database_url, request.param, message_queue=REDIS_URL, channel=channel
                ),
                range(2),
            )
        )
    yield servers
    for server in servers:
        server.stop()


def test_a_bulk_marks_broadcasts_reach_another_process_byte_for_byte_as_sent_here(
    two_servers_on_redis, test101, test101_session
):
    """The marking process encodes its listeners' frames itself; the other decodes the
    queue's message and encodes them again: the same bytes, non-ASCII escapes included."""
    klass = test101.klass
    marking, other = two_servers_on_redis
    here = RawSocketIO(marking.url, klass.teacher.token)
    there = RawSocketIO(other.url, klass.teacher.token)
    try:
        here.join(test101_session)
        there.join(test101_session)
        response = requests.post(
            f"{marking.url}/api/attendance/mark/",
            json={
                "session_id": str(test101_session),
                "records": [
                    {
                        "student_id": str(klass.students[0].profile_id),
                        "status": "LATE",
                        "notes": NOTES,
                    },
                    {"student_id": str(klass.students[1].profile_id), "status": "PRESENT"},
                ],
            },
            headers={"Authorization": f"Bearer {klass.teacher.token}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        sent = here.events({"statistics", "attendance"})
        heard = there.events({"statistics", "attendance"})
    finally:
        here.close()
        there.close()
    assert heard == sent
    for raw in sent.values():
        assert raw == default_encoding(raw)
    assert "\\u00eb" in sent["attendance"]
    records = json.loads(sent["attendance"][1:])[1]["records"]
    assert sorted(r["notes"] or "" for r in records) == ["", NOTES]
