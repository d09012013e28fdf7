"""Socket.IO handlers: connect (token or login cookie) and join_session."""

from __future__ import annotations

import uuid

from flask import session
from flask_login import current_user
from flask_socketio import join_room, leave_room

from attendance_app.extensions import db, socketio
from attendance_app.live import room_for, user_room
from attendance_app.models import User
from attendance_app.services.errors import DomainError
from attendance_app.services.people import user_for_token
from attendance_app.services.sessions import SESSION_NOT_FOUND, get_session_for
from attendance_app.services.statistics import session_statistics

NOT_AUTHENTICATED = "Authentication credentials were not provided."
_ACTOR_KEY = "live_actor"


@socketio.on("connect")
def on_connect(auth=None):
    """Refuse anyone who is not logged in: an API token in ``auth``, or the login cookie."""
    user = None
    if isinstance(auth, dict) and auth.get("token"):
        user = user_for_token(str(auth["token"]))
    elif current_user.is_authenticated:
        user = current_user._get_current_object()
    if user is None:
        raise ConnectionRefusedError(NOT_AUTHENTICATED)
    session[_ACTOR_KEY] = f"{user.id}:{user.session_version}"
    join_room(user_room(user.id))


def current_actor() -> User | None:
    """The connection's user, if still active and not logged out everywhere since."""
    key = session.get(_ACTOR_KEY, "")
    user_id, _, version = key.partition(":")
    try:
        user = db.session.get(User, uuid.UUID(user_id))
    except ValueError:
        return None
    if user is None or not user.is_active or str(user.session_version) != version:
        return None
    return user


@socketio.on("join_session")
def on_join_session(data=None):
    """Join a session's room if the server says this user may view it; ack a snapshot."""
    actor = current_actor()
    if actor is None:
        return {"ok": False, "error": NOT_AUTHENTICATED}
    try:
        session_id = uuid.UUID(str((data or {}).get("session_id")))
    except (ValueError, AttributeError):
        return {"ok": False, "error": SESSION_NOT_FOUND}
    try:
        class_session = get_session_for(actor, session_id)
    except DomainError as err:
        return {"ok": False, "error": err.message}
    # Join before reading: a change committed meanwhile is broadcast to us, and the snapshot
    # (sequence number read before the statistics) is never newer than what it describes.
    join_room(room_for(session_id))
    stats = session_statistics(class_session)
    return {
        "ok": True,
        "statistics": stats.as_dict(),
        "seq": class_session.live_seq,
        "status": class_session.status.value,
        "is_locked": class_session.is_locked,
    }


@socketio.on("leave_session")
def on_leave_session(data=None):
    try:
        leave_room(room_for(uuid.UUID(str((data or {}).get("session_id")))))
    except (ValueError, AttributeError):
        return {"ok": False, "error": SESSION_NOT_FOUND}
    return {"ok": True}
