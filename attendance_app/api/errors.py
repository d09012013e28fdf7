"""DomainError, shape errors and HTTP errors → the contract's DRF-shaped JSON bodies."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, jsonify, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from attendance_app.services.errors import DomainError, Throttled, database_unavailable

log = logging.getLogger(__name__)

NOT_AUTHENTICATED = "Authentication credentials were not provided."
MALFORMED = "Malformed request body."
TOO_LARGE = "Request body too large."

_DETAIL_CODES = {401, 403, 404, 405, 429}


class MalformedBody(Exception):
    """The request body is not a JSON object."""


def _field_errors(messages: dict) -> dict:
    """marshmallow's schema-level key becomes DRF's ``non_field_errors``; int keys → str."""
    out = {}
    for key, value in messages.items():
        name = "non_field_errors" if key == "_schema" else str(key)
        out[name] = _field_errors(value) if isinstance(value, dict) else value
    return out


def domain_error_body(err: DomainError) -> dict:
    if err.status_code in _DETAIL_CODES and err.errors is None:
        return {"detail": err.message, **(err.extra or {})}
    if err.errors is not None:
        body = {err.field or "non_field_errors": err.errors}
        if err.status_code in _DETAIL_CODES:
            body["detail"] = err.message
        return body
    return {err.field or "non_field_errors": [err.message]}


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def install_blueprint_handlers(bp) -> None:
    """Our own errors raised inside API views (registered once, at import)."""

    @bp.errorhandler(DomainError)
    def _domain(err: DomainError):
        response = jsonify(domain_error_body(err))
        response.status_code = err.status_code
        if err.status_code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        if isinstance(err, Throttled) and err.retry_after is not None:
            response.headers["Retry-After"] = str(err.retry_after)
        return response

    @bp.errorhandler(ValidationError)
    def _validation(err: ValidationError):
        messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        return jsonify(_field_errors(messages)), 400

    @bp.errorhandler(MalformedBody)
    def _malformed(_err):
        return jsonify({"detail": MALFORMED}), 400


def register(app: Flask) -> None:
    """App-level handlers: routing 404/405 and CSRF failures on /api/ paths get JSON."""

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        # Routing errors happen before a blueprint is chosen, so /api/ paths get their JSON
        # shape here; other paths go to the web edge's error pages (PAGE_ERRORS).
        if not is_api_request() or e.code is None:
            return _page_error(e)
        if e.code == 405:
            detail = f'Method "{request.method}" not allowed.'
        elif e.code == 404:
            detail = "Not found."
        elif e.code == 400 and isinstance(e, CSRFError):
            return jsonify({"detail": f"CSRF Failed: {e.description}"}), 403
        elif e.code == 413:
            detail = TOO_LARGE
        else:
            detail = e.description or e.name
        response = jsonify({"detail": detail})
        response.status_code = e.code
        if e.code == 405 and getattr(e, "valid_methods", None):
            response.headers["Allow"] = ", ".join(e.valid_methods)
        return response

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def _database_error(e: Exception):
        # Outages (refused or lost connections) are 503 with the kernel's message, at once,
        # for every edge; any other database error is a bug and stays a logged 500.
        unavailable = database_unavailable(e)
        if unavailable is None:
            raise e
        log.warning(
            "database unavailable: %s %s: %s",
            request.method,
            request.path,
            str(getattr(e, "orig", None) or e).strip().splitlines()[0],
        )
        if is_api_request():
            response = jsonify({"detail": unavailable.message})
            response.status_code = unavailable.status_code
        else:
            # The page must render without the database: whoever is signed in cannot be
            # loaded now, so it renders as for a visitor (flask-login's per-request user).
            g._login_user = current_app.login_manager.anonymous_user()
            response = current_app.make_response(
                _page_error(ServiceUnavailable(description=unavailable.message))
            )
        response.headers["Retry-After"] = str(unavailable.retry_after)
        return response

    @app.errorhandler(500)
    def _server_error(e):
        if is_api_request():
            return jsonify({"detail": "A server error occurred."}), 500
        return _page_error(e)


#: app.extensions key under which the web edge registers its error-page renderer.
PAGE_ERRORS = "attendance.page_errors"


def _page_error(e: HTTPException):
    render = current_app.extensions.get(PAGE_ERRORS)
    return render(e) if render else e
