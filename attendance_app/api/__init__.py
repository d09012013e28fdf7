"""The JSON API edge: parse → call one service → dump, under /api/."""

from __future__ import annotations

from flask import Blueprint, Flask, g, request

bp = Blueprint("api", __name__, url_prefix="/api")

#: Endpoints that need no authentication (the token exchange itself, the API docs).
PUBLIC_ENDPOINTS = {"api.token_create", "api.openapi_json"}


@bp.before_request
def _authenticate():
    found = g._get_current_object()
    found.actor = None
    if request.endpoint in PUBLIC_ENDPOINTS and request.method != "DELETE":
        found.caller = None
        return
    found.caller = authenticate_request()


def actor():
    """The authenticated user of this API request, in the request's session (made there on
    first use: a copy of the kept user costs ~130 Python calls, which reads that only ask
    who is calling need not pay — :func:`reader`)."""
    found = g._get_current_object()  # one context lookup, not one per attribute
    user = found.actor
    if user is None and found.caller is not None:
        user = found.actor = identities.attached(found.caller)
    return user


def reader():
    """The authenticated user of this API request for a call that only asks who it is
    (its id, role, name and profile, as permissions do): perhaps the process's kept entity,
    outside every session. Never change it or hand it to the session. The writes that take
    it (a single mark, a correction: ``mark_attendance``, ``update_attendance``) read those
    attributes and write only ids, with Core statements; a write that builds ORM entities
    related to the actor takes :func:`actor`."""
    return g.caller


from attendance_app.api import (  # noqa: E402,F401
    analytics,
    attendance,
    exports,
    guardians,
    notifications,
    people,
    sessions,
)
from attendance_app.api import errors as _errors  # noqa: E402
from attendance_app.api.auth import authenticate_request  # noqa: E402
from attendance_app.services.school import identities  # noqa: E402

_errors.install_blueprint_handlers(bp)
from attendance_app.api.openapi import register_docs  # noqa: E402


def init_app(app: Flask) -> None:
    """Register the blueprint, its error shapes and the OpenAPI docs."""
    from attendance_app.extensions import csrf

    # Token requests carry no CSRF token; cookie-authenticated writes are checked in auth.py.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    _errors.register(app)
    register_docs(app)
