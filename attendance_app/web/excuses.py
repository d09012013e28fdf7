"""Excusing an absence from the pages: the roster's tiles (htmx, the tile comes back), and a
student's history, the admin's records list and a record's page (a form, then back)."""

from __future__ import annotations

import uuid

from flask import flash, redirect, request, url_for
from flask_login import login_required

from attendance_app.models import AbsenceReason, Channel
from attendance_app.services.errors import DomainError, Invalid
from attendance_app.services.marking import excuses, roster
from attendance_app.shapes import REQUIRED, not_a_choice
from attendance_app.web import bp, current_actor
from attendance_app.web.auth import _safe_next
from attendance_app.web.roster import _cell_response, tile_answer

NOT_MARKED = "Mark the student before excusing them."


def _reason() -> AbsenceReason:
    value = (request.form.get("reason") or "").strip().upper()
    if not value:
        raise Invalid(REQUIRED, field="reason")
    if value not in AbsenceReason.__members__:
        raise Invalid(not_a_choice(value), field="reason")
    return AbsenceReason(value)


def _note() -> str:
    return (request.form.get("note") or "").replace("\x00", "")


def _back(record_id: uuid.UUID):
    fallback = url_for("web.admin_record", record_id=record_id)
    target = request.form.get("next")
    return redirect(_safe_next(target) if target else fallback)


@bp.post("/attendance/<uuid:record_id>/excuse")
@login_required
def excuse_record(record_id: uuid.UUID):
    """Excuse a record (reason + optional note), also of an ENDED session; back to ``next``.
    A rule's refusal is flashed; a stranger's record is 403, an unknown one 404."""
    try:
        result = excuses.excuse_absence(
            actor=current_actor(),
            attendance_id=record_id,
            reason=_reason(),
            note=_note(),
            channel=Channel.WEB,
        )
    except DomainError as err:
        if err.status_code in (403, 404):
            raise
        flash(err.message, "error")
        return _back(record_id)
    flash(f"{result.message}: {result.row.student.user.full_name}.", "success")
    return _back(record_id)


@bp.post("/attendance/<uuid:record_id>/excuse/withdraw")
@login_required
def withdraw_record_excuse(record_id: uuid.UUID):
    """Withdraw a record's excuse; back to ``next``."""
    result = excuses.withdraw_excuse(
        actor=current_actor(), attendance_id=record_id, channel=Channel.WEB
    )
    flash(f"{result.message}: {result.row.student.user.full_name}.", "success")
    return _back(record_id)


def _roster_record(session_id: uuid.UUID, student_id: uuid.UUID):
    session = roster.get_session_for(current_actor(), session_id)
    row = roster.roster_row(session, student_id)
    if row is None:
        raise Invalid("Student is not on this roster.")
    return session, row


@bp.post("/sessions/<uuid:session_id>/students/<uuid:student_id>/excuse")
@login_required
def roster_excuse(session_id: uuid.UUID, student_id: uuid.UUID):
    """The tile's excuse (htmx): the tile comes back excused, or with the rule's message."""
    session, row = _roster_record(session_id, student_id)

    def excuse() -> None:
        if row.record is None:
            raise Invalid(NOT_MARKED)
        excuses.excuse_absence(
            actor=current_actor(),
            attendance_id=row.record.id,
            reason=_reason(),
            note=_note(),
            channel=Channel.WEB,
        )

    return tile_answer(session, student_id, excuse)


@bp.post("/sessions/<uuid:session_id>/students/<uuid:student_id>/excuse/withdraw")
@login_required
def roster_excuse_withdraw(session_id: uuid.UUID, student_id: uuid.UUID):
    """Withdraw the tile's excuse (htmx)."""
    session, row = _roster_record(session_id, student_id)
    if row.record is not None:
        excuses.withdraw_excuse(
            actor=current_actor(), attendance_id=row.record.id, channel=Channel.WEB
        )
    return _cell_response(session, student_id)
