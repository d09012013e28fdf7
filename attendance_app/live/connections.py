"""This process's Socket.IO connections, whose they are and what they were opened with, so
that a connection ends with the login it rests on: its user signed out or deactivated, its
API token revoked or expired, its browser session expired — even when that happened in
another process or the CLI."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from attendance_app.extensions import db, socketio
from attendance_app.models import ApiToken, User, utcnow
from attendance_app.services.school import browser_sessions

#: Seconds between checks of this process's connections against the database (the app's
#: LIVE_SWEEP_SECONDS overrides it).
SWEEP_INTERVAL = 10


@dataclass(frozen=True)
class Connection:
    user_id: uuid.UUID
    session_version: int
    token_id: uuid.UUID | None = None  # opened with this API token (else the login cookie)
    ends_at: datetime | None = None  # the token's expiry
    browser: browser_sessions.BrowserSession | None = None  # the login cookie's session


_lock = threading.Lock()
_by_sid: dict[str, Connection] = {}


def register(sid: str, connection: Connection) -> None:
    with _lock:
        _by_sid[sid] = connection


def forget(sid: str) -> None:
    with _lock:
        _by_sid.pop(sid, None)


def get(sid: str) -> Connection | None:
    with _lock:
        return _by_sid.get(sid)


def _disconnect(sids: list[str]) -> int:
    for sid in sids:
        socketio.server.disconnect(sid)
    return len(sids)


def disconnect_user(user_id: uuid.UUID) -> int:
    """Disconnect this process's connections of ``user_id``; how many there were."""
    with _lock:
        sids = [sid for sid, c in _by_sid.items() if c.user_id == user_id]
    return _disconnect(sids)


def disconnect_tokens(token_ids: set[uuid.UUID]) -> int:
    """Disconnect this process's connections opened with any of these tokens."""
    with _lock:
        sids = [sid for sid, c in _by_sid.items() if c.token_id in token_ids]
    return _disconnect(sids)


def sweep_once() -> int:
    """Disconnect connections whose user is gone, inactive or signed out since, whose token
    was revoked or expired, or whose session's time is up (two queries at most)."""
    with _lock:
        snapshot = dict(_by_sid)
    if not snapshot:
        return 0
    now = utcnow()
    ids = {c.user_id for c in snapshot.values()}
    current = {
        uid: version
        for uid, version in db.session.execute(
            select(User.id, User.session_version).where(User.id.in_(ids), User.is_active)
        )
    }
    token_ids = {c.token_id for c in snapshot.values() if c.token_id is not None}
    live_tokens = (
        set(
            db.session.scalars(
                select(ApiToken.id).where(
                    ApiToken.id.in_(token_ids),
                    ApiToken.revoked_at.is_(None),
                    ApiToken.expires_at > now,
                )
            )
        )
        if token_ids
        else set()
    )
    stale = [
        sid
        for sid, c in snapshot.items()
        if current.get(c.user_id) != c.session_version
        or (c.token_id is not None and c.token_id not in live_tokens)
        or (c.ends_at is not None and c.ends_at <= now)
        or (c.browser is not None and not browser_sessions.alive(c.browser))
    ]
    return _disconnect(stale)


def still_valid(sid: str) -> bool:
    """False when the connection's token was revoked or expired or its time is up."""
    connection = get(sid)
    if connection is None:
        return True  # not registered here (a test client): the user checks still apply
    if connection.ends_at is not None and connection.ends_at <= utcnow():
        return False
    if connection.browser is not None and not browser_sessions.alive(connection.browser):
        return False
    if connection.token_id is None:
        return True
    return bool(
        db.session.scalar(
            select(ApiToken.id).where(
                ApiToken.id == connection.token_id,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > utcnow(),
            )
        )
    )
