"""The signed session cookie: its signing serializer built once per key, and the cookies it
has verified remembered.

Flask's ``SecureCookieSessionInterface`` builds a new ``URLSafeTimedSerializer`` (and, in
it, checks its JSON serializer by dumping a sample) to open the cookie of every request and
again to save it: about 12 µs each on the benchmark machine, paid by every API request and
twice by every page, although the keys change only when the configuration does. The
serializer keeps no state between calls, so one per key set serves every request; the
cookies it reads and writes are the same bytes.

A browser sends the same cookie on every request until the session changes (the "last seen"
stamp is renewed at most every 30 s, ``browser_sessions.SEEN_RESOLUTION``), and verifying
it (base64, an HMAC, the tagged JSON) was ~190 Python calls of every cookie request. The
serializer's verdict on a given string is fixed once its keys are: so a cookie string it
has accepted is remembered with its signing time and its values, and the same string is
accepted again without the HMAC, while its signature is young enough, exactly as
``loads(max_age=...)`` would decide (an expired one is refused, as Flask refuses it). Only
exact strings the serializer itself accepted are remembered (nothing is ever remembered of a
refused one), per key set (a new ``SECRET_KEY`` or fallback starts afresh), and only
sessions of plain values (strings, numbers, booleans): each request gets its own copy, so
nothing mutable is shared between requests.

Most API requests carry a token and no cookie at all. For them Flask parsed the (absent)
``Cookie`` header into a dict, then at the end read the cookie's seven settings and went
through werkzeug's ``Vary`` set to add ``Cookie``: ~100 Python calls a request for an empty
session. ``open_session`` and ``save_session`` answer those two cases directly, with the same
result: an empty session, and ``Vary: Cookie`` when it was looked at. A browser's session
that the request did not change (``SESSION_REFRESH_EACH_REQUEST`` is off: most of a signed-in
teacher's requests) is saved the same way: no cookie, ``Vary: Cookie``.
"""

from __future__ import annotations

import time
import typing as t

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

from attendance_app.memory import Bounded

if t.TYPE_CHECKING:
    from flask import Flask, Request, Response
    from flask.sessions import SessionMixin
    from itsdangerous import URLSafeTimedSerializer

#: Cookies remembered per key set; past this the oldest half goes (each entry is one
#: cookie string, ~200 bytes, and a few values).
REMEMBERED_COOKIES = 4_096
_PLAIN = (str, int, float, bool, type(None))


class _Verified:
    """Cookie strings the serializer accepted: string → (signing time, the session's values)."""

    def __init__(self) -> None:
        self.cookies: Bounded[str, tuple[int, dict[str, t.Any]]] = Bounded(REMEMBERED_COOKIES)

    def put(self, cookie: str, signed_at: int, values: dict[str, t.Any]) -> None:
        self.cookies.remember(cookie, (signed_at, values))


class CookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._cached: tuple[tuple, URLSafeTimedSerializer | None, _Verified] | None = None

    def _serializer(self, app: Flask) -> tuple[URLSafeTimedSerializer | None, _Verified]:
        # The keys are compared on every call, so a changed SECRET_KEY (or its fallbacks)
        # takes effect at once, as with Flask's own interface.
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._cached
        if cached is not None and cached[0] == keys:
            return cached[1], cached[2]
        serializer = super().get_signing_serializer(app)
        self._cached = (keys, serializer, _Verified())
        return serializer, self._cached[2]

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        return self._serializer(app)[0]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Flask's ``open_session``, with the cookies already verified remembered."""
        serializer, verified = self._serializer(app)
        if serializer is None:
            return None
        if "HTTP_COOKIE" not in request.environ:
            return self.session_class()  # no cookie header: what Flask gives for no cookie
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        known = verified.cookies.get(cookie)
        if known is not None:
            # itsdangerous' own test (TimestampSigner.unsign): the age in whole seconds,
            # refused past max_age or when negative.
            age = int(time.time()) - known[0]
            if age > max_age or age < 0:
                return self.session_class()
            return self.session_class(known[1])
        try:
            data, signed_at = serializer.loads(cookie, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if isinstance(data, dict) and all(type(v) in _PLAIN for v in data.values()):
            verified.put(cookie, int(signed_at.timestamp()), dict(data))
        return self.session_class(data)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if session.modified or (session and self.should_set_cookie(app, session)):
            super().save_session(app, session, response)
            return
        # Unchanged, and empty or not to be refreshed (``should_set_cookie``): Flask reads
        # the cookie's seven settings, then sets no cookie, only "Vary: Cookie" if it was read.
        if session.accessed:
            if any(name.lower() == "vary" for name, _ in response.headers):
                response.vary.add("Cookie")
            else:
                response.headers["Vary"] = "Cookie"  # what ``vary.add`` writes when absent
