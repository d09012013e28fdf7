"""Guardians: the people told the same day when a student is absent (not accounts)."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from attendance_app.models.base import Base, IdMixin, TimestampMixin


class Guardian(IdMixin, TimestampMixin, Base):
    """A student's parent or carer. ``notify`` off (by an admin, or by the guardian through
    the unsubscribe link of an email) means no absence emails; the guardian stays listed."""

    __tablename__ = "guardians"
    __table_args__ = (UniqueConstraint("student_id", "email"),)

    student_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(150))
    # Stored lower-cased, as users' emails: one guardian per email for each student.
    email: Mapped[str] = mapped_column(String(254))
    relationship: Mapped[str] = mapped_column(String(50))
    notify: Mapped[bool] = mapped_column(default=True)
