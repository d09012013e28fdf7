"""The web edge's ``login_required`` answers every request as Flask-Login's own does: a
redirect to the login page for nobody signed in, the view for a signed-in person, OPTIONS
and ``LOGIN_DISABLED`` let through."""

from __future__ import annotations

import flask_login
import pytest

from attendance_app import create_app
from attendance_app.web import login_required
from tests.conftest import TEST_SETTINGS
from tests.web.conftest import login_as


@pytest.fixture
def guarded(database_url):
    """An app with the same view guarded twice: by ours (/ours) and by Flask-Login's
    (/theirs)."""
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": database_url})

    def view():
        return f"hello {getattr(flask_login.current_user, 'email', 'nobody')}"

    app.add_url_rule("/ours", "ours", login_required(view), methods=["GET", "POST", "OPTIONS"])
    app.add_url_rule(
        "/theirs",
        "theirs",
        flask_login.login_required(view),
        methods=["GET", "POST", "OPTIONS"],
    )
    return app


def _answers(client, method: str) -> list[tuple[int, str, str]]:
    found = []
    for path in ("/ours", "/theirs"):
        response = client.open(path, method=method)
        name = path.strip("/")
        location = response.headers.get("Location", "").replace(name, "PATH")
        body = response.get_data(as_text=True).replace(name, "PATH")
        found.append((response.status_code, location, body))
    return found


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_login_required_answers_as_flask_logins_own(guarded, classroom, method):
    anonymous = guarded.test_client()
    mine, theirs = _answers(anonymous, method)
    assert mine == theirs
    # A POST without a CSRF token is refused before any view (CSRF runs first).
    assert mine[0] == {"GET": 302, "POST": 400, "OPTIONS": 200}[method]

    signed_in = guarded.test_client()
    assert login_as(signed_in, classroom.teacher).status_code == 302
    mine, theirs = _answers(signed_in, method)
    assert mine == theirs
    if method == "GET":
        assert mine[0] == 200 and classroom.teacher.email in mine[2]

    guarded.config["LOGIN_DISABLED"] = True
    assert _answers(guarded.test_client(), "GET")[0][0] == 200
