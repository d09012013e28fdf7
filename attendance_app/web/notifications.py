"""/notifications and the bell in every page's header (its count is kept live by bell.js)."""

from __future__ import annotations

import uuid

from flask import jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from attendance_app.models import Role
from attendance_app.services.notifying import notifications, outbox
from attendance_app.web import bp, current_actor, is_htmx
from attendance_app.web.args import page_arg


@bp.app_context_processor
def _bell() -> dict:
    """Every full page's header shows the unread count. A function, so the COUNT query runs
    only where base.html calls it, never for an htmx partial (a roster tap stays lean)."""
    return {"unread_notifications": lambda: notifications.unread_count(current_user.id)}


@bp.get("/notifications")
@login_required
def notification_list():
    """The actor's notifications, newest first; unread ones stand out."""
    unread_only = request.args.get("unread") == "1"
    found = notifications.list_notifications(
        actor=current_actor(), page=page_arg(), unread_only=unread_only
    )
    actor = current_actor()
    mail = outbox.health() if actor.role == Role.ADMIN and outbox.mail_enabled() else None
    return render_template(
        "notifications/index.html",
        found=found,
        unread=notifications.unread_count(actor.id),
        unread_only=unread_only,
        link_for=notifications.link_for,
        mail=mail,
    )


@bp.get("/notifications/count")
@login_required
def notification_count():
    """The bell's resynchronisation after a reconnect: {"unread": n}."""
    return jsonify(unread=notifications.unread_count(current_actor().id))


@bp.post("/notifications/<uuid:notification_id>/open")
@login_required
def notification_open(notification_id: uuid.UUID):
    """Mark it read and go where it points."""
    item = notifications.mark_read(actor=current_actor(), notification_id=notification_id)
    return redirect(notifications.link_for(item), code=303)


@bp.post("/notifications/<uuid:notification_id>/read")
@login_required
def notification_read(notification_id: uuid.UUID):
    """Mark one read; htmx swaps the item in place."""
    item = notifications.mark_read(actor=current_actor(), notification_id=notification_id)
    if is_htmx():
        return render_template(
            "notifications/_item.html", item=item, link_for=notifications.link_for
        )
    return redirect(url_for("web.notification_list"), code=303)


@bp.post("/notifications/read-all")
@login_required
def notification_read_all():
    notifications.mark_all_read(actor=current_actor())
    return redirect(url_for("web.notification_list"), code=303)
