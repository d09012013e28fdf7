"""The Flask application and request classes: Flask's, with two per-request costs taken out."""

from __future__ import annotations

import typing as t

from flask import Flask
from flask import Request as FlaskRequest
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.http import parse_cookie
from werkzeug.utils import cached_property

#: Functions whose synchronous form is kept; past this the memory starts over (an app has a
#: few dozen views and hooks; functions made per request, ``after_this_request``'s, pass).
KEPT_FUNCTIONS = 1_024


class Request(FlaskRequest):
    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """The request's cookies, as werkzeug parses them. Werkzeug joins
        ``headers.getlist("Cookie")``, which on a WSGI request walks every key of the environ
        (~60 Python calls of every request that opens the cookie session) to find the one
        ``HTTP_COOKIE`` the server put there; this reads that key."""
        return parse_cookie(self.environ.get("HTTP_COOKIE", ""), cls=self.dict_storage_class)  # type: ignore[return-value]


class Application(Flask):
    request_class = Request

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[t.Callable[..., t.Any], t.Callable[..., t.Any]] = {}

    def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """Flask's ``ensure_sync``, its answer kept per function: Flask asks it before every
        hook, view and teardown of every request (``inspect.iscoroutinefunction``, ~13
        Python calls each, ~65 a roster tap), and a function's answer never changes."""
        try:
            found = self._sync.get(func)
        except TypeError:  # not hashable: ask every time
            return super().ensure_sync(func)
        if found is None:
            found = super().ensure_sync(func)
            if len(self._sync) >= KEPT_FUNCTIONS:
                self._sync.clear()
            self._sync[func] = found
        return found
