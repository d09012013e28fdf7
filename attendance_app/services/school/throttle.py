"""Login throttling, as the contract's Security section says: failed logins are counted per
account (10 in 15 minutes) and per client address (50 in 15 minutes); while either is used
up, logins answer 429 — even with the right password. Successes never count.

Counting uses ``limits`` (the library under Flask-Limiter) with a moving window: in Redis
when several processes share the work (``RATELIMIT_STORAGE_URI``, else the Socket.IO message
queue's Redis), in memory otherwise. If Redis is unreachable the process counts in memory
and logs a warning rather than refusing or waving through every login.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import TypeVar, cast

from flask import current_app
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from attendance_app.services.errors import Throttled
from attendance_app.services.security_log import security_event

log = logging.getLogger(__name__)

ACCOUNT_LIMIT: RateLimitItem = parse("10 per 15 minutes")
ADDRESS_LIMIT: RateLimitItem = parse("50 per 15 minutes")
T = TypeVar("T")
TOO_MANY_FAILURES = "Too many failed attempts. Try again in {seconds} seconds."


class LoginThrottle:
    """Failure counters of one app (``throttle()`` gives the current app's)."""

    def __init__(self, uri: str | None, prefix: str) -> None:
        self.uri = uri or "memory://"
        storage: Storage = MemoryStorage()
        if self.uri.startswith(("redis://", "rediss://")):
            storage = cast(
                Storage, storage_from_string(self.uri, key_prefix=prefix, wrap_exceptions=True)
            )
        self._primary = MovingWindowRateLimiter(storage)
        self._fallback = MovingWindowRateLimiter(MemoryStorage())

    def _limits(
        self, email: str, address: str | None
    ) -> Iterator[tuple[RateLimitItem, tuple[str, str]]]:
        yield ACCOUNT_LIMIT, ("account", email)
        if address:
            yield ADDRESS_LIMIT, ("address", address)

    def _run(self, method: Callable[..., T], item: RateLimitItem, key: tuple[str, str]) -> T:
        """``limiter.method(item, *key)`` on the shared store, or in memory when it is down."""
        try:
            return method(self._primary, item, *key)
        except StorageError as exc:
            log.warning("login throttle: %s unreachable (%s); counting in memory", self.uri, exc)
            return method(self._fallback, item, *key)

    def check(self, email: str, address: str | None) -> None:
        """Raise Throttled when the account or the address has no attempt left."""
        for item, key in self._limits(email, address):
            if not self._run(MovingWindowRateLimiter.test, item, key):
                stats = self._run(MovingWindowRateLimiter.get_window_stats, item, key)
                seconds = max(1, math.ceil(stats.reset_time - time.time()))
                raise Throttled(TOO_MANY_FAILURES.format(seconds=seconds), retry_after=seconds)

    def fail(self, email: str, address: str | None, *, channel: object) -> None:
        """Count one failed attempt; log a lockout when it used up the last one."""
        for item, key in self._limits(email, address):
            allowed = self._run(MovingWindowRateLimiter.hit, item, key)
            if not allowed or not self._run(MovingWindowRateLimiter.test, item, key):
                security_event(
                    "lockout", scope=key[0], email=email, address=address, channel=channel
                )

    def reset(self) -> None:
        """Forget every counter (tests start from nothing)."""
        for limiter in (self._primary, self._fallback):
            with contextlib.suppress(StorageError):
                limiter.storage.reset()


def throttle() -> LoginThrottle:
    """The current app's throttle, made on first use."""
    found: LoginThrottle | None = current_app.extensions.get("attendance.throttle")
    if found is None:
        config = current_app.config
        uri = config.get("RATELIMIT_STORAGE_URI") or config.get("SOCKETIO_MESSAGE_QUEUE")
        if uri and not uri.startswith(("redis://", "rediss://", "memory://")):
            uri = None  # a queue that is not Redis (e.g. RabbitMQ): count in memory
        found = LoginThrottle(uri, f"{config.get('SOCKETIO_CHANNEL', 'attendance')}-throttle")
        current_app.extensions["attendance.throttle"] = found
    return found
