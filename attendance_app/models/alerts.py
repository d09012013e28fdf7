"""Alerts: in-app notifications, which students are past the alert line, and the email outbox."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from attendance_app.models.base import Base, IdMixin, enum_column, utcnow


class NotificationKind(enum.StrEnum):
    #: A student crossed into high risk (or N absences in a row) in a class.
    ALERT = "ALERT"
    #: A student's absence/lateness notice, sent once their session ended and locked.
    DIGEST = "DIGEST"
    #: A teacher's weekly summary of their classes.
    WEEKLY = "WEEKLY"


class Notification(IdMixin, Base):
    """One message in one person's bell. ``dedupe_key`` makes digests and weekly summaries
    idempotent (a second run of the same job inserts nothing)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_recipient_created", "recipient_id", "created_at"),
        Index("ix_notifications_alert", "student_id", "class_id", "session_id"),
    )

    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(enum_column(NotificationKind, "kind"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    # What the notification is about (for its link, and to withdraw an alert that a
    # correction in the same session undid).
    student_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE")
    )
    class_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("school_classes.id", ondelete="CASCADE")
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="CASCADE")
    )
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class AlertState(Base):
    """A student who is past the alert line in a class, and the session that put them there.

    A row exists exactly while the student is past the line: a mark that crosses it inserts
    the row and notifies once; marks while it stands notify nobody; a mark that brings the
    student back deletes it, so the next crossing notifies again.
    """

    __tablename__ = "alert_states"

    student_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True
    )
    class_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("school_classes.id", ondelete="CASCADE"), primary_key=True
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    since: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEmail(IdMixin, Base):
    """An email waiting to be sent (or sent). Written in the transaction of what caused it,
    so a mail server that is down loses nothing: the sender retries with backoff."""

    __tablename__ = "outbox_emails"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_emails_dedupe_key"),
        Index("ix_outbox_emails_due", "sent_at", "next_attempt_at"),
    )

    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    notification_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"), index=True
    )
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Not sent before this time (an alert waits a little, so a correction can withdraw it).
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A sender that took the row; another process leaves it alone until this time.
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None]
