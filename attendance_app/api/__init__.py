"""The JSON API edge: parse → call one service → dump, under /api/."""

from __future__ import annotations

from flask import Blueprint, Flask, g, request

bp = Blueprint("api", __name__, url_prefix="/api")

#: Endpoints that need no authentication (the token exchange itself, the API docs).
PUBLIC_ENDPOINTS = {"api.token_create", "api.openapi_json"}


@bp.before_request
def _authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS and request.method != "DELETE":
        g.actor = None
        return
    g.actor = authenticate_request()


def actor():
    """The authenticated user of this API request."""
    return g.actor


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
