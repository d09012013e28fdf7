"""CSRF tokens Flask-WTF accepted are remembered (attendance_app.csrf): every request gets
exactly Flask-WTF's verdict and message — a remembered token is still refused when altered,
sent with another session, with a session that holds no token, under another key or once
expired, at the same second as Flask-WTF's own check."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

from attendance_app.csrf import CsrfProtect


def _app(protect: type[CSRFProtect], time_limit: int | None = None) -> Flask:
    app = Flask(__name__)
    app.secret_key = "first-key"
    app.config["WTF_CSRF_TIME_LIMIT"] = time_limit
    protect(app)

    @app.get("/token")
    def token():
        return generate_csrf()

    @app.post("/post")
    def post():
        return "saved"

    @app.errorhandler(CSRFError)
    def refused(error):
        return f"refused: {error.description}", 400

    return app


def _post(client, token: str | None) -> tuple[int, str]:
    headers = {"X-CSRFToken": token} if token is not None else {}
    response = client.post("/post", headers=headers)
    return response.status_code, response.text


def _story(app: Flask) -> list[tuple[int, str]]:
    """Every answer of one sequence of posts, a token first accepted then replayed."""
    client, other = app.test_client(), app.test_client()
    token, others = client.get("/token").text, other.get("/token").text
    payload, signed_at, signature = token.split(".")
    answers = [_post(client, token), _post(client, token)]  # the second one remembered
    for altered in (
        f"{payload}.{signed_at}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}",
        f"{payload}x.{signed_at}.{signature}",
        f"{payload}.{signed_at}",
        f"{token} ",
        "",
        None,
    ):
        answers.append(_post(client, altered))
    answers.append(_post(client, others))  # another session's token: not this session's
    answers.append(_post(other, token))  # this token with the other session
    answers.append(_post(app.test_client(), token))  # a session that holds no token
    answers.append(_post(client, token))
    app.secret_key = "second-key"
    answers.append(_post(client, token))
    app.secret_key = "first-key"
    answers.append(_post(client, token))
    return answers


def test_every_answer_is_flask_wtfs():
    ours, theirs = _story(_app(CsrfProtect)), _story(_app(CSRFProtect))
    assert ours == theirs
    assert [code for code, _ in ours] == [200, 200, *[400] * 9, 200, 400, 200]
    assert ours[2][1] == "refused: The CSRF token is invalid."
    assert ours[6] == (400, "refused: The CSRF token is missing.")
    assert ours[8] == (400, "refused: The CSRF tokens do not match.")
    assert ours[9] == (400, "refused: The CSRF tokens do not match.")
    assert ours[10] == (400, "refused: The CSRF session token is missing.")


@pytest.mark.parametrize("after", [3599, 3600, 3601, -1])
def test_a_remembered_token_expires_when_flask_wtfs_would(monkeypatch, after):
    clock = [1_800_000_000.25]  # itsdangerous and the memory read time.time()
    monkeypatch.setattr(time, "time", lambda: clock[0])
    answers = []
    for protect in (CsrfProtect, CSRFProtect):
        clock[0] = 1_800_000_000.25
        app = _app(protect, time_limit=3600)
        client = app.test_client()
        token = client.get("/token").text
        assert _post(client, token) == (200, "saved")  # remembered now (ours)
        clock[0] += after
        answers.append(_post(client, token))
    assert answers[0] == answers[1]
    if 0 <= after <= 3600:
        assert answers[0] == (200, "saved")
    elif after > 0:
        assert answers[0] == (400, "refused: The CSRF token has expired.")
    else:  # a clock gone back: the session cookie's own signature is refused first
        assert answers[0][0] == 400
