"""The HTML edge: pages and htmx partials over the same services as the API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, request

bp = Blueprint("web", __name__)


def current_actor():
    """The logged-in user as the plain User object the services take."""
    from flask_login import current_user

    return current_user._get_current_object()


def is_htmx() -> bool:
    """True for a request htmx made (it sends ``HX-Request: true``)."""
    return request.headers.get("HX-Request") == "true"


def render_partial(template_name: str, **context: Any) -> str:
    """An htmx partial rendered with exactly ``context``: not the page's context (no context
    processors, whose user, CSRF and bell values a partial's macros never see: they take
    explicit arguments), nor Flask's render signals (nothing listens). What they cost was
    ~110 of a roster tap's ~6,000 Python calls."""
    return current_app.jinja_env.get_template(template_name).render(context)


def init_app(app: Flask) -> None:
    from attendance_app.extensions import login_manager
    from attendance_app.services.school.people import load_user_for_login
    from attendance_app.web import errors, security

    login_manager.user_loader(load_user_for_login)
    login_manager.login_view = "web.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    # "basic": a tablet that moves between wifi access points changes IP; "strong" would
    # log the teacher out mid-lesson.
    login_manager.session_protection = "basic"
    errors.register(app)
    security.init_app(app)
    auth.init_app(app)
    from attendance_app.services.clock import school_time, spoken
    from attendance_app.services.reporting.statistics import rate_text

    # Times for people, in the school's zone: {{ dt|school_time }}, {{ dt|spoken }}.
    app.jinja_env.filters["school_time"] = school_time
    app.jinja_env.filters["spoken"] = spoken
    # Rates as every page writes them: {{ figures.attendance_rate|rate }}% → "75.0%".
    app.jinja_env.filters["rate"] = rate_text
    from attendance_app.models import STATUS_WORDS, status_word
    from attendance_app.services.marking.sessions import is_markable

    # Status words ({{ status|status_word }}) and "can this session be marked now", one source each.
    app.jinja_env.filters["status_word"] = status_word
    app.jinja_env.globals["STATUS_WORDS"] = STATUS_WORDS
    app.jinja_env.globals["is_markable"] = is_markable
    from attendance_app.services.fields import NOTES_MAX

    app.jinja_env.globals["notes_max"] = NOTES_MAX
    from attendance_app.services.marking.excuses import EXCUSABLE, REASON_WORDS

    # Excuses (templates/_macros/excuse.html): the reasons in their order, with their words.
    app.jinja_env.globals["absence_reasons"] = list(REASON_WORDS.items())
    app.jinja_env.globals["excusable"] = [s.value for s in EXCUSABLE]
    # The roster's tiles: a tap URL per student without a url_for per student; the Undo URL.
    app.jinja_env.globals["tap_url"] = roster.tap_url
    app.jinja_env.globals["undo_url"] = roster.undo_url
    app.register_blueprint(bp)


from attendance_app.web import (  # noqa: E402,F401
    account,
    analytics,
    auth,
    backoffice,
    check_in,
    classes,
    excuses,
    history,
    home,
    notifications,
    records,
    roster,
    school_admin,
)
