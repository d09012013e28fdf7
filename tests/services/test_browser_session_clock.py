"""A browser session's clock, asked on every request (``browser_sessions.touch``), decides
as ``browser_sessions.read`` does for every kind of stamp a cookie can hold, and renews the
"last seen" stamp as before."""

from __future__ import annotations

import time

import pytest

from attendance_app.services.school import browser_sessions
from attendance_app.services.school.browser_sessions import LOGIN_KEY, SEEN_KEY, SIGNED_IN_KEY


def _stamps(app) -> list[tuple[object, object]]:
    now = int(time.time())
    idle = int(app.config["SESSION_IDLE_MINUTES"] * 60)
    longest = int(app.config["SESSION_MAX_HOURS"] * 3600)
    # (signed in, last seen), a few seconds either side of each deadline, then odd values.
    return [
        (now, now),
        (now - 10, now - 10),
        (now - 100, now - idle + 5),  # idle for nearly the limit: alive
        (now - 100, now - idle - 5),  # idle past the limit: ended
        (now - longest + 5, now - 1),  # signed in nearly the longest ago: alive
        (now - longest - 5, now - 1),  # signed in longer ago: ended
        (now + 3600, now + 3600),  # stamped in the future (another machine's clock)
        (float(now), float(now)),
        (now + 0.5, now - 0.5),
        (str(now), str(now)),
        ("soon", now),
        (True, True),
        (None, now),
        (now, None),
        (0, 0),
        (-1, -1),
        (10**20, 10**20),
        (32_503_679_999, 32_503_679_999),
        (32_503_680_000, 32_503_680_000),
        (253_402_300_799, 253_402_300_799),
        (253_402_300_800, 253_402_300_800),
    ]


@pytest.mark.parametrize("login_id", ["a" * 32, None, 7])
def test_touch_decides_as_read_does_for_every_kind_of_stamp(app, login_id):
    with app.test_request_context():
        for signed_in, seen in _stamps(app):
            store = {SIGNED_IN_KEY: signed_in, SEEN_KEY: seen}
            if login_id is not None:
                store[LOGIN_KEY] = login_id
            try:
                expected: object = browser_sessions.read(dict(store)) is not None
            except OverflowError as exc:  # past the year 9999: the same error either way
                expected = type(exc)
            try:
                decided: object = browser_sessions.touch(store)
            except OverflowError as exc:
                decided = type(exc)

            assert decided is expected, (signed_in, seen, login_id)


def test_touch_renews_the_last_seen_stamp_only_past_the_resolution(app):
    with app.test_request_context():
        now = int(time.time())
        recent = {SIGNED_IN_KEY: now - 60, SEEN_KEY: now - 2, LOGIN_KEY: "b" * 32}
        older = {SIGNED_IN_KEY: now - 60, SEEN_KEY: now - 45, LOGIN_KEY: "c" * 32}
        odd = {SIGNED_IN_KEY: float(now - 60), SEEN_KEY: float(now - 45), LOGIN_KEY: "d" * 32}

        assert browser_sessions.touch(recent) and browser_sessions.touch(older)
        assert browser_sessions.touch(odd)

        assert recent[SEEN_KEY] == now - 2
        assert older[SEEN_KEY] >= now and type(older[SEEN_KEY]) is int
        assert odd[SEEN_KEY] >= now and type(odd[SEEN_KEY]) is int
        assert browser_sessions.activity().last_seen("c" * 32) == older[SEEN_KEY]
        assert browser_sessions.activity().last_seen("b" * 32) is None
