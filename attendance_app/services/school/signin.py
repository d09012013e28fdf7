"""Signing in: throttling, password, second factor and hash upgrades — the rules both the
login form and the token endpoint follow (how long a browser session lasts is
``browser_sessions``).

Order for a login: throttled (429) → email and password (401) → second factor (401, or 403
for an admin who must have one and has none). Every 401 counts as a failure for throttling,
a wrong second-factor code included; a correct password without its code does not.
"""

from __future__ import annotations

import uuid

from sqlalchemy import update

from attendance_app.extensions import db
from attendance_app.models import Channel, User
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
