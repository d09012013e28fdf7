"""A class's page, and the session lifecycle from the browser (create, start, end)."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from attendance_app.models import AttendanceStatus, Channel
from attendance_app.services.marking import bulk, roster, sessions
from attendance_app.services.reporting.statistics import statistics_for_sessions
from attendance_app.services.school import structure
from attendance_app.web import bp, current_actor

STARTED = "Session started: tap a student to mark them."


@bp.get("/classes/<uuid:class_id>")
@login_required
def class_page(class_id: uuid.UUID):
    """Sessions (past and upcoming) and enrolled students of a class."""
    school_class = structure.get_class_for(current_actor(), class_id)
    found = sessions.list_sessions(actor=current_actor(), class_id=class_id)
    return render_template(
        "classes/detail.html",
        school_class=school_class,
        sessions=found,
        stats=statistics_for_sessions([s.id for s in found]),
        students=structure.enrolled_students(class_id),
    )


@bp.post("/classes/<uuid:class_id>/sessions")
@login_required
def session_create(class_id: uuid.UUID):
    """Schedule a session; with ``start=1`` start it at once. Then open its roster."""
    result = sessions.create_session(actor=current_actor(), class_id=class_id)
    if request.form.get("start") == "1":
        sessions.start_session(actor=current_actor(), session_id=result.session.id)
        flash(STARTED, "success")
    return redirect(url_for("web.roster_page", session_id=result.session.id))


@bp.post("/sessions/<uuid:session_id>/start")
@login_required
def session_start(session_id: uuid.UUID):
    sessions.start_session(actor=current_actor(), session_id=session_id)
    flash(STARTED, "success")
    return redirect(url_for("web.roster_page", session_id=session_id))


@bp.get("/sessions/<uuid:session_id>/end")
@login_required
def session_end_confirm(session_id: uuid.UUID):
    """Ask before ending: the roster locks, and unmarked students are listed."""
    view = roster.session_roster(actor=current_actor(), session_id=session_id)
    return render_template("sessions/end.html", roster=view)


@bp.post("/sessions/<uuid:session_id>/end")
@login_required
def session_end(session_id: uuid.UUID):
    """End the session; ``unmarked=absent`` first marks every unmarked student ABSENT."""
    if request.form.get("unmarked") == "absent":
        bulk.end_session_marking_unmarked(
            actor=current_actor(),
            session_id=session_id,
            status=AttendanceStatus.ABSENT,
            channel=Channel.WEB,
        )
        flash("Unmarked students were marked absent and the session has ended.", "success")
    else:
        sessions.end_session(actor=current_actor(), session_id=session_id)
        flash("The session has ended; its attendance is locked.", "success")
    return redirect(url_for("web.roster_page", session_id=session_id))
