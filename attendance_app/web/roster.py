"""/sessions/<id>: the roster grid and its htmx endpoints (tap, bulk, notes)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from flask import current_app, render_template, request, url_for
from flask_login import login_required

from attendance_app.models import AttendanceStatus, Channel, status_word, utcnow
from attendance_app.services.errors import DomainError, Invalid
from attendance_app.services.marking import attendance, bulk, roster, taps
from attendance_app.services.marking.undo import NOTHING_TO_UNDO, undo_change
from attendance_app.shapes import NOT_AN_INTEGER, not_a_choice
from attendance_app.web import bp, current_actor, render_partial
from attendance_app.web.errors import error_response

# Stand for the ids in a URL built once (no row has these ids), in the order of its parts.
_STAND_INS = (uuid.UUID(int=1), uuid.UUID(int=0))


def _url_parts(endpoint: str, *names: str) -> tuple[str, ...]:
    """``endpoint``'s URL with ids for ``names`` as the literal parts between them:
    ``url_for`` runs once per app, endpoint and script root (the only part of a relative URL
    that is the request's)."""
    built: dict[tuple[str, str], tuple[str, ...]] = current_app.extensions.setdefault(
        "attendance.roster_urls", {}
    )
    key = (endpoint, request.script_root)
    parts = built.get(key)
    if parts is None:
        rest = url_for(endpoint, **dict(zip(names, _STAND_INS, strict=False)))
        pieces = []
        for stand_in in _STAND_INS[: len(names)]:
            head, _, rest = rest.partition(str(stand_in))
            pieces.append(head)
        parts = built[key] = (*pieces, rest)
    return parts


def tap_url(session_id: uuid.UUID, student_id: uuid.UUID) -> str:
    """A student's tap URL (``web.roster_set_status``), its ids formatted into the URL built
    once (a roster of 500 tiles built 500 URLs; a tap's answer one, ~45 Python calls)."""
    head, middle, tail = _url_parts("web.roster_set_status", "session_id", "student_id")
    return f"{head}{session_id}{middle}{student_id}{tail}"


def undo_url(session_id: uuid.UUID) -> str:
    """A session's Undo URL (``web.roster_undo``: every applied tap's answer has the button),
    built as :func:`tap_url` is."""
    head, tail = _url_parts("web.roster_undo", "session_id")
    return f"{head}{session_id}{tail}"


def _status_arg(name: str, form: Mapping[str, str] | None = None) -> AttendanceStatus | None:
    value = ((request.form if form is None else form).get(name) or "").upper()
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
    conflict: dict | None = None,
    change_id: uuid.UUID | None = None,
    http_status: int = 200,
    tile: roster.Tile | None = None,
):
    """The student's cell as the server has it (``tile``, when the action read it as it
    committed), the statistics out of band, an announcement."""
    if tile is None:
        tile = roster.tile(session, student_id)
    if tile is None:
        # Not on this roster (e.g. not enrolled: rule 4), so no cell to show it by.
        return error_response(
            http_status if error else 404, error or "Student is not on this roster."
        )
    row = tile.row
    html = render_partial(
        "sessions/_cell_update.html",
        session=session,
        row=row,
        stats=tile.statistics,
        error=error,
        conflict=conflict,
        change_id=change_id,
        history=tile.history,
        announce=(
            f"Not saved: {error}"
            if error
            else conflict["message"]
            if conflict
            else _announcement(row)
        ),
    )
    return html, http_status


def tile_answer(session, student_id: uuid.UUID, act: Callable[[], object]):
    """A tile's action (htmx) answered with the tile as the server now has it, and the rule's
    message beside it when a rule said no; a 403 or 404 stays the page's own answer."""
    try:
        act()
    except DomainError as err:
        if err.status_code in (403, 404):
            raise
        return _cell_response(session, student_id, error=err.message, http_status=err.status_code)
    return _cell_response(session, student_id)


def _announcement(row) -> str:
    user = row.student.user
    word = status_word(row.status)
    if row.record is not None and row.record.absence_reason is not None:
        word += ", excused"
    return f"{user.last_name}, {user.first_name}: {word}"


