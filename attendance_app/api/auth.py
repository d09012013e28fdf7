"""Who is calling the API: a token (Bearer or Token scheme) or the browser's login cookie.

The only place API tokens are read from a request.
"""

from __future__ import annotations

import json

from flask import g, request
from flask_login import current_user
from marshmallow import Schema

from attendance_app.api.errors import NOT_AUTHENTICATED, MalformedBody
from attendance_app.extensions import csrf
from attendance_app.models import User
from attendance_app.services.errors import Unauthenticated
from attendance_app.services.school.tokens import token_user

SCHEMES = {"bearer", "token"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _token_in(header: str) -> str | None:
    """The token in an ``Authorization: Bearer|Token <token>`` header, or None."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if token and scheme.lower() in SCHEMES:
        return token
    return None


def authenticate_request() -> User:
    """Who is calling; raises Unauthenticated. Cookie-authenticated writes need CSRF.

    A token's user is the process's kept entity (``tokens.token_user``): shared, detached,
    to read only. ``api.actor()`` gives the request's own copy in its session."""
    # The WSGI environ directly: every API request asks, and werkzeug's Headers.get raises
    # and catches an exception for a missing header.
    header = request.environ.get("HTTP_AUTHORIZATION")
    if header is not None:
        token = _token_in(header)
        user = token_user(token) if token else None
        if user is None:
            raise Unauthenticated(NOT_AUTHENTICATED)
        g.api_token = token
        return user
    if current_user.is_authenticated:
        if request.method not in SAFE_METHODS:
            csrf.protect()
        return current_user._get_current_object()
    raise Unauthenticated(NOT_AUTHENTICATED)


def json_body() -> dict:
    """The request body as a JSON object; an empty body is ``{}``. Raises MalformedBody."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: json gives up on very deeply nested arrays/objects.
        raise MalformedBody from exc
    if not isinstance(data, dict):
        raise MalformedBody
    return data


def query_args() -> dict:
    """The query string as a flat dict (the last value of a repeated parameter wins)."""
    if not request.environ.get("QUERY_STRING"):
        return {}  # most reads have none: werkzeug's parse of nothing is ~20 calls
    # As Django's QueryDict; MultiDict.to_dict() would keep the first value instead.
    return {key: values[-1] for key, values in request.args.lists()}


class Query:
    """A query string's schema, made once, and what it loads from no query at all, loaded
    once: the hot reads are asked without one, and marshmallow's load of ``{}`` (the
    defaults) cost ~60 calls a request. Only for schemas whose defaults are constants."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.defaults: dict = schema.load({})

    def load(self) -> dict:
        """The request's query loaded (raises ValidationError as ``schema.load`` does)."""
        args = query_args()
        return self.schema.load(args) if args else dict(self.defaults)
