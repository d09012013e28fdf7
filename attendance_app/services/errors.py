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
