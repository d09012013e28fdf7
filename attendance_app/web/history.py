"""/students/<id>/history: a student's figures (overall and per class), records and chart,
written for the student and their parent as much as for staff."""

from __future__ import annotations

import uuid

from flask import render_template
from flask_login import current_user, login_required

from attendance_app.models import Role
from attendance_app.services.errors import Forbidden, Invalid
from attendance_app.services.reporting import analytics, risk
from attendance_app.services.reporting.history import (
    HistoryFilters,
    check_period,
    rate_over_time,
)
from attendance_app.services.reporting.history import student_history as load_history
from attendance_app.services.school import structure
from attendance_app.web import bp
from attendance_app.web.args import date_arg, status_arg, uuid_arg

#: Which records the overall figures cover, as the page says it (by who reads it).
FIGURES_SCOPE = {
    Role.ADMIN: "across all their classes",
    Role.TEACHER: "in your classes",
    Role.STUDENT: "across all your classes",
}
NO_FIGURES = "Figures and risk are shown only for students enrolled in one of your classes."
FIX_THE_PERIOD = "No lessons are listed until the dates are fixed."


def _filters(problems: list[str]) -> HistoryFilters:
    subject_id = uuid_arg("subject_id", "subject", problems)
    status = status_arg(problems)
    return HistoryFilters(
        date_from=date_arg("date_from", "From", problems),
        date_to=date_arg("date_to", "To", problems),
        subject_id=subject_id,
        status=status,
    )


def _export_args(student_id: uuid.UUID, filters: HistoryFilters) -> dict[str, str]:
    """The CSV download's arguments: this student's records under the page's filters."""
    values = {
        "student_id": student_id,
        "subject_id": filters.subject_id,
        "status": filters.status.value if filters.status else None,
        "date_from": filters.date_from,
        "date_to": filters.date_to,
    }
    return {key: str(value) for key, value in values.items() if value}


@bp.get("/students/<uuid:student_id>/history")
@login_required
def student_history(student_id: uuid.UUID):
    """Visible to the student themself, their teachers and admins (others: 403)."""
    problems: list[str] = []
    filters = _filters(problems)
    actor = current_user._get_current_object()
    history = load_history(actor=actor, student_id=student_id, filters=filters)
    try:
        check_period(filters.date_from, filters.date_to)
    except Invalid as exc:
        problems.append(exc.message)
        reversed_period = True
    else:
        reversed_period = False
    try:
        figures = analytics.student_analytics(actor=actor, student_id=student_id).figures
        by_class = analytics.student_class_figures(actor=actor, student_id=student_id)
    except Forbidden:
        # A teacher may read the records a former student left in their classes, but figures
        # are only for students enrolled in one of them (the contract's analytics rule).
        figures, by_class = None, []
    own = actor.student is not None and actor.student.id == student_id
    return render_template(
        "students/history.html",
        history=history,
        filters=filters,
        filtered=any((filters.date_from, filters.date_to, filters.subject_id, filters.status)),
        reversed_period=reversed_period,
        fix_the_period=FIX_THE_PERIOD,
        problems=problems,
        subjects=structure.list_subjects(),
        chart=rate_over_time(history.records),
        figures=figures,
        by_class=by_class,
        figures_scope=FIGURES_SCOPE[actor.role],
        no_figures=NO_FIGURES,
        thresholds=risk.Thresholds.from_config(),
        own=own,
        staff=actor.role in (Role.ADMIN, Role.TEACHER),
        export_args=_export_args(student_id, filters),
    )
