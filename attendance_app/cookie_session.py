"""The signed session cookie, with its signing serializer built once per key.

Flask's ``SecureCookieSessionInterface`` builds a new ``URLSafeTimedSerializer`` (and, in
it, checks its JSON serializer by dumping a sample) to open the cookie of every request and
again to save it: about 12 µs each on the benchmark machine, paid by every API request and
twice by every page, although the keys change only when the configuration does. The
serializer keeps no state between calls, so one per key set serves every request; the
cookies it reads and writes are the same bytes.
"""

from __future__ import annotations

import typing as t

from flask.sessions import SecureCookieSessionInterface

if t.TYPE_CHECKING:
    from flask import Flask
    from itsdangerous import URLSafeTimedSerializer


class CookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._cached: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # The keys are compared on every call, so a changed SECRET_KEY (or its fallbacks)
        # takes effect at once, as with Flask's own interface.
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._cached
        if cached is not None and cached[0] == keys:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        self._cached = (keys, serializer)
        return serializer
