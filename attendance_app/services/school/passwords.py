"""Password hashes: made and checked off the event loop, redone when the parameters change.

scrypt at OWASP's parameters costs ~0.5 s of CPU (more on a busy machine) and 64 MiB. Run
on the event loop it would stall every request and socket of the process that long, so a
serving process
(eventlet or gevent) hands each hash to a real OS thread (eventlet's ``tpool``, gevent's
threadpool); ``hashlib`` releases the GIL while it works. At most HASHES_AT_ONCE run at a time
per process (memory); other logins wait for a slot without blocking the loop.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from attendance_app.extensions import db
from attendance_app.services.transaction import in_unit_of_work

T = TypeVar("T")

HASHES_AT_ONCE = 2
#: Methods werkzeug can check; anything else (an imported account's "!unusable$…") is a hash
#: no password matches.
_METHODS = {"scrypt", "pbkdf2"}
# Created at import, after server.py monkey-patched threading: a green semaphore there.
_slots = threading.BoundedSemaphore(HASHES_AT_ONCE)


def _release_connection() -> None:
    """End a read-only transaction before hashing, so its pooled connection serves others
    meanwhile (SQLite under green threads has one; a hash holding it would stall them all)."""
    session = db.session()
    if in_unit_of_work() or session.new or session.dirty or session.deleted:
        return
    if session.in_transaction():
        session.commit()  # nothing to write: returns the connection (objects stay loaded)


def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in an OS thread when serving on eventlet or gevent; inline otherwise."""
    config = current_app.config
    if not config.get("SERVER_GREEN"):
        return fn(*args)
    _release_connection()
    with _slots:
        if config["SOCKETIO_ASYNC_MODE"] == "eventlet":
            from eventlet import tpool

            return cast(T, tpool.execute(fn, *args))
        if config["SOCKETIO_ASYNC_MODE"] == "gevent":
            import gevent

            return cast(T, gevent.get_hub().threadpool.apply(fn, args))
        return fn(*args)


def hash_password(password: str) -> str:
    """A new hash of ``password`` with the configured method."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    return off_loop(generate_password_hash, password, method)


def _dummy_hash() -> str:
    """A hash of a random password with the configured method, made once per app: checking
    against it costs what checking a real password costs."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    cache: dict[str, str] = current_app.extensions.setdefault("attendance.dummy_hashes", {})
    if method not in cache:
        cache[method] = hash_password(secrets.token_hex(16))
    return cache[method]


def warm_up() -> None:
    """Make the dummy hash now (a serving process, at start), not during the first login."""
    _dummy_hash()


def usable(stored: str) -> bool:
    """True when ``stored`` is a hash some password could match."""
    method, sep, rest = stored.partition("$")
    return bool(sep) and "$" in rest and method.split(":")[0] in _METHODS


def check_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``. An unusable or missing hash is checked
    against the dummy hash, so every refusal takes as long as a wrong password."""
    if not stored or not usable(stored):
        burn_time(password)
        return False
    return off_loop(check_password_hash, stored, password)


def burn_time(password: str) -> None:
    """Spend what checking a real hash spends (unknown email, inactive or imported account)."""
    off_loop(check_password_hash, _dummy_hash(), password)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with other parameters than the configured ones."""
    current = _dummy_hash().partition("$")[0]
    return usable(stored) and stored.partition("$")[0] != current
