"""The admin dashboard: / for admins, and its roll board as an htmx partial."""

from __future__ import annotations

from datetime import date

from flask import render_template, request
from flask_login import login_required

from attendance_app.models import utcnow
from attendance_app.services.errors import Invalid
from attendance_app.services.reporting.dashboard import (
    QUIET_AFTER_MINUTES,
    default_period,
    roll_board,
    school_dashboard,
)
from attendance_app.web import bp, current_actor


def _period(problems: list[str]) -> tuple[date, date]:
    """date_from/date_to from the query string (YYYY-MM-DD); a bad or missing value takes
    the default (the last 30 days) and a bad one says so."""
    default_from, default_to = default_period()
    out = []
    for name, default in (("date_from", default_from), ("date_to", default_to)):
        value = request.args.get(name, "").strip()
        try:
            out.append(date.fromisoformat(value) if value else default)
        except ValueError:
            problems.append(f"{name.replace('_', ' ').capitalize()}: use YYYY-MM-DD.")
            out.append(default)
    return out[0], out[1]


def _load(problems: list[str]):
    date_from, date_to = _period(problems)
    try:
        return school_dashboard(actor=current_actor(), date_from=date_from, date_to=date_to)
    except Invalid as exc:
        problems.append(exc.message)
        date_from, date_to = default_period()
        return school_dashboard(actor=current_actor(), date_from=date_from, date_to=date_to)


def render_dashboard():
    """The whole page (called by the home view for admins)."""
    problems: list[str] = []
    data = _load(problems)
    return render_template(
        "admin/dashboard.html",
        dash=data,
        problems=problems,
        now=utcnow(),
        quiet_after=QUIET_AFTER_MINUTES,
    )


@bp.get("/dashboard/board")
@login_required
def dashboard_board():
    """The roll board alone (dashboard.js reloads it when a session starts or ends)."""
    return render_template(
        "admin/_board_update.html",
        active=roll_board(actor=current_actor()),
        now=utcnow(),
        quiet_after=QUIET_AFTER_MINUTES,
    )
