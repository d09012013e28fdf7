"""The school's structure: subjects, classes and who is enrolled in them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from attendance_app.models.base import Base, IdMixin, TimestampMixin, utcnow

if TYPE_CHECKING:
    from attendance_app.models.people import Student, Teacher


class Subject(IdMixin, TimestampMixin, Base):
    __tablename__ = "subjects"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class SchoolClass(IdMixin, TimestampMixin, Base):
    __tablename__ = "school_classes"

    subject_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subjects.id", ondelete="RESTRICT"), index=True
    )
    teacher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("teachers.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))

    subject: Mapped[Subject] = relationship(lazy="joined", innerjoin=True)
    teacher: Mapped[Teacher] = relationship(back_populates="classes", lazy="joined", innerjoin=True)
    students: Mapped[list[Student]] = relationship(
        secondary="enrollments", back_populates="classes", lazy="raise", viewonly=True
    )


class Enrollment(Base):
    __tablename__ = "enrollments"

    class_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("school_classes.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
