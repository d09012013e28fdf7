"""The Flask application and request classes: Flask's, with two per-request costs taken out."""

from __future__ import annotations

import typing as t

from flask import Flask, current_app
from flask import Request as FlaskRequest
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.http import parse_cookie
from werkzeug.utils import cached_property
from werkzeug.wrappers import Request as WerkzeugRequest

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

    # Flask's three request limits, each answered as Flask answers it (this request's own
    # value, else the app's setting, else werkzeug's default outside an app), with the app
    # looked up once: Flask's ``if not current_app`` then ``current_app.config`` is two
    # context-local lookups (~10 Python calls) per question, and a form's parse asks four.

    def _app_setting(self, key: str, own: int | None, default: int | None) -> int | None:
        if own is not None:
            return own
        try:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        except RuntimeError:  # outside an app context: werkzeug's own default
            return default
        return app.config[key]  # type: ignore[no-any-return]

    @property
    def max_content_length(self) -> int | None:  # type: ignore[override]
        return self._app_setting(
            "MAX_CONTENT_LENGTH", self._max_content_length, WerkzeugRequest.max_content_length
        )

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @property
    def max_form_memory_size(self) -> int | None:  # type: ignore[override]
        return self._app_setting(
            "MAX_FORM_MEMORY_SIZE", self._max_form_memory_size, WerkzeugRequest.max_form_memory_size
        )

    @max_form_memory_size.setter
    def max_form_memory_size(self, value: int | None) -> None:
        self._max_form_memory_size = value

    @property
    def max_form_parts(self) -> int | None:  # type: ignore[override]
        return self._app_setting(
            "MAX_FORM_PARTS", self._max_form_parts, WerkzeugRequest.max_form_parts
        )

    @max_form_parts.setter
    def max_form_parts(self, value: int | None) -> None:
        self._max_form_parts = value


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
