"""Several server processes behind one address share broadcasts through Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import TEST_SETTINGS
from tests.factories import make_admin, make_class, make_session
from tests.live.conftest import ASYNC_MODES, REDIS_URL, ROOT, start_server

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def redis_channel() -> str:
    """A pub/sub channel of this module's own, so runs sharing one Redis never mix."""
    return f"attendance-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module", params=ASYNC_MODES)
def two_servers(request, database_url, redis_channel):
    """Two server processes on one database and one Redis channel (started side by side)."""
    with ThreadPoolExecutor(2) as pool:
        servers = list(
            pool.map(
                lambda _: start_server(
                    database_url, request.param, message_queue=REDIS_URL, channel=redis_channel
                ),
                range(2),
            )
        )
    yield servers
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda server: server.stop(), servers))


def test_a_change_made_through_one_process_reaches_clients_of_the_other(
    app, two_servers, listeners
):
    first, second = two_servers
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=3)
    session_id = make_session(app, klass)
    view = listeners().connect(first.url, token=klass.teacher.token)
    assert view.join(session_id)["ok"] is True

    response = requests.post(
        f"{second.url}/api/attendance/mark/",
        json={
            "session_id": str(session_id),
            "student_id": str(klass.students[0].profile_id),
            "status": "ABSENT",
        },
        headers={"Authorization": f"Bearer {klass.teacher.token}"},
        timeout=10,
    )
    assert response.status_code == 201
    stats = view.wait_for("statistics", lambda d: d["statistics"]["absent"] == 1)
    assert stats["statistics"]["not_marked"] == 2
    records = view.wait_for("attendance")["records"]
    assert records[0]["id"] == response.json()["attendance"]["id"]


def test_a_process_that_serves_nothing_still_broadcasts_through_the_queue(
    app, database_url, two_servers, redis_channel, listeners
):
    """The CLI's path: an app made by the same factory in another process, no server."""
    first, _ = two_servers
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2)
    session_id = make_session(app, klass)
    view = listeners().connect(first.url, token=klass.teacher.token)
    assert view.join(session_id)["ok"] is True

    script = textwrap.dedent(f"""
        import uuid
        from attendance_app import create_app
        from attendance_app.extensions import db
        from attendance_app.models import User
        from attendance_app.services.marking.sessions import end_session
        app = create_app({{"SOCKETIO_ASYNC_MODE": "threading"}})
        with app.app_context():
            actor = db.session.get(User, uuid.UUID("{klass.teacher.user_id}"))
            end_session(actor=actor, session_id=uuid.UUID("{session_id}"))
    """)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
        "SOCKETIO_CHANNEL": redis_channel,
        "SECRET_KEY": TEST_SETTINGS["SECRET_KEY"],
        "ATTENDANCE_ENV": "test",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    event = view.wait_for("session")
    assert event["status"] == "ENDED" and event["is_locked"] is True
