"""/api/notifications/…: the bell for outside clients (alerts, attendance notices, weekly
summaries). Not part of the contract; the same service as the /notifications page."""

from __future__ import annotations

import uuid

from flask import jsonify

from attendance_app.api import actor, bp
from attendance_app.api.auth import query_args
from attendance_app.api.schemas import NotificationListQuery
from attendance_app.models import Notification
from attendance_app.models.base import iso
from attendance_app.services.notifying import notifications


def notification_body(item: Notification) -> dict:
    return {
        "id": str(item.id),
        "kind": item.kind.value,
        "title": item.title,
        "body": item.body,
        "student_id": str(item.student_id) if item.student_id else None,
        "class_id": str(item.class_id) if item.class_id else None,
        "session_id": str(item.session_id) if item.session_id else None,
        "link": notifications.link_for(item),
        "created_at": iso(item.created_at),
        "read_at": iso(item.read_at),
    }


#: Made once: a schema deep-copies its fields when made, and loading keeps no state on it.
_NOTIFICATION_LIST_QUERY = NotificationListQuery()


@bp.get("/notifications/")
def notification_list():
    """The caller's notifications, newest first, 50 a page.
    ---
    get:
      tags: [notifications]
      summary: My notifications
      description: |
        `kind` is `ALERT` (a student of yours crossed into high risk, or missed
        `ALERT_ABSENCE_STREAK` sessions in a row, in a class; teachers of the class and
        admins), `DIGEST` (a student's absence or lateness, once the session ended) or
        `WEEKLY` (a teacher's weekly summary). `student_id` and `class_id` are UUIDs; `link`
        is the page it points to. Live: the Socket.IO event `notifications` `{"unread": n}`
        reaches the user's connections whenever the unread count changes.
      parameters:
        - {in: query, name: unread, schema: {type: boolean}, description: only unread ones}
        - {in: query, name: page, schema: {type: integer, minimum: 1}}
      responses:
        200: {description: "count, unread, page, pages and results"}
        400: {description: "Bad unread or page"}
    """
    args = _NOTIFICATION_LIST_QUERY.load(query_args())
    user = actor()
    found = notifications.list_notifications(
        actor=user, page=args["page"], unread_only=args["unread"]
    )
    return jsonify(
        count=found.total,
        unread=notifications.unread_count(user.id),
        page=found.page,
        pages=found.pages,
        results=[notification_body(item) for item in found.items],
    )


@bp.post("/notifications/<uuid:notification_id>/read/")
def notification_read(notification_id: uuid.UUID):
    """Mark one of the caller's notifications read (again is harmless).
    ---
    post:
      tags: [notifications]
      summary: Mark a notification read
      parameters:
        - {in: path, name: notification_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200: {description: The notification.}
        404: {description: "Not found (someone else's notification does not exist for you)"}
    """
    item = notifications.mark_read(actor=actor(), notification_id=notification_id)
    return jsonify(notification_body(item))


@bp.post("/notifications/read-all/")
def notification_read_all():
    """Mark every unread notification of the caller read.
    ---
    post:
      tags: [notifications]
      summary: Mark all notifications read
      responses:
        200: {description: "marked: how many were unread"}
    """
    return jsonify(marked=notifications.mark_all_read(actor=actor()))
