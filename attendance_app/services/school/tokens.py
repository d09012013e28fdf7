"""API tokens: issued for credentials, stored only as a SHA-256 digest, expiring after
API_TOKEN_DAYS, revocable (and revoked when their owner is deactivated or their password
changes: a reactivation never revives them)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update

from attendance_app.extensions import db
from attendance_app.memory import Bounded
from attendance_app.models import ApiToken, Channel, User, utcnow
from attendance_app.services import events
from attendance_app.services.data_version import cheap_data_version
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
#: Every API request's lookup, built once: the user's row (``identities.COLUMNS``), the
#: token's expiry (for :class:`_Seen`) and the digest for the final check, as columns: no
#: entity is loaded per request.
_TOKEN_USER = (
    identities.select_user(ApiToken.expires_at, ApiToken.token_hash)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(*_TOKEN_IS_VALID)
)
_EXPIRES_AT = len(identities.COLUMNS)


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


#: Answers kept per process; beyond it the oldest half is dropped (any write anywhere makes
#: every kept answer stale: they are dropped with the oldest).
SEEN_TOKENS = 4_096


class _Seen:
    """The answer of :data:`_TOKEN_USER` per data version (``services.data_version``) and
    token digest, with the token's expiry.

    Exact because the version is: an equal version means no commit anywhere since the row
    was read (a revocation, a deactivation, a new password, a deleted token, by any process,
    all change it), and the one thing that changes without a write, the clock, is compared
    with the kept expiry as the statement compares it. Only valid tokens of active users
    are kept; anything else is asked of the database every time. (On SQLite a version is
    its connection's, so each pooled connection finds its own answers.)"""

    def __init__(self) -> None:
        self.tokens: Bounded[tuple[Hashable, str], tuple[datetime, User]] = Bounded(SEEN_TOKENS)

    def get(self, version: Hashable, digest: str, now: datetime) -> User | None:
        seen = self.tokens.get((version, digest))
        return seen[1] if seen is not None and seen[0] > now else None

    def put(self, version: Hashable, digest: str, expires_at: datetime, user: User) -> None:
        self.tokens.remember((version, digest), (expires_at, user))


def _seen() -> _Seen:
    found: _Seen | None = current_app.extensions.get("attendance.tokens")
    if found is None:
        found = current_app.extensions["attendance.tokens"] = _Seen()
    return found


def token_user(raw: str) -> User | None:
    """The active user a presented token belongs to, or None (unknown, revoked, expired,
    inactive): what ``valid_token`` decides, as the process's kept entity
    (``identities.kept_user``: detached and shared, to read only; ``identities.attached``
    gives the request's own copy).

    One statement that reads only columns, none while the data is as it was when this token
    was last found valid (SQLite, where the data version costs no statement: ``_Seen``)."""
    if not raw:
        return None
    digest = _digest(raw)
    now = utcnow()
    connection = db.session.connection()
    # Asked before the row is read: on SQLite it starts the transaction's snapshot, which
    # the statement below then reads.
    version = cheap_data_version(connection)
    kept = _seen() if version is not None else None
    if kept is not None:
        seen = kept.get(version, digest, now)
        if seen is not None:
            return seen
    row = connection.execute(_TOKEN_USER, {"digest": digest, "now": now}).one_or_none()
    if row is None or not hmac.compare_digest(row[-1], digest):
        return None
    if not row[identities.IS_ACTIVE]:
        return None
    user = identities.kept_user(row)
    if kept is not None:
        kept.put(version, digest, row[_EXPIRES_AT], user)
    return user


def user_for_token(raw: str) -> User | None:
    """:func:`token_user`'s user in the request's session (``identities.attached``)."""
    user = token_user(raw)
    return identities.attached(user) if user is not None else None


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
