"""/students/<id>/history: a student's statistics, filters, records and chart."""

from __future__ import annotations

import uuid
from datetime import date

from flask import render_template, request
from flask_login import current_user, login_required

from attendance_app.models import AttendanceStatus, Role
from attendance_app.services.errors import Forbidden
from attendance_app.services.reporting import analytics, risk
from attendance_app.services.reporting.history import HistoryFilters, rate_over_time
from attendance_app.services.reporting.history import student_history as load_history
from attendance_app.services.school import structure
from attendance_app.web import bp

#: Which records the figures panel covers, as the page says it.
FIGURES_SCOPE = {
    Role.ADMIN: "over all their records",
    Role.TEACHER: "in your classes",
    Role.STUDENT: "over all your records",
}
NO_FIGURES = "Figures and risk are shown only for students enrolled in one of your classes."


def _date(name: str, problems: list[str]) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"{name.replace('_', ' ').capitalize()}: use YYYY-MM-DD.")
        return None


def _filters(problems: list[str]) -> HistoryFilters:
    status = request.args.get("status", "").upper()
    subject = request.args.get("subject_id", "").strip()
    subject_id = None
    if subject:
        try:
            subject_id = uuid.UUID(subject)
        except ValueError:
            problems.append("Unknown subject.")
    if status and status not in AttendanceStatus.__members__:
        problems.append("Unknown status.")
        status = ""
    return HistoryFilters(
        date_from=_date("date_from", problems),
        date_to=_date("date_to", problems),
        subject_id=subject_id,
        status=AttendanceStatus(status) if status else None,
    )


@bp.get("/students/<uuid:student_id>/history")
@login_required
def student_history(student_id: uuid.UUID):
    """Visible to the student themself, their teachers and admins (others: 403)."""
    problems: list[str] = []
    filters = _filters(problems)
    actor = current_user._get_current_object()
    history = load_history(actor=actor, student_id=student_id, filters=filters)
    try:
        figures = analytics.student_analytics(actor=actor, student_id=student_id).figures
    except Forbidden:
        # A teacher may read the records a former student left in their classes, but figures
        # are only for students enrolled in one of them (the contract's analytics rule).
        figures = None
    return render_template(
        "students/history.html",
        history=history,
        filters=filters,
        problems=problems,
        subjects=structure.list_subjects(),
        chart=rate_over_time(history.records),
        figures=figures,
        figures_scope=FIGURES_SCOPE[actor.role],
        no_figures=NO_FIGURES,
        thresholds=risk.Thresholds.from_config(),
    )