@bp.post("/sessions/<uuid:session_id>/students/<uuid:student_id>/status")
@login_required
def roster_set_status(session_id: uuid.UUID, student_id: uuid.UUID):
    """A tap: ``status`` sets it directly (P/A/L keys); otherwise the status moves one step
    on from ``seen``, the status the page showed (PRESENT → ABSENT → LATE → PRESENT)."""
    actor = current_actor()
    form = request.form  # one lookup for the four fields
    try:
        target = _status_arg("status", form) or attendance.next_status(_status_arg("seen", form))
        result = taps.set_status(
            actor=actor,
            session_id=session_id,
            student_id=student_id,
            status=target,
            channel=Channel.WEB,
            expected_version=_version_arg(form),
            idempotency_key=(form.get("key") or "").strip()[:64] or None,
        )
    except DomainError as err:
        if err.status_code in (403, 404):
            raise
        # A rule said no: show its message by the cell, which stays as the server has it.
        # The session is loaded here, not before the tap (which loads, locks and checks it
        # itself): a shape error on a missing or foreign session is still its 404 or 403.
        session = roster.get_session_for(actor, session_id)
        return _cell_response(session, student_id, error=err.message, http_status=err.status_code)
    conflict = None
    if result.outcome == taps.TapOutcome.STALE and result.row is not None:
        conflict = _conflict(result.row, target)
    return _cell_response(
        result.session,
        student_id,
        conflict=conflict,
        change_id=result.change_id,
        tile=result.tile,
    )


def _conflict(row, intended: AttendanceStatus) -> dict:
    """A tap refused because someone else changed the student meanwhile, in words: who, to
    what, when, and that the teacher's own change was not saved (the tile keeps it, with
    ``data-conflict``, until tapped again or dismissed)."""
    who = row.marked_by_name or "someone else"
    theirs = status_word(row.record.status)
    mine = status_word(intended)
    return {
        "intended": intended.value,
        "theirs": theirs,
        "mine": mine,
        "message": (
            f"Not saved: {who} changed this to {theirs} {ago(row.record.updated_at)}; "
            f"your {mine} was not applied."
        ),
    }


def _version_arg(form: Mapping[str, str]) -> int | None:
    """The record version the page showed (0 = not marked); None when not sent."""
    try:
        return int(form["version"])
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
    # The notes rules (a mark first, 2000 at most, no NUL) are the service's, as for the API;
    # the form trims what a text box adds around the note.
    return tile_answer(
        session,
        student_id,
        lambda: attendance.set_note(
            actor=actor,
            session_id=session_id,
            student_id=student_id,
            notes=(request.form.get("notes") or "").strip(),
            channel=Channel.WEB,
        ),
    )


@bp.post("/sessions/<uuid:session_id>/students/<uuid:student_id>/late-minutes")
@login_required
def roster_late_minutes(session_id: uuid.UUID, student_id: uuid.UUID):
    """Correct a LATE student's minutes late (the tile's menu); the bounds are the service's."""
    actor = current_actor()
    session = roster.get_session_for(actor, session_id)

    def correct() -> None:
        text = (request.form.get("minutes") or "").strip()
        if not text.lstrip("-").isdigit():
            raise Invalid(NOT_AN_INTEGER, field="minutes")
        attendance.set_student_minutes_late(
            actor=actor,
            session_id=session_id,
            student_id=student_id,
            minutes=int(text),
            channel=Channel.WEB,
        )

    return tile_answer(session, student_id, correct)


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
    word = status_word(status).lower()
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
    return render_template(
        "sessions/_grid_update.html",
        roster=view,
        announce=_undone_text(view, result.student_ids),
        undo=None,
    )


def _undone_text(view, student_ids: list[uuid.UUID]) -> str:
    """Who the undo put back, and to what: "Undone: Okafor, Amara is Not marked again." or
    "Undone for 6 students: Okafor, Amara; Lindqvist, Benjamin; Durand, Chloé and 3 more
    are Not marked again." (a bulk action's students all go back to one state)."""
    rows = [r for r in view.rows if r.student.id in set(student_ids)]
    if not rows:
        return "Undone."
    names = [f"{r.student.user.last_name}, {r.student.user.first_name}" for r in rows]
    words = {status_word(r.status) for r in rows}
    back = words.pop() if len(words) == 1 else "as they were"
    if len(rows) == 1:
        return f"Undone: {names[0]} is {back} again."
    shown = "; ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"Undone for {len(rows)} students: {shown} are {back} again."


def _uuid_arg(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.form.get(name) or "")
    except ValueError:
        return None
