"""The Redis message queue our processes share broadcasts through: python-socketio's own
``RedisManager``, publishing on one connection it keeps.

With ``SOCKETIO_MESSAGE_QUEUE`` every emit is published to Redis (and read back by every
process, the sender included, which drops its own). A pooled redis-py client takes a
connection from its pool and gives it back around every command: ~90 of a publish's ~220
Python calls, on every broadcast, before other processes can hear it.
``single_connection_client`` (passed through ``RedisManager``'s documented ``redis_options``)
keeps one connection for publishing instead. Publishes from several green threads take
turns on it (redis-py holds a lock around each command; eventlet's and gevent's monkey
patching make it a green lock), each one short round trip; a broken connection is
reconnected by redis-py's retry and, failing that, the manager makes a new client, as
before. The queue listener keeps its own connection, and the messages on the channel are
python-socketio's, unchanged.

Flask-SocketIO builds a ``RedisManager`` from ``message_queue`` but passes it no
``redis_options``, so we build it (its documented ``client_manager``) for Redis URLs and
leave any other queue to Flask-SocketIO.
"""

from __future__ import annotations

from typing import Any

import socketio


def client_manager(url: str | None, channel: str) -> dict[str, Any]:
    """``client_manager=`` for ``SocketIO.init_app`` on a Redis URL; nothing otherwise."""
    if url and url.startswith(("redis://", "rediss://")):
        options = {"single_connection_client": True}
        manager = socketio.RedisManager(url, channel=channel, redis_options=options)
        return {"client_manager": manager}
    return {}
