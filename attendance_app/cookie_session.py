"""The signed session cookie, with its signing serializer built once per key.

Flask's ``SecureCookieSessionInterface`` builds a new ``URLSafeTimedSerializer`` (and, in
it, checks its JSON serializer by dumping a sample) to open the cookie of every request and
again to save it: about 12 µs each on the benchmark machine, paid by every API request and
twice by every page, although the keys change only when the configuration does. The
serializer keeps no state between calls, so one per key set serves every request; the
cookies it reads and writes are the same bytes.

Most API requests carry a token and no cookie at all. For them Flask parsed the (absent)
``Cookie`` header into a dict, then at the end read the cookie's seven settings and went
through werkzeug's ``Vary`` set to add ``Cookie``: ~100 Python calls a request for an empty
session. ``open_session`` and ``save_session`` answer those two cases directly, with the same
result: an empty session, and ``Vary: Cookie`` when it was looked at.
"""

from __future__ import annotations

import typing as t

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

if t.TYPE_CHECKING:
    from flask import Flask, Request, Response
    from flask.sessions import SessionMixin
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

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        if "HTTP_COOKIE" not in request.environ:
            return self.session_class()  # no cookie header: what Flask gives for no cookie
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if session or session.modified:
            super().save_session(app, session, response)
            return
        # Empty and unchanged: Flask sets no cookie, only "Vary: Cookie" if it was read.
        if session.accessed:
            if any(name.lower() == "vary" for name, _ in response.headers):
                response.vary.add("Cookie")
            else:
                response.headers["Vary"] = "Cookie"  # what ``vary.add`` writes when absent
