"""The application class: Flask, with the question "is this handler a coroutine?" answered
once per function instead of on every call.

Flask asks ``ensure_sync`` of every ``before_request``, ``after_request`` and teardown
function and of the view itself, on every request; each answer is ``inspect.
iscoroutinefunction`` (~8 Python calls: it unwraps methods and partials before reading the
code's flags), ~60 calls a request for the same few functions. ``ensure_sync`` is Flask's
documented override point. The answer for a plain function, or for a method by the plain
function it binds (``inspect`` looks through the method to it too), is kept in a dict keyed
by that function: the handlers' functions, a bounded set. Anything else (partials, other
callables) is asked every time, as before.
"""

from __future__ import annotations

import types
import typing as t

from flask import Flask


class App(Flask):
    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._is_sync: dict[types.FunctionType, bool] = {}

    def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        plain = func.__func__ if type(func) is types.MethodType else func
        if type(plain) is not types.FunctionType:
            return super().ensure_sync(func)
        is_sync = self._is_sync.get(plain)
        if is_sync is None:
            is_sync = self._is_sync[plain] = super().ensure_sync(plain) is plain
        return func if is_sync else super().ensure_sync(func)
