"""DomainError and HTTP errors as pages (or, for htmx, as a message in the flash region)."""

from __future__ import annotations

from flask import Flask, make_response, render_template
from werkzeug.exceptions import HTTPException

from attendance_app.api.errors import PAGE_ERRORS
from attendance_app.services.errors import DomainError, Throttled
from attendance_app.web import bp, is_htmx

TITLES = {
    400: "That did not work",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Try again in a moment",
}


def error_response(status: int, message: str):
    """A full error page, or for htmx the message swapped into the flash region."""
    if is_htmx():
        response = make_response(
            render_template("_macros/flash_message.html", message=message, category="error"),
            status,
        )
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        # Drop the element's own hx-select (e.g. "#main"): it would select nothing here.
        response.headers["HX-Reselect"] = "unset"
        return response
    page = render_template(
        "errors/error.html", status=status, title=TITLES.get(status, "Error"), message=message
    )
    return page, status


@bp.errorhandler(DomainError)
def _domain_error(err: DomainError):
    response = make_response(error_response(err.status_code, err.message))
    if isinstance(err, Throttled) and err.retry_after is not None:
        response.headers["Retry-After"] = str(err.retry_after)
    return response


def _page_error(e: HTTPException):
    if e.code == 401:
        return e
    messages = {
        403: "You do not have permission to see this page.",
        404: "There is nothing at this address.",
        413: "What you sent is too large (at most 1 MiB); nothing was changed.",
        500: "The server failed to answer. Nothing was changed; please try again.",
    }
    return error_response(e.code or 500, messages.get(e.code, e.description or e.name))


def register(app: Flask) -> None:
    app.extensions[PAGE_ERRORS] = _page_error
