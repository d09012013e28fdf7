"""Self check-in: each session's code secret, and the wrong codes counted per student."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from attendance_app.models.base import Base, utcnow


class CheckInSecret(Base):
    """The secret a session's rotating check-in codes are derived from (TOTP, RFC 6238).

    Made the first time a code is shown; it never leaves the server (students only ever see
    codes, each useful for its own period and the next).
    """

    __tablename__ = "check_in_secrets"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckInFailure(Base):
    """How many wrong codes a student has sent for a session (the throttle's count)."""

    __tablename__ = "check_in_failures"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True
    )
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[datetime]
