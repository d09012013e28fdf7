"""API tokens: issued for credentials, stored only as a SHA-256 digest, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update

from attendance_app.extensions import db
from attendance_app.models import ApiToken, User, utcnow
from attendance_app.services.errors import Unauthenticated
from attendance_app.services.school.people import INVALID_CREDENTIALS, authenticate
from attendance_app.services.transaction import unit_of_work


@dataclass(frozen=True)
class IssuedToken:
    token: str
    user: User


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@unit_of_work
def issue_token(*, email: str, password: str) -> IssuedToken:
    """Exchange credentials for a new API token; only its hash is kept. Raises Unauthenticated."""
    user = authenticate(email, password)
    if user is None:
        raise Unauthenticated(INVALID_CREDENTIALS)
    raw = secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(user_id=user.id, token_hash=_digest(raw), prefix=raw[:8], created_at=utcnow())
    )
    return IssuedToken(token=raw, user=user)


def user_for_token(raw: str) -> User | None:
    """The active user a presented token belongs to, or None (unknown, revoked, inactive)."""
    if not raw:
        return None
    digest = _digest(raw)
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    )
    # The lookup is by an indexed hash; compare_digest keeps the final check constant-time.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    return token.user if token.user.is_active else None


@unit_of_work
def revoke_token(*, raw: str) -> None:
    """Revoke the token (idempotent)."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == _digest(raw), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


@unit_of_work
def revoke_all(*, user_id: uuid.UUID) -> None:
    """Revoke every token of a user (a new password: tokens the old one bought stop)."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
