"""How long a browser (cookie) session lasts: SESSION_IDLE_MINUTES without a request, and
SESSION_MAX_HOURS after sign-in in any case.

The signed cookie carries when it signed in and its last request, checked on every request.
A live connection opened with the cookie holds a copy made at connect time that later
requests never update, so each login also gets an id under which requests record their time
in a store every process reads (Redis when processes share one, else memory): the live side
ends a connection when its login's time is up, however many requests came since it opened.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from flask import current_app

from attendance_app.models import utcnow

#: Keys of the signed cookie session (epoch seconds; the login's id).
SIGNED_IN_KEY = "signed_in_at"
SEEN_KEY = "seen_at"
LOGIN_KEY = "login_id"
#: A request refreshes the "last seen" time at most this often (each refresh re-sends the
#: cookie and writes the store once).
SEEN_RESOLUTION = 30
#: Seconds a Redis call may take before the process falls back to memory.
REDIS_TIMEOUT = 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrowserSession:
    login_id: str
    signed_in_at: datetime
    seen_at: datetime  # the last request this copy of the cookie knows of


def _at(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def deadline(*, signed_in_at: datetime, last_seen_at: datetime) -> datetime:
    """When a browser session ends, given its sign-in and its last request."""
    config = current_app.config
    idle = last_seen_at + timedelta(minutes=config["SESSION_IDLE_MINUTES"])
    absolute = signed_in_at + timedelta(hours=config["SESSION_MAX_HOURS"])
    return min(idle, absolute)


def start(store: MutableMapping[str, Any]) -> None:
    """Stamp a freshly signed-in cookie session (``store`` is the session mapping)."""
    now = int(utcnow().timestamp())
    store[SIGNED_IN_KEY] = now
    store[SEEN_KEY] = now
    store[LOGIN_KEY] = secrets.token_hex(16)
    activity().seen(store[LOGIN_KEY], now)


def read(store: MutableMapping[str, Any]) -> BrowserSession | None:
    """The session's stamps, or None when it has ended (or was never stamped: a cookie from
    before these rules is not trusted)."""
    signed_in, seen = _at(store.get(SIGNED_IN_KEY)), _at(store.get(SEEN_KEY))
    login_id = store.get(LOGIN_KEY)
    if signed_in is None or seen is None or not isinstance(login_id, str):
        return None
    if utcnow() >= deadline(signed_in_at=signed_in, last_seen_at=seen):
        return None
    return BrowserSession(login_id, signed_in, seen)


def touch(store: MutableMapping[str, Any]) -> bool:
    """Record a request in the cookie session; False when it had already ended.

    :func:`read`'s decision (ended when ``now >= deadline``), made on the stamps as numbers:
    every request of a signed-in browser asks it, and building the three datetimes and two
    timedeltas was ~30 Python calls of each. The stamps are whole seconds (as :func:`start`
    and this function write them); anything else goes to :func:`read` itself."""
    signed_in, seen = store.get(SIGNED_IN_KEY), store.get(SEEN_KEY)
    if not (_plain_stamp(signed_in) and _plain_stamp(seen)):
        return _touch_slowly(store)
    assert isinstance(signed_in, int) and isinstance(seen, int)  # for the type checker
    if not isinstance(store.get(LOGIN_KEY), str):
        return False
    config = current_app.config
    idle_seconds = config["SESSION_IDLE_MINUTES"] * 60
    now = utcnow().timestamp()
    if now >= min(seen + idle_seconds, signed_in + config["SESSION_MAX_HOURS"] * 3600):
        return False
    _seen_now(store, int(now), seen, idle_seconds)
    return True


#: Stamps from here on (the year 3000) go to :func:`read`, whatever it makes of them: its
#: datetimes end with the year 9999.
_LAST_STAMP = 32_503_680_000


def _plain_stamp(value: object) -> bool:
    return isinstance(value, int) and type(value) is not bool and 0 <= value < _LAST_STAMP


def _touch_slowly(store: MutableMapping[str, Any]) -> bool:
    if read(store) is None:
        return False
    _seen_now(
        store,
        int(utcnow().timestamp()),
        int(store[SEEN_KEY]),
        current_app.config["SESSION_IDLE_MINUTES"] * 60,
    )
    return True


def _seen_now(store: MutableMapping[str, Any], now: int, seen: int, idle_seconds: float) -> None:
    """Renew the "last seen" stamp (and the store's) when it is older than the resolution."""
    if now - seen >= min(SEEN_RESOLUTION, idle_seconds / 10):
        store[SEEN_KEY] = now
        activity().seen(store[LOGIN_KEY], now)


def alive(session: BrowserSession) -> bool:
    """True while the login behind a live connection lasts (its latest request counted,
    from whichever process served it)."""
    recorded = activity().last_seen(session.login_id)
    seen = max(session.seen_at, _at(recorded) or session.seen_at)
    return utcnow() < deadline(signed_in_at=session.signed_in_at, last_seen_at=seen)


# --- the store of last requests ---------------------------------------------------------------


class MemoryActivity:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def seen(self, login_id: str, at: float) -> None:
        with self._lock:
            self._seen[login_id] = at
            if len(self._seen) > 100_000:  # forget the oldest half (logins long over)
                for key in sorted(self._seen, key=lambda k: self._seen[k])[:50_000]:
                    del self._seen[key]

    def last_seen(self, login_id: str) -> float | None:
        with self._lock:
            return self._seen.get(login_id)


class RedisActivity:
    """Last requests in Redis, shared by every process. Redis being unreachable must not fail
    a request (a teacher's tap outlives a Redis restart): the process then keeps its own
    requests in memory, logs the outage once, and returns to Redis when it answers again."""

    def __init__(self, url: str, prefix: str, ttl: int) -> None:
        # Short timeouts: a Redis that does not answer costs a request a second, not a hang.
        self._redis = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self._prefix = prefix
        self._ttl = max(60, ttl)
        self._local = MemoryActivity()
        self._down = False

    def _failed(self, exc: Exception) -> None:
        if not self._down:
            self._down = True
            log.warning("login activity: Redis unreachable (%s); keeping it in memory", exc)

    def _answered(self) -> None:
        if self._down:
            self._down = False
            log.info("login activity: Redis reachable again")

    def seen(self, login_id: str, at: float) -> None:
        self._local.seen(login_id, at)
        try:
            self._redis.set(f"{self._prefix}:{login_id}", at, ex=self._ttl)
        except redis.RedisError as exc:
            self._failed(exc)
        else:
            self._answered()

    def last_seen(self, login_id: str) -> float | None:
        local = self._local.last_seen(login_id)
        try:
            value = self._redis.get(f"{self._prefix}:{login_id}")
        except redis.RedisError as exc:
            self._failed(exc)
            return local
        self._answered()
        shared = float(value) if value is not None else None
        return max(filter(None, (shared, local)), default=None)


def activity() -> MemoryActivity | RedisActivity:
    """The current app's store of last requests, made on first use."""
    found: MemoryActivity | RedisActivity | None = current_app.extensions.get(
        "attendance.login_activity"
    )
    if found is None:
        config = current_app.config
        uri = config.get("RATELIMIT_STORAGE_URI") or config.get("SOCKETIO_MESSAGE_QUEUE") or ""
        if uri.startswith(("redis://", "rediss://")):
            ttl = int(config["SESSION_IDLE_MINUTES"] * 60) + 60
            found = RedisActivity(uri, f"{config.get('SOCKETIO_CHANNEL')}-login", ttl)
        else:
            found = MemoryActivity()
        current_app.extensions["attendance.login_activity"] = found
    return found
