"""The Socket.IO packet our server sends: python-socketio's own, minus the search for binary.

python-socketio builds every outgoing packet with ``Packet(data=...)``, whose constructor walks
the whole payload (``data_is_binary``: a recursive call and a ``reduce`` per value) to find
``bytes`` to send as attachments. Our payloads are JSON from end to end (API.md's events:
strings, numbers, booleans, null), so that walk never finds anything: on a watched bulk mark
of 500 it was ~24,000 calls, on every broadcast, before the first listener could be told.

``uses_binary_events = False`` is the switch python-socketio's own msgpack serializer uses to
skip it; the packet is otherwise the default one, so what goes on the wire (``encode``) and
how incoming packets are read (``decode``, binary attachments from clients included) do not
change by a byte. A payload that did hold ``bytes`` would now fail loudly in ``json.dumps``
instead of going out as a binary event no client of ours reads.

Passed as ``serializer=`` (python-socketio's documented way to give a Packet subclass).
"""

from __future__ import annotations

from socketio import packet


class JsonPacket(packet.Packet):
    """A Socket.IO packet whose data is never binary: the default encoding, without the walk."""

    uses_binary_events = False
