"""The one family of domain errors; each edge presents them in its own way."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused operation, with the exact message users see.

    ``field`` names the input the message belongs to (``None`` means the whole request);
    ``errors`` carries structured per-item errors (bulk requests keyed by index);
    ``extra`` holds further keys of the API body (``{"otp_required": true}``).
    """

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors
        self.extra = extra


class Invalid(DomainError):
    status_code = 400


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403

    def __init__(
        self, message: str = "You do not have permission to perform this action.", **kw: Any
    ) -> None:
        super().__init__(message, **kw)


class Conflict(DomainError):
    status_code = 409


class Unauthenticated(DomainError):
    status_code = 401


class Throttled(DomainError):
    """Too many failed attempts; ``retry_after`` is how many seconds until one is allowed
    (None: not within this operation's lifetime, e.g. for the rest of a session)."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


#: What a request gets while the database cannot be reached (a restart, a failover).
DATABASE_UNAVAILABLE = (
    "The database is unavailable right now. Nothing was changed; please try again in a moment."
)
#: Seconds a client is told to wait before retrying when the database is unavailable.
UNAVAILABLE_RETRY_AFTER = 5


class Unavailable(DomainError):
    """A dependency (the database) cannot be reached: try again shortly (503)."""

    status_code = 503

    def __init__(
        self,
        message: str = DATABASE_UNAVAILABLE,
        *,
        retry_after: int | None = UNAVAILABLE_RETRY_AFTER,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


def database_unavailable(exc: BaseException) -> Unavailable | None:
    """The Unavailable an error of the database driver stands for, or None when it is not an
    outage (a bug, e.g. bad SQL, stays a 500).

    Lost or refused connections, a server shutting down, a pool with no connection left:
    none of these is the request's fault, and the pool reconnects by itself (pre-ping) once
    the database answers again, so the honest answer is "unavailable, retry".
    """
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return Unavailable()
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Unavailable()
    return None
