"""Self check-in pages: the projector's rotating code (teacher, admin) and the student's tap."""

from __future__ import annotations

import uuid

import segno
from flask import current_app, redirect, render_template, request, url_for
from flask_login import login_required
from markupsafe import Markup

from attendance_app.services.errors import DomainError, Forbidden, Invalid
from attendance_app.services.marking import check_in
from attendance_app.services.reporting.statistics import session_statistics
from attendance_app.web import bp, current_actor
from attendance_app.web.args import parse_uuid

#: Shape messages of the student's form (the rules' messages come from the service).
CHOOSE_LESSON = "Choose the lesson you are checking in to."
TYPE_THE_CODE = "Type the 6-digit code shown in the room."


def _site() -> str:
    """The address students reach the site at: PUBLIC_URL, else the one the page was asked by."""
    return (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")


def student_url(session_id: uuid.UUID, code: str) -> str:
    """The student's page pre-filled with the session and code (what the QR code holds)."""
    return _site() + url_for("web.check_in_page", session=str(session_id), code=code)


def qr_svg(url: str) -> Markup:
    """``url`` as an inline SVG QR code (segno; no script, no style attribute: CSP-safe)."""
    svg = segno.make(url, error="m").svg_inline(
        scale=1, border=2, dark="#000", light="#fff", omitsize=True, svgclass="qr-code"
    )
    return Markup(svg)


def _panel_context(shown: check_in.CheckInCode) -> dict:
    url = student_url(shown.session.id, shown.code)
    return {
        "shown": shown,
        "student_url": url,
        "qr": qr_svg(url),
        "check_in_address": _site() + url_for("web.check_in_page"),
    }


@bp.get("/sessions/<uuid:session_id>/check-in-code")
@login_required
def check_in_code_page(session_id: uuid.UUID):
    """The projector page: the current code very large, its QR code, a countdown to the next
    code and how many students have checked in, all kept current live."""
    try:
        shown = check_in.check_in_code(actor=current_actor(), session_id=session_id)
    except Invalid as err:
        # Not ACTIVE (rule 1): say so, with the way back to the roster.
        return render_template(
            "check_in/code.html", session_id=session_id, error=err.message, shown=None
        ), err.status_code
    return render_template(
        "check_in/code.html",
        session_id=session_id,
        error=None,
        statistics=session_statistics(shown.session),
        **_panel_context(shown),
    )


@bp.get("/sessions/<uuid:session_id>/check-in-code/panel")
@login_required
def check_in_code_panel(session_id: uuid.UUID):
    """The projector's code panel as it is now (the page's script swaps it in when the
    countdown ends and after each change to the session's attendance)."""
    try:
        shown = check_in.check_in_code(actor=current_actor(), session_id=session_id)
    except Invalid as err:
        return render_template(
            "check_in/_panel_update.html", shown=None, error=err.message
        ), err.status_code
    return render_template("check_in/_panel_update.html", error=None, **_panel_context(shown))


@bp.route("/check-in", methods=["GET", "POST"])
@login_required
def check_in_page():
    """A student's check-in: the code pre-filled from the QR code (or typed), one tap."""
    actor = current_actor()
    try:
        options = check_in.check_in_options(actor=actor)
    except Forbidden:
        return render_template("check_in/student.html", not_a_student=True), 403
    source = request.form if request.method == "POST" else request.args
    session_id = parse_uuid(source.get("session"))
    code = (source.get("code") or "").strip()[:32]
    chosen = next((o for o in options if o.session.id == session_id), None)
    if session_id is None and len(options) == 1:
        chosen = options[0]
        session_id = chosen.session.id
    page = {
        "options": options,
        "chosen": chosen,
        "session_id": session_id,
        "code": code,
        "error": None,
        "field": None,
    }
    if request.method == "GET":
        return render_template("check_in/student.html", **page)
    if session_id is None:
        page.update(error=CHOOSE_LESSON, field="session")
    elif not code:
        page.update(error=TYPE_THE_CODE, field="code")
    else:
        try:
            check_in.check_in(actor=actor, session_id=session_id, code=code)
        except DomainError as err:
            page.update(error=err.message, field=err.field, status=err.status_code)
            if err.field == "code":
                page["code"] = ""  # a wrong or expired code: type the one shown now
            return render_template("check_in/student.html", **page), err.status_code
        # Post/redirect/get: the page then shows the mark as the server has it.
        return redirect(url_for("web.check_in_page", session=str(session_id)), code=303)
    return render_template("check_in/student.html", **page), 400
