"""This process's Socket.IO connections and whose they are, so that signed-out or
deactivated users lose their live connections even when the sign-out happened elsewhere."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import select

from attendance_app.extensions import db, socketio
from attendance_app.models import User

#: Seconds between checks of this process's connections against the database.
SWEEP_INTERVAL = 10

_lock = threading.Lock()
_by_sid: dict[str, tuple[uuid.UUID, int]] = {}


def register(sid: str, user_id: uuid.UUID, session_version: int) -> None:
    with _lock:
        _by_sid[sid] = (user_id, session_version)


def forget(sid: str) -> None:
    with _lock:
        _by_sid.pop(sid, None)


def disconnect_user(user_id: uuid.UUID) -> int:
    """Disconnect this process's connections of ``user_id``; how many there were."""
    with _lock:
        sids = [sid for sid, (uid, _) in _by_sid.items() if uid == user_id]
    for sid in sids:
        socketio.server.disconnect(sid)
    return len(sids)


def sweep_once() -> int:
    """Disconnect connections whose user is gone, inactive or signed out since (one query)."""
    with _lock:
        snapshot = dict(_by_sid)
    if not snapshot:
        return 0
    ids = {uid for uid, _ in snapshot.values()}
    current = {
        uid: version
        for uid, version in db.session.execute(
            select(User.id, User.session_version).where(User.id.in_(ids), User.is_active)
        )
    }
    stale = [sid for sid, (uid, version) in snapshot.items() if current.get(uid) != version]
    for sid in stale:
        socketio.server.disconnect(sid)
    return len(stale)
