"""People: login accounts, their student or teacher profile, and API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from attendance_app.models.base import Base, IdMixin, Role, TimestampMixin, enum_column

if TYPE_CHECKING:
    from attendance_app.models.school import SchoolClass


def full_name(first: str | None, last: str | None) -> str:
    """ "First Last", as every page, export and API body shows a person; empty for nobody
    (a marker whose account is gone)."""
    return f"{first or ''} {last or ''}".strip()


class User(IdMixin, TimestampMixin, UserMixin, Base):  # type: ignore[misc]  # untyped mixin
    __tablename__ = "users"

    # Stored lower-cased: uniqueness and login are case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(150))
    last_name: Mapped[str] = mapped_column(String(150))
    # The names as person searches compare them ("first last" and "last first", accents and
    # case folded), kept by services.school.people whenever the names change.
    name_search: Mapped[str] = mapped_column(Text, default="")
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    # The brief's "superuser": the only admins who may delete records of ENDED sessions.
    is_superuser: Mapped[bool] = mapped_column(default=False, server_default="0")
    # Bumped on logout-everywhere / deactivation so old login cookies stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    # Two-factor sign-in (TOTP, RFC 6238): the base32 secret once set up, and the time step
    # of the last code accepted (a code is never accepted twice).
    totp_secret: Mapped[str | None] = mapped_column(String(32))
    totp_last_step: Mapped[int | None]

    student: Mapped[Student | None] = relationship(back_populates="user", lazy="joined")
    teacher: Mapped[Teacher | None] = relationship(back_populates="user", lazy="joined")

    @property
    def full_name(self) -> str:
        return full_name(self.first_name, self.last_name)

    def get_id(self) -> str:
        """Flask-Login id: the user id plus the session version, so bumping it logs out."""
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class Student(IdMixin, TimestampMixin, Base):
    __tablename__ = "students"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    # The school's own number, e.g. "S12345"; the API calls it `student_id`.
    student_number: Mapped[str] = mapped_column(String(32), unique=True)

    user: Mapped[User] = relationship(back_populates="student", lazy="joined", innerjoin=True)
    classes: Mapped[list[SchoolClass]] = relationship(
        secondary="enrollments", back_populates="students", lazy="raise", viewonly=True
    )


class Teacher(IdMixin, TimestampMixin, Base):
    __tablename__ = "teachers"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )

    user: Mapped[User] = relationship(back_populates="teacher", lazy="joined", innerjoin=True)
    classes: Mapped[list[SchoolClass]] = relationship(back_populates="teacher", lazy="raise")


class RecoveryCode(IdMixin, Base):
    """A one-time code that stands in for a two-factor code; only its SHA-256 is stored."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ApiToken(IdMixin, Base):
    """An API token; only its SHA-256 is stored, so a database leak yields no usable token."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
