"""The application class: Flask, with the question "is this handler a coroutine?" answered
once per function instead of on every call.

Flask asks ``ensure_sync`` of every ``before_request``, ``after_request`` and teardown
function and of the view itself, on every request; each answer is ``inspect.
iscoroutinefunction`` (~8 Python calls: it unwraps partials and methods before reading the
code's flags), ~50 calls a request for the same few functions. ``ensure_sync`` is Flask's
documented override point; the answer for a plain function is kept in a dict keyed by the
function (the handlers registered on the app: a bounded set). Anything else (bound methods,
partials, callables) is asked every time, as before.
"""

from __future__ import annotations

import types
import typing as t

from flask import Flask


class App(Flask):
    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_of: dict[types.FunctionType, t.Callable[..., t.Any]] = {}

    def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        if type(func) is not types.FunctionType:
            return super().ensure_sync(func)
        found = self._sync_of.get(func)
        if found is None:
            found = self._sync_of[func] = super().ensure_sync(func)
        return found
