"""A class session: one lesson of a class, SCHEDULED → ACTIVE → ENDED."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column, relationship

from attendance_app.models.base import Base, IdMixin, SessionStatus, TimestampMixin, enum_column
from attendance_app.models.school import SchoolClass


class ClassSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "class_sessions"
    __table_args__ = (
        Index("ix_class_sessions_class_start", "class_id", "start_time"),
        Index("ix_class_sessions_status", "status"),
    )

    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school_classes.id", ondelete="CASCADE"))
    status: Mapped[SessionStatus] = mapped_column(
        enum_column(SessionStatus, "status"), default=SessionStatus.SCHEDULED
    )
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    # Bumped in the transaction of every change to the session or its attendance; live
    # broadcasts carry it so a client can ignore anything older than its last snapshot.
    live_seq: Mapped[int] = mapped_column(default=0, server_default="0")

    school_class: Mapped[SchoolClass] = relationship(lazy="joined", innerjoin=True)

    @property
    def started_at(self) -> datetime:
        """``start_time`` of a session that has started (ACTIVE or ENDED), where it is never
        None; asking it of a SCHEDULED session is a programming error."""
        if self.start_time is None:
            raise ValueError(f"session {self.id} has not started")
        return self.start_time

    @property
    def is_locked(self) -> bool:
        """ENDED is final: its attendance can no longer change."""
        return self.status == SessionStatus.ENDED
