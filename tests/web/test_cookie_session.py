"""The session cookie's signing serializer is kept between requests and the cookies it
accepted are remembered: the cookies are Flask's own, a new SECRET_KEY still takes effect at
once, an altered cookie is refused and a remembered one expires when Flask's would."""

from __future__ import annotations

import time

import pytest
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


def _reader(interface, lifetime_seconds: int = 3600) -> Flask:
    """An app whose /get also changes its own copy of the session (and so answers with a new
    cookie), to show a remembered cookie's values are not shared between requests."""
    app = _app(interface)
    app.permanent_session_lifetime = lifetime_seconds

    @app.get("/get-and-change")
    def get_and_change():
        seen = session.get("who", "nobody")
        session["who"] = "someone else"
        return seen

    return app


def _headers_app(interface) -> Flask:
    app = _app(interface)

    @app.get("/untouched")
    def untouched():
        return "x"

    @app.get("/looked")
    def looked():
        return session.get("who", "nobody")

    @app.get("/looked-vary")
    def looked_with_own_vary():
        return session.get("who", "nobody"), {"Vary": "Accept"}

    @app.post("/emptied")
    def emptied():
        session.clear()
        return ""

    @app.post("/set-permanent")
    def set_permanent():
        session["who"] = "tina"
        session.permanent = True
        return ""

    return app


def test_a_remembered_cookie_gives_each_request_its_own_values():
    app = _reader(CookieSessionInterface())
    cookie = _cookie(app)
    for _ in range(3):
        client = app.test_client()
        client.set_cookie("session", cookie)
        assert client.get("/get-and-change").text == "tina"
    assert _read(app, cookie) == "tina"


def test_a_cookie_altered_after_one_was_remembered_is_refused():
    app = _app(CookieSessionInterface())
    cookie = _cookie(app)
    assert _read(app, cookie) == "tina"
    payload, signed_at, signature = cookie.split(".")
    for altered in (
        # The first character: the last one's low bits are base64 padding, which decoding
        # ignores (itsdangerous, and Flask, accept such a copy as the same signature).
        f"{payload}.{signed_at}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}",
        f"{payload}x.{signed_at}.{signature}",
        f"{payload}.{signed_at}",
        f"{cookie} ",
    ):
        assert _read(app, altered) == "nobody", altered
    assert _read(app, cookie) == "tina"


@pytest.mark.parametrize("after", [3599, 3600, 3601, -1])
def test_a_remembered_cookie_expires_when_flasks_would(monkeypatch, after):
    ours, flasks = _reader(CookieSessionInterface()), _reader(SecureCookieSessionInterface())
    clock = [1_800_000_000.25]  # itsdangerous and the memory read time.time()
    monkeypatch.setattr(time, "time", lambda: clock[0])
    cookie = _cookie(ours)
    assert _read(ours, cookie) == "tina"  # remembered now
    clock[0] += after
    expected = "tina" if 0 <= after <= 3600 else "nobody"
    assert _read(flasks, cookie) == expected
    assert _read(ours, cookie) == expected


def _answer(app: Flask, method: str, path: str, cookie: str | None) -> tuple:
    client = app.test_client()
    if cookie is not None:
        client.set_cookie("session", cookie)
    response = client.open(path, method=method)
    headers = [(k, v) for k, v in response.headers if k != "Set-Cookie"]
    cookies = [
        v.split("=", 1)[0] + ("=;" if "=;" in v else "=…")
        for k, v in response.headers
        if k == "Set-Cookie"
    ]
    return response.status_code, response.text, headers, cookies


def test_an_empty_session_answers_with_the_headers_flask_gives():
    ours = _headers_app(CookieSessionInterface())
    flasks = _headers_app(SecureCookieSessionInterface())
    signed = _cookie(flasks)
    for method, path in [
        ("GET", "/untouched"),
        ("GET", "/looked"),
        ("GET", "/looked-vary"),
        ("POST", "/emptied"),
        ("POST", "/set"),
    ]:
        for cookie in (None, "", signed, "not-signed"):
            assert _answer(ours, method, path, cookie) == _answer(flasks, method, path, cookie), (
                method,
                path,
                cookie,
            )


@pytest.mark.parametrize("refresh", [False, True])
def test_an_unchanged_session_answers_with_the_headers_flask_gives(refresh):
    """A browser's session the request did not change: no cookie unless Flask refreshes a
    permanent one, and "Vary: Cookie" exactly when Flask sends it (also when the view never
    looked at the session)."""
    ours = _headers_app(CookieSessionInterface())
    flasks = _headers_app(SecureCookieSessionInterface())
    for app in (ours, flasks):
        app.config["SESSION_REFRESH_EACH_REQUEST"] = refresh
    writer = flasks.test_client()
    writer.post("/set-permanent")
    cookies = {"plain": _cookie(flasks), "permanent": writer.get_cookie("session").value}
    for method, path in [("GET", "/untouched"), ("GET", "/looked"), ("GET", "/looked-vary")]:
        for kind, cookie in cookies.items():
            theirs = _answer(flasks, method, path, cookie)
            assert _answer(ours, method, path, cookie) == theirs, (method, path, kind)
            if kind == "permanent" and refresh:
                assert theirs[3] == ["session=…"]  # refreshed: the cookie is sent again
            else:
                assert theirs[3] == []
