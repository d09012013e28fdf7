"""Flask-WTF's CSRF protection, with the tokens it has verified remembered.

Every form post, htmx action and cookie-authenticated API write checks its CSRF token with
Flask-WTF's ``validate_csrf``: a new ``URLSafeTimedSerializer`` and its ``loads`` (base64,
an HMAC, the JSON) — ~150 of a roster tap's ~4,000 Python calls — although a page sends the
same signed token with every request it makes. For a given key, what ``loads`` returns for a
given string (the raw token and its signing time) never changes; whether the token is still
young enough and matches the session's raw token is decided per request.

So :class:`CsrfProtect` remembers, per secret key, each token string that ``validate_csrf``
itself accepted, with the raw token it carries and its signing time. The same string is
accepted again without the HMAC only when everything ``validate_csrf`` would then check holds
too: the session holds a raw token equal to it (``hmac.compare_digest``), and with a time
limit the age in whole seconds is within ``0..limit`` (itsdangerous' own test). In every other
case — a token not remembered, altered, missing, expired, from another session, a session
without one, another key — ``validate_csrf`` decides and refuses with its own message.
Nothing is remembered of a refused token. The rest of ``protect`` (methods, exemptions, the
HTTPS referrer check, ``g.csrf_valid``) is Flask-WTF 1.3's, as written there.
"""

from __future__ import annotations

import hmac
import logging
import time
import typing as t

from flask import current_app, g, request, session
from flask_wtf.csrf import CSRFProtect, same_origin, validate_csrf
from itsdangerous.encoding import base64_decode, bytes_to_int
from wtforms import ValidationError

from attendance_app.memory import Bounded

if t.TYPE_CHECKING:
    from flask import Flask
    from flask.sessions import SessionMixin

#: Flask-WTF's own logger: a refusal is logged where it always was.
logger = logging.getLogger("flask_wtf.csrf")

#: Tokens remembered per key; past this the oldest half goes (a token is ~90 bytes, and a
#: browser session keeps one token for its life).
REMEMBERED_TOKENS = 4_096


class _Verified:
    """Signed token strings ``validate_csrf`` accepted under one key: string → (raw token,
    signing time in whole seconds)."""

    def __init__(self, key: t.Any) -> None:
        self.key = key
        self.tokens: Bounded[str, tuple[str, int]] = Bounded(REMEMBERED_TOKENS)

    def put(self, signed: str, raw: str, signed_at: int) -> None:
        self.tokens.remember(signed, (raw, signed_at))


def _signed_at(signed: str) -> int:
    """The signing time in a token itsdangerous accepted (``payload.time.signature``), read
    as ``TimestampSigner.unsign`` reads it."""
    head, _, _signature = signed.rpartition(".")
    return bytes_to_int(base64_decode(head.rpartition(".")[2]))


class CsrfProtect(CSRFProtect):
    def __init__(self, app: t.Any = None) -> None:
        self._verified: _Verified | None = None
        super().__init__(app)

    def _remembered(self, app: Flask, store: SessionMixin, data: t.Any) -> bool:
        """True when ``data`` is a token ``validate_csrf`` accepted under the current key and
        every check it would make now passes; False: let ``validate_csrf`` decide."""
        config = app.config
        key = config.get("WTF_CSRF_SECRET_KEY", app.secret_key)
        verified = self._verified
        if key is None or verified is None or verified.key != key or type(data) is not str:
            return False
        known = verified.tokens.get(data)
        if known is None:
            return False
        field_name = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        if field_name is None:
            return False
        expected = store.get(field_name)
        if type(expected) is not str:
            return False
        time_limit = config.get("WTF_CSRF_TIME_LIMIT", 3600)
        if time_limit is not None:
            age = int(time.time()) - known[1]
            if age > time_limit or age < 0:
                return False
        return hmac.compare_digest(expected, known[0])

    def _validate(self, app: Flask, data: t.Any) -> None:
        """``validate_csrf(data)``, answered from memory for a token it accepted before."""
        store = session._get_current_object()  # type: ignore[attr-defined]
        if self._remembered(app, store, data):
            return
        validate_csrf(data)  # raises ValidationError with Flask-WTF's message
        config = app.config
        raw = store.get(config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
        if type(data) is not str or type(raw) is not str:
            return
        key = config.get("WTF_CSRF_SECRET_KEY", app.secret_key)
        verified = self._verified
        if verified is None or verified.key != key:
            verified = self._verified = _Verified(key)
        verified.put(data, raw, _signed_at(data))

    def protect(self, apply_exemptions: bool = False) -> None:
        """Flask-WTF 1.3's ``CSRFProtect.protect``, its ``validate_csrf`` call :meth:`_validate`
        (and the request and app looked up once, not through their proxies at each use)."""
        req = request._get_current_object()  # type: ignore[attr-defined]
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        if apply_exemptions:
            if not req.endpoint:
                return

            if self._is_exempt():
                return

        if req.method not in app.config["WTF_CSRF_METHODS"]:
            return

        try:
            self._validate(app, self._get_csrf_token())
        except ValidationError as e:
            logger.info(e.args[0])
            self._error_response(e.args[0])

        if req.is_secure and app.config["WTF_CSRF_SSL_STRICT"]:
            if not req.referrer:
                self._error_response("The referrer header is missing.")

            good_referrer = f"https://{req.host}/"

            if not same_origin(req.referrer, good_referrer):
                self._error_response("The referrer does not match the host.")

        g.csrf_valid = True  # mark this request as CSRF valid
