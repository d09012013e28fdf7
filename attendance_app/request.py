"""The request class: Flask's, with its cookies read straight from the WSGI environ."""

from __future__ import annotations

from flask import Request as FlaskRequest
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.http import parse_cookie
from werkzeug.utils import cached_property


class Request(FlaskRequest):
    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """The request's cookies, as werkzeug parses them. Werkzeug joins
        ``headers.getlist("Cookie")``, which on a WSGI request walks every key of the environ
        (~60 Python calls of every request that opens the cookie session) to find the one
        ``HTTP_COOKIE`` the server put there; this reads that key."""
        return parse_cookie(self.environ.get("HTTP_COOKIE", ""), cls=self.dict_storage_class)  # type: ignore[return-value]
