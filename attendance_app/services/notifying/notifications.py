"""The bell: delivering notifications (and their emails), listing them, marking them read.

Alerts, digests and weekly summaries all deliver through :func:`deliver`, inside the
transaction of what caused them; it records :class:`events.NotificationsChanged`, so every
open page of each recipient updates its unread count after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, delete, func, select, update

from attendance_app.extensions import db
from attendance_app.models import Notification, NotificationKind, OutboxEmail, Role, User, utcnow
from attendance_app.services import events
from attendance_app.services.dialect import insert
from attendance_app.services.errors import NotFound
from attendance_app.services.notifying import outbox
from attendance_app.services.paging import Page, clamp
from attendance_app.services.transaction import affected_rows, unit_of_work

PAGE_SIZE = 50
NOTIFICATION_NOT_FOUND = "Not found."


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    email: str


@dataclass(frozen=True)
class Message:
    kind: NotificationKind
    title: str
    body: str = ""
    student_id: uuid.UUID | None = None
    class_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    #: Makes the delivery idempotent per recipient (the recipient's id is appended).
    dedupe_key: str | None = None
    #: The page the notification (and its email) points to, relative to the site.
    link: str = ""


def admins() -> list[Recipient]:
    """Every active admin (they receive every alert)."""
    rows = db.session.execute(
        select(User.id, User.email).where(User.role == Role.ADMIN, User.is_active.is_(True))
    )
    return [Recipient(uid, email) for uid, email in rows]


def deliver(
    deliveries: Sequence[tuple[Recipient, Message]],
    *,
    email_delay: timedelta = timedelta(),
    at: datetime | None = None,
) -> list[uuid.UUID]:
    """Insert the notifications (one statement) and, with mail configured, their emails.

    A delivery whose dedupe key was used before inserts nothing. Returns the ids inserted.
    Joins the caller's transaction: the notifications commit with the change that caused them.
    ``at`` dates the notifications (the moment of what caused them; default now).
    """
    if not deliveries:
        return []
    now = utcnow()
    created_at = at or now
    rows: list[dict[str, Any]] = [
        {
            "id": uuid.uuid4(),
            "recipient_id": r.user_id,
            "kind": m.kind,
            "title": m.title[:300],
            "body": m.body,
            "student_id": m.student_id,
            "class_id": m.class_id,
            "session_id": m.session_id,
            "dedupe_key": f"{m.dedupe_key}:{r.user_id}" if m.dedupe_key else None,
            "created_at": created_at,
            "read_at": None,
        }
        for r, m in deliveries
    ]
    table = Notification.__table__
    stmt = insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    if any(row["dedupe_key"] for row in rows):
        inserted = set(db.session.execute(stmt.returning(table.c.id), rows).scalars().all())
    else:
        db.session.execute(stmt, rows)
        inserted = {row["id"] for row in rows}
    if outbox.mail_enabled():
        outbox.queue(
            [
                outbox.Email(
                    to=r.email,
                    subject=m.title,
                    body=_email_body(m),
                    notification_id=row["id"],
                    send_after=now + email_delay,
                )
                for (r, m), row in zip(deliveries, rows, strict=True)
                if row["id"] in inserted and r.email
            ]
        )
    recipients = {row["recipient_id"] for row in rows if row["id"] in inserted}
    if recipients:
        events.record(db.session, events.NotificationsChanged(tuple(sorted(recipients))))
    return [row["id"] for row in rows if row["id"] in inserted]


def _email_body(message: Message) -> str:
    base = current_app.config.get("PUBLIC_URL") or ""
    lines = [message.title, "", message.body] if message.body else [message.title]
    if base and message.link:
        lines += ["", f"Open it in Attendance: {base.rstrip('/')}{message.link}"]
    return "\n".join(lines).rstrip() + "\n"


def withdraw(where: Iterable[ColumnElement[bool]]) -> None:
    """Delete the notifications matching ``where`` and their emails not yet sent (an alert a
    correction undid). Joins the caller's transaction."""
    clauses = list(where)
    ids_and_recipients = db.session.execute(
        select(Notification.id, Notification.recipient_id).where(*clauses)
    ).all()
    if not ids_and_recipients:
        return
    ids = [i for i, _ in ids_and_recipients]
    db.session.execute(
        delete(OutboxEmail).where(
            OutboxEmail.notification_id.in_(ids), OutboxEmail.sent_at.is_(None)
        )
    )
    db.session.execute(delete(Notification).where(Notification.id.in_(ids)))
    recipients = sorted({r for _, r in ids_and_recipients})
    events.record(db.session, events.NotificationsChanged(tuple(recipients)))


# --- the bell -----------------------------------------------------------------------------


def unread_count(user_id: uuid.UUID) -> int:
    unread = db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == user_id, Notification.read_at.is_(None))
    )
    return unread or 0


def unread_counts(user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """{user id: unread} for several users in one query (0 for those with none)."""
    rows = db.session.execute(
        select(Notification.recipient_id, func.count())
        .where(Notification.recipient_id.in_(user_ids), Notification.read_at.is_(None))
        .group_by(Notification.recipient_id)
    )
    counts = dict.fromkeys(user_ids, 0)
    counts.update({uid: int(n) for uid, n in rows})
    return counts


def list_notifications(
    *, actor: User, page: int = 1, unread_only: bool = False
) -> Page[Notification]:
    """The actor's notifications, newest first, a page at a time (two queries)."""
    clauses = [Notification.recipient_id == actor.id]
    if unread_only:
        clauses.append(Notification.read_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(Notification).where(*clauses)) or 0
    page = clamp(page, total, PAGE_SIZE)
    items = db.session.scalars(
        select(Notification)
        .where(*clauses)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return Page(list(items), total, page, PAGE_SIZE)


def get_notification(*, actor: User, notification_id: uuid.UUID) -> Notification:
    """One of the actor's notifications; someone else's is NotFound, not Forbidden (it does
    not exist for them)."""
    item = db.session.get(Notification, notification_id)
    if item is None or item.recipient_id != actor.id:
        raise NotFound(NOTIFICATION_NOT_FOUND)
    return item


@unit_of_work
def mark_read(
    *, actor: User, notification_id: uuid.UUID, at: datetime | None = None
) -> Notification:
    """Mark one of the actor's notifications read (again is harmless). Raises NotFound."""
    item = get_notification(actor=actor, notification_id=notification_id)
    if item.read_at is None:
        item.read_at = at or utcnow()
        db.session.flush()
        events.record(db.session, events.NotificationsChanged((actor.id,)))
    return item


@unit_of_work
def mark_all_read(*, actor: User, at: datetime | None = None) -> int:
    """Mark every unread notification of the actor read; returns how many were unread."""
    changed = affected_rows(
        update(Notification)
        .where(Notification.recipient_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=at or utcnow())
    )
    if changed:
        events.record(db.session, events.NotificationsChanged((actor.id,)))
    return changed


def history_path(student_id: uuid.UUID) -> str:
    """The student's history page as a site-relative link. Built by hand, not with url_for,
    because emails are written outside any request (CLI, background sender)."""
    return f"/students/{student_id}/history"


def link_for(item: Notification) -> str:
    """Where a notification leads: the student's history, or home for a weekly summary."""
    return history_path(item.student_id) if item.student_id is not None else "/"
