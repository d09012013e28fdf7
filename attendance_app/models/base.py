"""Declarative base, shared column types and the enums every layer takes its choices from."""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Enum, MetaData, TypeDecorator, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlalchemy.orm.base import manager_of_class

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The one clock of the application: timezone-aware UTC."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix, as DRF renders it (API, CSV and broadcasts)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are stored as naive
    UTC and given their zone back on the way out. Comparisons in SQL therefore work on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Ids read back as text (SQLite's CHAR(32)) → their UUID, for the most recent distinct ones.
#: ``uuid.UUID(text)`` is ~7 Python calls (it strips, replaces, checks and converts) and a
#: tap reads ~25 ids (the same session, teacher and students over and over); a hit is one
#: C call. A UUID is immutable, so one object serves every row that names it.
_uuid_of_text = functools.lru_cache(maxsize=16_384)(uuid.UUID)


def _uuid_result(value: str | None) -> uuid.UUID | None:
    return None if value is None else _uuid_of_text(value)


class KeptUuid(Uuid[uuid.UUID]):
    """SQLAlchemy's ``Uuid``, the same column on every database; where the database has no
    UUID type (SQLite) the ids it reads back come from :data:`_uuid_of_text`."""

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if (dialect.supports_native_uuid and self.native_uuid) or not self.as_uuid:
            return super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call]
        return _uuid_result


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), uuid.UUID: KeptUuid()},
    )


E = TypeVar("E")


def built(cls: type[E], values: Iterable[tuple[str, Any]]) -> E:
    """An entity of ``cls`` holding ``values`` (attribute name, value), as a write's answer
    carries what it has just written: read only, never added to a Session (its attributes
    bypass the ORM's bookkeeping, which would not flush them). The mapped constructor's
    attribute events were ~10 Python calls a value, ~100 for a record, on every write."""
    entity: E = manager_of_class(cls).new_instance()
    entity.__dict__.update(values)
    return entity


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Role(enum.StrEnum):
    ADMIN = "ADMIN"
    TEACHER = "TEACHER"
    STUDENT = "STUDENT"


class SessionStatus(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


class AttendanceStatus(enum.StrEnum):
    PRESENT = "PRESENT"
    ABSENT = "ABSENT"
    LATE = "LATE"


#: The words people read for a status ("" = not marked): the one source for pages (the
#: ``status_word`` template filter) and scripts (``<meta name="status-words">`` in base.html).
STATUS_WORDS: dict[str, str] = {
    "PRESENT": "Present",
    "ABSENT": "Absent",
    "LATE": "Late",
    "": "Not marked",
}


def status_word(status: AttendanceStatus | str | None) -> str:
    """ "Present", "Absent", "Late" or "Not marked" for a status, its value, "" or None."""
    value = status.value if isinstance(status, enum.Enum) else status or ""
    return STATUS_WORDS.get(str(value), STATUS_WORDS[""])


class AbsenceReason(enum.StrEnum):
    """Why an absence (or a late arrival) was excused; its presence on a record is what
    "excused" means."""

    ILLNESS = "ILLNESS"
    MEDICAL = "MEDICAL"
    FAMILY = "FAMILY"
    SCHOOL_ACTIVITY = "SCHOOL_ACTIVITY"
    RELIGIOUS = "RELIGIOUS"
    OTHER = "OTHER"


class Channel(enum.StrEnum):
    """Which edge a change came through (CHECK_IN: a student's own check-in, from any edge);
    kept in the audit trail."""

    WEB = "WEB"
    API = "API"
    CLI = "CLI"
    #: Only in rows written before revision 0007: a bulk action whose edge was not recorded.
    BULK = "BULK"
    #: A student checked themself in with the code shown in the room.
    CHECK_IN = "CHECK_IN"


def enum_column(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint, the same on every database."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        name=name,
    )
