"""Attendance records (the brief's model) and their append-only audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from attendance_app.models.base import (
    AbsenceReason,
    AttendanceStatus,
    Base,
    Channel,
    IdMixin,
    TimestampMixin,
    enum_column,
)
from attendance_app.models.people import Student, User
from attendance_app.models.sessions import ClassSession

#: An excuse's optional note, in characters (it is also the audit row's ``reason``).
EXCUSE_NOTE_MAX = 200


class Attendance(IdMixin, TimestampMixin, Base):
    __tablename__ = "attendance"
    __table_args__ = (
        # Rule 2 lives in the database: concurrent marks cannot create a second row.
        UniqueConstraint("session_id", "student_id", name="unique_attendance_per_session"),
        Index("ix_attendance_session_status", "session_id", "status"),
        Index("ix_attendance_student_marked_at", "student_id", "marked_at"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="CASCADE")
    )
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    status: Mapped[AttendanceStatus] = mapped_column(enum_column(AttendanceStatus, "status"))
    marked_at: Mapped[datetime]
    marked_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    notes: Mapped[str] = mapped_column(Text, default="")
    # When the student became LATE (the tap's time), for "+12 min"; None unless LATE.
    late_at: Mapped[datetime | None]
    # Bumped on every change; lets two devices detect that they saw an older state.
    version: Mapped[int] = mapped_column(default=1)
    # An excuse is an annotation beside the status (allowed after the session locked):
    # the record is excused exactly when it has a reason. A change to PRESENT clears it.
    absence_reason: Mapped[AbsenceReason | None] = mapped_column(
        enum_column(AbsenceReason, "absence_reason")
    )
    excuse_note: Mapped[str | None] = mapped_column(String(EXCUSE_NOTE_MAX))
    excused_at: Mapped[datetime | None]
    excused_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def excused(self) -> bool:
        return self.absence_reason is not None

    session: Mapped[ClassSession] = relationship(lazy="raise")
    student: Mapped[Student] = relationship(lazy="raise")

    def minutes_late(self, session_start: datetime | None) -> int | None:
        """ "+12 min": minutes from the session's start to the tap that made the student LATE
        (None unless LATE). Roster, history, exports and broadcasts all show this number."""
        if self.status != AttendanceStatus.LATE or session_start is None:
            return None
        late_at = self.late_at or self.marked_at
        return max(0, int((late_at - session_start).total_seconds() // 60))

    marked_by: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[marked_by_id])


class AttendanceChange(IdMixin, Base):
    """One immutable row per create or change of an attendance record.

    Session and student are copied (not only the record id) so the trail outlives a deleted
    record; ``group_id`` ties together the rows one bulk action wrote.
    """

    __tablename__ = "attendance_changes"
    __table_args__ = (
        Index("ix_attendance_changes_attendance", "attendance_id", "changed_at"),
        Index(
            "uq_attendance_changes_idempotency",
            "session_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            sqlite_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    attendance_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("attendance.id", ondelete="SET NULL")
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="CASCADE"), index=True
    )
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime]
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    group_id: Mapped[uuid.UUID | None]
    old_status: Mapped[AttendanceStatus | None] = mapped_column(
        enum_column(AttendanceStatus, "old_status")
    )
    new_status: Mapped[AttendanceStatus | None] = mapped_column(
        enum_column(AttendanceStatus, "new_status")
    )
    old_notes: Mapped[str | None] = mapped_column(Text)
    new_notes: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(200))
    # The excuse before and after (None: not excused); equal unless the change excused,
    # withdrew an excuse, or cleared it by a change to PRESENT.
    old_absence_reason: Mapped[AbsenceReason | None] = mapped_column(
        enum_column(AbsenceReason, "old_absence_reason")
    )
    new_absence_reason: Mapped[AbsenceReason | None] = mapped_column(
        enum_column(AbsenceReason, "new_absence_reason")
    )
    # The record's late time (``Attendance.late_at``) before and after the change, so an Undo
    # gives back the minutes late the record had. NULL when not LATE, and on rows written
    # before migration 0013.
    old_late_at: Mapped[datetime | None]
    new_late_at: Mapped[datetime | None]
    # The client's key for a roster tap, so a replayed tap is recognised and not applied twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(lazy="raise")
