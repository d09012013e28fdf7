"""/: each role's home."""

from __future__ import annotations

from datetime import timedelta

from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from attendance_app.models import Role, utcnow
from attendance_app.services.marking import sessions
from attendance_app.services.reporting import analytics
from attendance_app.services.reporting.statistics import statistics_for_sessions
from attendance_app.services.school import structure
from attendance_app.web import bp
from attendance_app.web.dashboard import render_dashboard


@bp.get("/")
@login_required
def home():
    """Students go to their history; admins see the dashboard; teachers, today's sessions
    and classes."""
    actor = current_user._get_current_object()
    if actor.role == Role.STUDENT:
        return redirect(url_for("web.student_history", student_id=actor.student.id))
    if actor.role == Role.ADMIN:
        return render_dashboard()
    now = utcnow()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = sessions.sessions_overview(
        actor=actor, day_start=day_start, day_end=day_start + timedelta(days=1)
    )
    classes = structure.list_classes(actor=actor)
    class_ids = [c.id for c in classes]
    return render_template(
        "home/index.html",
        today=today,
        stats=statistics_for_sessions([s.id for s in today]),
        classes=classes,
        enrolled=structure.enrolled_counts(class_ids),
        at_risk=analytics.risk_counts(actor=actor, class_ids=class_ids),
    )
