"""The app class answers Flask's "is this a coroutine?" once per function, with Flask's
answer."""

from __future__ import annotations

import functools

import pytest
from flask import Flask

from attendance_app.application import Application as App


def plain() -> str:
    return "plain"


async def coroutine() -> str:
    return "coroutine"


def test_a_plain_function_is_given_back_as_flask_gives_it():
    app = App(__name__)
    assert app.ensure_sync(plain) is plain
    assert app.ensure_sync(plain) is plain


class Handlers:
    def plain(self) -> str:
        return "plain"

    async def coroutine(self) -> str:
        return "coroutine"


def test_a_method_is_given_back_as_flask_gives_it():
    app, flask = App(__name__), Flask(__name__)
    for handlers in (Handlers(), Handlers()):
        assert app.ensure_sync(handlers.plain) == handlers.plain
        assert app.ensure_sync(handlers.plain) == flask.ensure_sync(handlers.plain)


def test_other_callables_are_asked_every_time_as_flask_asks():
    app, flask = App(__name__), Flask(__name__)
    partial = functools.partial(plain)
    assert app.ensure_sync(partial) is flask.ensure_sync(partial) is partial


def test_a_coroutine_function_still_goes_through_flask_async_support():
    # Flask wraps it with asgiref, which this project does not install: Flask's own
    # refusal, raised by both, proves the function was taken for a coroutine.
    for app in (App(__name__), Flask(__name__)):
        for _ in range(2):
            for func in (coroutine, Handlers().coroutine, functools.partial(coroutine)):
                with pytest.raises(RuntimeError, match="async"):
                    app.ensure_sync(func)


def test_the_app_serves_through_the_kept_answers(app):
    client = app.test_client()
    path = "/api/attendance/session/00000000-0000-0000-0000-000000000000/"
    for _ in range(2):
        assert client.get(path).status_code == 401
