"""/sessions/<id>: the roster grid and its htmx endpoints (tap, bulk, notes)."""

from __future__ import annotations

import uuid

from flask import render_template, request
from flask_login import login_required

from attendance_app.models import AttendanceStatus, Channel, utcnow
from attendance_app.services.errors import DomainError, Invalid
from attendance_app.services.marking import attendance, bulk, roster, taps
from attendance_app.services.marking.undo import NOTHING_TO_UNDO, undo_change
from attendance_app.services.reporting.statistics import session_statistics
from attendance_app.shapes import not_a_choice
from attendance_app.web import bp, current_actor
from attendance_app.web.errors import error_response

_STATUS_WORDS = {"PRESENT": "Present", "ABSENT": "Absent", "LATE": "Late"}


def _status_arg(name: str) -> AttendanceStatus | None:
    value = (request.form.get(name) or "").upper()
    if value == "":
        return None
    if value not in AttendanceStatus.__members__:
        raise Invalid(not_a_choice(value), field=name)
    return AttendanceStatus(value)


@bp.get("/sessions/<uuid:session_id>")
@login_required
def roster_page(session_id: uuid.UUID):
    """The roster of a session for its teacher or an admin."""
    view = roster.session_roster(actor=current_actor(), session_id=session_id)
    return render_template("sessions/roster.html", roster=view)


@bp.get("/sessions/<uuid:session_id>/grid")
@login_required
def roster_grid(session_id: uuid.UUID):
    """The whole grid and statistics as the server has them now: a page that reconnects
    resynchronises from this (the ``X-Live-Seq`` header says which change it includes)."""
    view = roster.session_roster(actor=current_actor(), session_id=session_id)
    html = render_template("sessions/_grid_update.html", roster=view, announce="")
    return html, 200, {"X-Live-Seq": str(view.session.live_seq)}


def _cell_response(
    session,
    student_id: uuid.UUID,
    *,
    error: str | None = None,
    notice: str | None = None,
    change_id: uuid.UUID | None = None,
    http_status: int = 200,
):
    """The student's cell as the server has it, the statistics out of band, an announcement."""
    row = roster.roster_row(session, student_id)
    if row is None:
        # Not on this roster (e.g. not enrolled: rule 4), so no cell to show it by.
        return error_response(
            http_status if error else 404, error or "Student is not on this roster."
        )
    html = render_template(
        "sessions/_cell_update.html",
        session=session,
        row=row,
        stats=session_statistics(session),
        error=error,
        notice=notice,
        change_id=change_id,
        history=roster.mini_histories(session, [student_id]).get(student_id),
        announce=(
            f"Not saved: {error}"
            if error
            else f"Not changed: {notice}"
            if notice
            else _announcement(row)
        ),
    )
    return html, http_status


def _announcement(row) -> str:
    user = row.student.user
    word = _STATUS_WORDS.get(row.status.value if row.status else "", "Not marked")
    if row.record is not None and row.record.absence_reason is not None:
        word += ", excused"
    return f"{user.last_name}, {user.first_name}: {word}"


@bp.post("/sessions/<uuid:session_id>/students/<uuid:student_id>/status")
@login_required
def roster_set_status(session_id: uuid.UUID, student_id: uuid.UUID):
    """A tap: ``status`` sets it directly (P/A/L keys); otherwise the status moves one step
    on from ``seen``, the status the page showed (PRESENT → ABSENT → LATE → PRESENT)."""
    actor = current_actor()
    session = roster.get_session_for(actor, session_id)
    try:
        target = _status_arg("status") or attendance.next_status(_status_arg("seen"))
        result = taps.set_status(
            actor=actor,
            session_id=session_id,
            student_id=student_id,
            status=target,
            channel=Channel.WEB,
            expected_version=_version_arg(),
            idempotency_key=(request.form.get("key") or "").strip()[:64] or None,
        )
    except DomainError as err:
        if err.status_code in (403, 404):
            raise
        # A rule said no: show its message by the cell, which stays as the server has it.
        return _cell_response(session, student_id, error=err.message, http_status=err.status_code)
    notice = None
    change_id = result.change_id
    if result.outcome == taps.TapOutcome.STALE and result.row is not None:
        notice = f"Changed by {result.row.marked_by_name or 'someone else'} " + ago(
            result.row.record.updated_at
        )
    return _cell_response(result.session, student_id, notice=notice, change_id=change_id)


def _version_arg() -> int | None:
    """The record version the page showed (0 = not marked); None when not sent."""
    try:
        return int(request.form["version"])
    except (KeyError, ValueError):
        return None


def ago(when) -> str:
    """ "3 s ago", "2 min ago", "1 h ago"."""
    seconds = max(0, int((utcnow() - when).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


@bp.post("/sessions/<uuid:session_id>/students/<uuid:student_id>/notes")
@login_required
def roster_notes(session_id: uuid.UUID, student_id: uuid.UUID):
    """Save a marked student's note (e.g. "arrived 10 minutes late")."""
    actor = current_actor()
    session = roster.get_session_for(actor, session_id)
    row = roster.roster_row(session, student_id)
    if row is None:
        raise Invalid("Student is not on this roster.")
    # NUL dropped: PostgreSQL refuses it in text (the API's schema rejects it likewise).
    notes = (request.form.get("notes") or "").replace("\x00", "").strip()[:2000]
    try:
        if row.record is None:
            raise Invalid("Mark the student before adding a note.", field="notes")
        attendance.update_attendance(
            actor=actor, attendance_id=row.record.id, notes=notes, channel=Channel.WEB
        )
    except DomainError as err:
        if err.status_code in (403, 404):
            raise
        return _cell_response(session, student_id, error=err.message, http_status=err.status_code)
    return _cell_response(session, student_id)


@bp.post("/sessions/<uuid:session_id>/mark-unmarked")
@login_required
def roster_mark_unmarked(session_id: uuid.UUID):
    """Give every unmarked student ``status`` (PRESENT or ABSENT); never overwrites a tap."""
    actor = current_actor()
    status = _status_arg("status") or AttendanceStatus.PRESENT
    result = bulk.mark_unmarked(
        actor=actor, session_id=session_id, default_status=status, channel=Channel.WEB
    )
    view = roster.session_roster(actor=actor, session_id=session_id)
    word = _STATUS_WORDS[status.value].lower()
    template = {"roster": view, "announce": f"{result.count} unmarked students marked {word}"}
    if result.group_id is not None:
        template["undo"] = result.group_id
    return render_template("sessions/_grid_update.html", **template)


@bp.post("/sessions/<uuid:session_id>/undo")
@login_required
def roster_undo(session_id: uuid.UUID):
    """Undo the last tap (``change``) or bulk action (``group``); the grid as it is now."""
    actor = current_actor()
    change_id, group_id = _uuid_arg("change"), _uuid_arg("group")
    if change_id is None and group_id is None:
        raise Invalid(NOTHING_TO_UNDO)
    result = undo_change(
        actor=actor,
        session_id=session_id,
        change_id=change_id,
        group_id=group_id,
        channel=Channel.WEB,
    )
    view = roster.session_roster(actor=actor, session_id=session_id)
    count = len(result.student_ids)
    return render_template(
        "sessions/_grid_update.html",
        roster=view,
        announce=f"Undone ({count} student{'s' if count != 1 else ''})",
        undo=None,
    )


def _uuid_arg(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.form.get(name) or "")
    except ValueError:
        return None
