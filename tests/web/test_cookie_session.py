"""The session cookie's signing serializer is kept between requests: the cookies are Flask's
own, and a new SECRET_KEY still takes effect at once."""

from __future__ import annotations

from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface

from attendance_app.cookie_session import CookieSessionInterface


def _app(interface) -> Flask:
    app = Flask(__name__)
    app.secret_key = "first-key"
    app.session_interface = interface

    @app.post("/set")
    def set_value():
        session["who"] = "tina"
        return ""

    @app.get("/get")
    def get_value():
        return session.get("who", "nobody")

    return app


def _cookie(app: Flask) -> str:
    client = app.test_client()
    client.post("/set")
    return client.get_cookie("session").value


def _read(app: Flask, cookie: str) -> str:
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/get").text


def test_cookies_are_the_ones_flask_writes_and_reads():
    ours, flasks = _app(CookieSessionInterface()), _app(SecureCookieSessionInterface())
    assert _read(flasks, _cookie(ours)) == "tina"
    assert _read(ours, _cookie(flasks)) == "tina"


def test_a_new_secret_key_refuses_cookies_signed_with_the_old_one():
    app = _app(CookieSessionInterface())
    cookie = _cookie(app)
    assert _read(app, cookie) == "tina"
    app.secret_key = "second-key"
    assert _read(app, cookie) == "nobody"
    app.config["SECRET_KEY_FALLBACKS"] = ["first-key"]
    assert _read(app, cookie) == "tina"
