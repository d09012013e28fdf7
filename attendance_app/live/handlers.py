"""Socket.IO handlers: connect (token or login cookie), join/leave a session, presence."""

from __future__ import annotations

import logging
import threading
import uuid

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import join_room, leave_room

from attendance_app.extensions import socketio
from attendance_app.live import ADMINS_ROOM, connections, room_for, user_room
from attendance_app.live.presence import ANNOUNCE_SECONDS
from attendance_app.models import Role, User
from attendance_app.services.errors import DomainError
from attendance_app.services.marking.sessions import SESSION_NOT_FOUND, get_session_for
from attendance_app.services.reporting.statistics import session_statistics
from attendance_app.services.school import browser_sessions
from attendance_app.services.school.people import load_user_for_login
from attendance_app.services.school.tokens import valid_token

log = logging.getLogger(__name__)

NOT_AUTHENTICATED = "Authentication credentials were not provided."
_ACTOR_KEY = "live_actor"
_JOINED_KEY = "live_joined"


def presence():
    return current_app.extensions["attendance.presence"]


@socketio.on("connect")
def on_connect(auth=None):
    """Refuse anyone who is not logged in: an API token in ``auth``, or the login cookie of
    a browser session that has not expired. The connection ends with that token or session
    (connections.py)."""
    user = token_id = ends_at = browser = None
    if isinstance(auth, dict) and auth.get("token"):
        token = valid_token(str(auth["token"]))
        if token is not None:
            user, token_id, ends_at = token.user, token.id, token.expires_at
    elif current_user.is_authenticated:
        # The socket's copy of the cookie is never refreshed by later requests: the
        # connection follows its login's requests through browser_sessions' store.
        browser = browser_sessions.read(session)
        if browser is not None:
            user = current_user._get_current_object()
    if user is None:
        raise ConnectionRefusedError(NOT_AUTHENTICATED)
    session[_ACTOR_KEY] = user.get_id()  # the login cookie's key: id and session version
    session[_JOINED_KEY] = []
    connections.register(
        request.sid,
        connections.Connection(user.id, user.session_version, token_id, ends_at, browser),
    )
    join_room(user_room(user.id))
    if user.role == Role.ADMIN:
        join_room(ADMINS_ROOM)


@socketio.on("disconnect")
def on_disconnect(*_args):
    connections.forget(request.sid)
    for session_id in session.get(_JOINED_KEY, []):
        _leave(session_id)


def current_actor() -> User | None:
    """The connection's user, if still active and not signed out since it connected, and
    the token or session it was opened with still stands."""
    if not connections.still_valid(request.sid):
        return None
    return load_user_for_login(session.get(_ACTOR_KEY, ""))


def _session_id(data) -> uuid.UUID | None:
    try:
        return uuid.UUID(str((data or {}).get("session_id")))
    except (ValueError, AttributeError):
        return None


@socketio.on("join_session")
def on_join_session(data=None):
    """Join a session's room if the server says this user may view it; ack a snapshot."""
    actor = current_actor()
    if actor is None:
        return {"ok": False, "error": NOT_AUTHENTICATED}
    session_id = _session_id(data)
    if session_id is None:
        return {"ok": False, "error": SESSION_NOT_FOUND}
    try:
        class_session = get_session_for(actor, session_id)
    except DomainError as err:
        return {"ok": False, "error": err.message}
    # Join before reading: a change committed meanwhile is broadcast to us, and the snapshot
    # (sequence number read before the statistics) is never newer than what it describes.
    join_room(room_for(session_id))
    joined = session.get(_JOINED_KEY, [])
    if str(session_id) not in joined:
        session[_JOINED_KEY] = [*joined, str(session_id)]
    viewer = {"user_id": str(actor.id), "name": actor.full_name}
    if presence().add(str(session_id), request.sid, viewer):
        announce_presence(str(session_id))
    stats = session_statistics(class_session)
    return {
        "ok": True,
        "statistics": stats.as_dict(),
        "seq": class_session.live_seq,
        "status": class_session.status.value,
        "is_locked": class_session.is_locked,
        "viewers": presence().summary(str(session_id)),
    }


@socketio.on("leave_session")
def on_leave_session(data=None):
    session_id = _session_id(data)
    if session_id is None:
        return {"ok": False, "error": SESSION_NOT_FOUND}
    leave_room(room_for(session_id))
    session[_JOINED_KEY] = [s for s in session.get(_JOINED_KEY, []) if s != str(session_id)]
    _leave(str(session_id))
    return {"ok": True}


def _leave(session_id: str) -> None:
    if presence().remove(session_id, request.sid):
        announce_presence(session_id)


_pending_lock = threading.Lock()
_pending: set[str] = set()  # sessions whose announcement is waiting to be sent


def announce_presence(session_id: str) -> None:
    """Tell the session's room who is viewing it now, once the joins and leaves of the next
    ``ANNOUNCE_SECONDS`` are in: one ``presence`` frame per viewer for a burst of them, not
    one per viewer per join (200 joins were 20,000 frames). The announcement reads the
    viewers after it stops accepting more changes, so the last one always has the final
    count; a change after that schedules the next announcement. A joiner learns the
    viewers from its acknowledgement at once."""
    with _pending_lock:
        if session_id in _pending:
            return
        _pending.add(session_id)
    socketio.start_background_task(_announce_later, presence(), session_id)


def _announce_later(viewers, session_id: str) -> None:
    try:
        socketio.sleep(ANNOUNCE_SECONDS)
    finally:
        with _pending_lock:
            _pending.discard(session_id)
    try:
        socketio.emit(
            "presence",
            {"session_id": session_id, **viewers.summary(session_id)},
            to=room_for(session_id),
        )
    except Exception:  # a green thread of its own: nobody else would hear of it
        log.exception("presence: announcing session %s failed", session_id)
