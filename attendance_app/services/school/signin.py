"""Signing in: throttling, password, second factor, hash upgrades and how long a browser
session lasts — the rules both the login form and the token endpoint follow.

Order for a login: throttled (429) → email and password (401) → second factor (401, or 403
for an admin who must have one and has none). Every 401 counts as a failure for throttling,
a wrong second-factor code included; a correct password without its code does not.
"""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import update

from attendance_app.extensions import db
from attendance_app.models import Channel, User, utcnow
from attendance_app.services.errors import Forbidden, Unauthenticated
from attendance_app.services.school import passwords, two_factor
from attendance_app.services.school.people import INVALID_CREDENTIALS, authenticate, normalise_email
from attendance_app.services.school.throttle import throttle
from attendance_app.services.security_log import security_event
from attendance_app.services.transaction import unit_of_work

OTP_REQUIRED = "Two-factor code required."
INVALID_OTP = "Invalid two-factor code."
SET_UP_TWO_FACTOR = (
    "Admins must sign in with two-factor authentication: log in on the website once to set it up."
)


def check_password(*, email: str, password: str, address: str | None, channel: Channel) -> User:
    """The active user with these credentials (first factor only). Raises Throttled,
    Unauthenticated (counted as a failure)."""
    key = normalise_email(email)
    throttle().check(key, address)
    user = authenticate(email, password)
    if user is None:
        throttle().fail(key, address, channel=channel)
        security_event(
            "login_failed", email=key, address=address, channel=channel, reason="password"
        )
        raise Unauthenticated(INVALID_CREDENTIALS)
    if passwords.needs_rehash(user.password_hash):
        _upgrade_hash(user, password)
    return user


def check_second_factor(*, user: User, otp: str, address: str | None, channel: Channel) -> None:
    """Accept the user's current TOTP code or an unused recovery code. Raises Throttled,
    Unauthenticated(INVALID_OTP) (counted as a failure)."""
    throttle().check(user.email, address)
    if not two_factor.verify_code(user_id=user.id, code=otp or ""):
        throttle().fail(user.email, address, channel=channel)
        security_event(
            "login_failed", email=user.email, address=address, channel=channel, reason="otp"
        )
        raise Unauthenticated(INVALID_OTP)


def sign_in(
    *, email: str, password: str, otp: str | None, address: str | None, channel: Channel
) -> User:
    """Both factors at once (the token endpoint). Raises Throttled, Unauthenticated (with
    ``otp_required`` when the code is missing), Forbidden (an admin without the second
    factor that REQUIRE_ADMIN_2FA asks for)."""
    user = check_password(email=email, password=password, address=address, channel=channel)
    if two_factor.enabled(user):
        if not otp:
            raise Unauthenticated(OTP_REQUIRED, extra={"otp_required": True})
        check_second_factor(user=user, otp=otp, address=address, channel=channel)
    elif two_factor.required(user):
        raise Forbidden(SET_UP_TWO_FACTOR)
    return user


def record_login(*, user: User, address: str | None, channel: Channel) -> None:
    security_event("login", user=user.id, address=address, channel=channel)


def _upgrade_hash(user: User, password: str) -> None:
    """Redo a hash made with older parameters (it is known to match ``password`` now). The
    hash is made before the write, and only replaces the one it was checked against."""
    old = user.password_hash
    new = passwords.hash_password(password)
    _store_hash(user.id, old, new)
    user.password_hash = new


@unit_of_work
def _store_hash(user_id: uuid.UUID, old: str, new: str) -> None:
    db.session.execute(
        update(User).where(User.id == user_id, User.password_hash == old).values(password_hash=new)
    )


# --- browser sessions ---------------------------------------------------------------------


def session_deadline(*, signed_in_at: datetime, last_seen_at: datetime) -> datetime:
    """When a browser session ends: SESSION_IDLE_MINUTES after its last request, and
    SESSION_MAX_HOURS after sign-in in any case."""
    config = current_app.config
    idle = last_seen_at + timedelta(minutes=config["SESSION_IDLE_MINUTES"])
    absolute = signed_in_at + timedelta(hours=config["SESSION_MAX_HOURS"])
    return min(idle, absolute)


#: Keys of the signed cookie session (epoch seconds): when it signed in, its last request.
SIGNED_IN_KEY = "signed_in_at"
SEEN_KEY = "seen_at"
#: A request refreshes the "last seen" time at most this often (each refresh re-sends the
#: cookie).
SEEN_RESOLUTION = 30


def _at(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def start_browser_session(store: MutableMapping) -> None:
    """Stamp a freshly signed-in cookie session (``store`` is the session mapping)."""
    now = int(utcnow().timestamp())
    store[SIGNED_IN_KEY] = now
    store[SEEN_KEY] = now


def browser_session_deadline(store: MutableMapping) -> datetime | None:
    """When the cookie session ``store`` ends, or None if it has ended (or was never
    stamped: a cookie from before these rules is not trusted)."""
    signed_in, seen = _at(store.get(SIGNED_IN_KEY)), _at(store.get(SEEN_KEY))
    if signed_in is None or seen is None:
        return None
    deadline = session_deadline(signed_in_at=signed_in, last_seen_at=seen)
    return deadline if utcnow() < deadline else None


def touch_browser_session(store: MutableMapping) -> bool:
    """Record a request in the cookie session; False when it had already ended."""
    if browser_session_deadline(store) is None:
        return False
    now = int(utcnow().timestamp())
    idle_seconds = current_app.config["SESSION_IDLE_MINUTES"] * 60
    if now - int(store[SEEN_KEY]) >= min(SEEN_RESOLUTION, idle_seconds / 10):
        store[SEEN_KEY] = now
    return True
