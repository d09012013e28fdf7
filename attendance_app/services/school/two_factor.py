"""Two-factor sign-in (TOTP, RFC 6238) and its one-time recovery codes.

Optional per account for ADMIN and TEACHER; required for ADMINs when ``REQUIRE_ADMIN_2FA``.
Set up in two steps — a new secret is shown (QR code and key) and saved only once the
person proves their app has it with a current code — after which ten recovery codes are
shown once and kept as SHA-256 digests (each is 80 random bits, like an API token). A code
is never accepted twice: the last accepted time step is kept, and a recovery code is spent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, func, or_, select, update

from attendance_app.extensions import db
from attendance_app.models import RecoveryCode, Role, User, utcnow
from attendance_app.services import permissions
from attendance_app.services.errors import Forbidden, Invalid, NotFound
from attendance_app.services.school.people import USER_NOT_FOUND
from attendance_app.services.security_log import security_event
from attendance_app.services.transaction import affected_rows, unit_of_work

ISSUER = "Attendance"
RECOVERY_CODES = 10
#: A code of the step before (or after) the current one is accepted too: clocks drift.
VALID_WINDOW = 1
WRONG_CODE = "That code is not right; check your app's clock and try the current code."
ALREADY_ON = "Two-factor sign-in is already on."
NOT_ON = "Two-factor sign-in is not on."
NOT_FOR_STUDENTS = "Two-factor sign-in is for staff accounts."
SET_UP_AGAIN = "That set-up has expired; scan the new QR code and type its current code."

_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read from paper


def enabled(user: User) -> bool:
    return user.totp_secret is not None


def required(user: User) -> bool:
    """True when policy says this person must sign in with a second factor."""
    return user.role == Role.ADMIN and bool(current_app.config.get("REQUIRE_ADMIN_2FA"))


def allowed(user: User) -> bool:
    return user.role in (Role.ADMIN, Role.TEACHER)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(*, secret: str, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as inline SVG markup, drawn here (no third-party service sees
    the secret, and the page's CSP needs no exception)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")


def _usable_secret(secret: str) -> bool:
    """A secret as ``new_secret`` makes it: base32 of at least pyotp's 112 bits. Anything else
    (none kept in the browser session, or one made up in the form) is refused, not a 500."""
    try:
        pyotp.TOTP(secret).byte_secret()
    except ValueError:  # binascii.Error (not base32) is a ValueError too
        return False
    return True


def _matching_step(secret: str, code: str) -> int | None:
    """The time step whose code ``code`` is (now, or one step either side), else None."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(utcnow())
    for candidate in (step, step - VALID_WINDOW, step + VALID_WINDOW):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _digest(code: str) -> str:
    normalised = "".join(code.lower().split()).replace("-", "")
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_recovery_codes(user_id: uuid.UUID) -> list[str]:
    """Replace the user's recovery codes with RECOVERY_CODES new ones; returns them."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    now = utcnow()
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        code = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
        codes.append(code)
        db.session.add(RecoveryCode(user_id=user_id, code_hash=_digest(code), created_at=now))
    return codes


@unit_of_work
def verify_code(*, user_id: uuid.UUID, code: str) -> bool:
    """True when ``code`` is the user's current TOTP code (not used before) or one of their
    unused recovery codes (which is then spent). Writes which was used, atomically."""
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None or user.totp_secret is None or not code:
        return False
    step = _matching_step(user.totp_secret, code)
    if step is not None:
        # Compare-and-set: two requests racing with one code cannot both pass.
        won = affected_rows(
            update(User)
            .where(
                User.id == user_id,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        return won == 1
    spent = affected_rows(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == _digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    if spent:
        security_event("recovery_code_used", user=user_id)
    return spent == 1


@dataclass(frozen=True)
class Enabled:
    user: User
    recovery_codes: list[str]  # shown once, never stored in clear


def _fresh(actor: User) -> User:
    """The actor's row as the database has it now (another request may have changed it)."""
    user = db.session.get(User, actor.id, populate_existing=True)
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    return user


@unit_of_work
def enable(*, actor: User, secret: str, code: str) -> Enabled:
    """Turn two-factor sign-in on for ``actor`` with the ``secret`` their app holds, proved by
    a current ``code``. Raises Forbidden (a student), Invalid (already on, no usable secret,
    wrong code)."""
    if not allowed(actor):
        raise Forbidden(NOT_FOR_STUDENTS)
    user = _fresh(actor)
    if user.totp_secret is not None:
        raise Invalid(ALREADY_ON, field="code")
    if not _usable_secret(secret):
        raise Invalid(SET_UP_AGAIN, field="code")
    step = _matching_step(secret, code)
    if step is None:
        raise Invalid(WRONG_CODE, field="code")
    user.totp_secret = secret
    user.totp_last_step = step
    codes = _new_recovery_codes(user.id)
    db.session.flush()
    security_event("2fa_enabled", user=user.id)
    return Enabled(user, codes)


@unit_of_work
def disable(*, actor: User, code: str) -> User:
    """Turn two-factor sign-in off for ``actor``; needs a current code (or a recovery code).
    Raises Invalid (not on, wrong code)."""
    user = _fresh(actor)
    if user.totp_secret is None:
        raise Invalid(NOT_ON, field="code")
    if not verify_code(user_id=user.id, code=code):
        raise Invalid(WRONG_CODE, field="code")
    _turn_off(user)
    security_event("2fa_disabled", user=user.id, by=actor.id)
    return user


@unit_of_work
def reset(*, actor: User, user_id: uuid.UUID) -> User:
    """An admin turns off someone's second factor (a lost phone); they set it up again.
    A superuser's only by a superuser. Raises Forbidden, NotFound, Invalid (not on)."""
    permissions.require_admin(actor)
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    permissions.require_user_manager(actor, user)
    if user.totp_secret is None:
        raise Invalid(NOT_ON, field="non_field_errors")
    _turn_off(user)
    security_event("2fa_reset", user=user.id, by=actor.id)
    return user


def _turn_off(user: User) -> None:
    user.totp_secret = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()


@unit_of_work
def regenerate_recovery_codes(*, actor: User, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), for a current code. Raises Invalid."""
    if actor.totp_secret is None:
        raise Invalid(NOT_ON, field="code")
    if not verify_code(user_id=actor.id, code=code):
        raise Invalid(WRONG_CODE, field="code")
    codes = _new_recovery_codes(actor.id)
    security_event("2fa_recovery_codes_regenerated", user=actor.id)
    return codes


def recovery_codes_left(user_id: uuid.UUID) -> int:
    left = db.session.scalar(
        select(func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
    )
    return left or 0
