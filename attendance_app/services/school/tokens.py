"""API tokens: issued for credentials, stored only as a SHA-256 digest, expiring after
API_TOKEN_DAYS, revocable (and revoked when their owner is deactivated or their password
changes: a reactivation never revives them)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update

from attendance_app.extensions import db
from attendance_app.models import ApiToken, Channel, User, utcnow
from attendance_app.services import events
from attendance_app.services.school import identities
from attendance_app.services.security_log import security_event
from attendance_app.services.transaction import unit_of_work


@dataclass(frozen=True)
class IssuedToken:
    token: str
    user: User


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(
    *,
    email: str,
    password: str,
    otp: str | None = None,
    address: str | None = None,
    channel: Channel = Channel.API,
) -> IssuedToken:
    """Exchange credentials (and the second factor, when the account has one) for a new API
    token; only its hash is kept. Raises Throttled, Unauthenticated, Forbidden
    (``services.school.signin.sign_in``)."""
    from attendance_app.services.school.signin import record_login, sign_in

    # Checked before the write transaction: password hashing must not hold a write lock.
    user = sign_in(email=email, password=password, otp=otp, address=address, channel=channel)
    raw = secrets.token_urlsafe(32)
    token_id = _store(user.id, raw)
    record_login(user=user, address=address, channel=channel)
    security_event("token_issued", user=user.id, token=token_id, address=address)
    return IssuedToken(token=raw, user=user)


@unit_of_work
def _store(user_id: uuid.UUID, raw: str) -> uuid.UUID:
    now = utcnow()
    days = current_app.config.get("API_TOKEN_DAYS", 30)
    token = ApiToken(
        user_id=user_id,
        token_hash=_digest(raw),
        prefix=raw[:8],
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    return token.id


#: What makes a presented token valid: its digest, not revoked, not expired.
_TOKEN_IS_VALID = (
    ApiToken.token_hash == bindparam("digest"),
    ApiToken.revoked_at.is_(None),
    ApiToken.expires_at > bindparam("now"),
)
#: A live connection's token lookup (it keeps the token's id and expiry), built once.
_VALID_TOKEN = select(ApiToken).where(*_TOKEN_IS_VALID)
#: Every API request's lookup, built once: the user's row (``identities.COLUMNS``) and the
#: digest for the final check, as columns: no entity is loaded per request.
_TOKEN_USER = (
    identities.select_user(ApiToken.token_hash)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(*_TOKEN_IS_VALID)
)


def valid_token(raw: str) -> ApiToken | None:
    """The unrevoked, unexpired token of an active user that ``raw`` is, or None."""
    if not raw:
        return None
    digest = _digest(raw)
    token = db.session.scalar(_VALID_TOKEN, {"digest": digest, "now": utcnow()})
    # The lookup is by an indexed hash; compare_digest keeps the final check constant-time.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    return token if token.user.is_active else None


def user_for_token(raw: str) -> User | None:
    """The active user a presented token belongs to, or None (unknown, revoked, expired,
    inactive): what ``valid_token`` decides, in one statement that reads only columns (the
    entity is ``identities.user_from_row``'s)."""
    if not raw:
        return None
    digest = _digest(raw)
    row = identities.execute(_TOKEN_USER, {"digest": digest, "now": utcnow()})
    if row is None or not hmac.compare_digest(row[-1], digest):
        return None
    return identities.user_from_row(row) if row[identities.IS_ACTIVE] else None


@unit_of_work
def revoke_token(*, raw: str) -> None:
    """Revoke the token (idempotent); live connections opened with it end."""
    revoked = db.session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == _digest(raw), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(ApiToken.id, ApiToken.user_id)
    ).all()
    for token_id, user_id in revoked:
        events.record(db.session, events.TokensRevoked(user_id, (token_id,)))
        security_event("token_revoked", user=user_id, token=token_id, reason="owner")


@unit_of_work
def revoke_all(*, user_id: uuid.UUID, reason: str = "") -> None:
    """Revoke every token of a user (a new password, a deactivation); live connections
    opened with them end."""
    ids = db.session.scalars(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(ApiToken.id)
    ).all()
    if ids:
        events.record(db.session, events.TokensRevoked(user_id, tuple(ids)))
        security_event("token_revoked", user=user_id, count=len(ids), reason=reason or None)
