"""The Socket.IO edge: authenticated connections, session rooms, broadcasts after commit."""

from __future__ import annotations

import uuid

from flask import Flask


def room_for(session_id: uuid.UUID | str) -> str:
    """The room of a class session; the server alone decides who is in it."""
    return f"session:{session_id}"


def user_room(user_id: uuid.UUID | str) -> str:
    return f"user:{user_id}"


#: Every admin's connection joins this room: dashboards follow every session's statistics
#: and status without joining each session.
ADMINS_ROOM = "admins"


def init_app(app: Flask) -> None:
    from attendance_app.live import broadcast, handlers  # noqa: F401  (registers handlers)
    from attendance_app.live.presence import make_presence
    from attendance_app.services import events

    app.extensions["attendance.presence"] = make_presence(
        app.config["SOCKETIO_MESSAGE_QUEUE"], app.config["SOCKETIO_CHANNEL"]
    )
    events.subscribe_with_read(broadcast.on_committed, broadcast.statistics_before_commit)
