"""A serving process emails on its own: a crossing mark made through it is queued in the
mark's transaction and its background sender delivers it (eventlet and gevent, real SMTP)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from tests.factories import make_admin, make_class, make_session, run_sessions
from tests.live.conftest import ASYNC_MODES, start_server
from tests.mail import smtp_server

pytestmark = pytest.mark.live


@pytest.mark.parametrize("mode", ASYNC_MODES)
def test_the_server_sends_an_alert_email_by_itself(app, database_url, mode):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    ana = klass.students[0]
    plan = [{ana: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 2]
    run_sessions(app, klass, plan, first_start=datetime(2026, 9, 7, 9, tzinfo=UTC))
    session_id = make_session(app, klass)

    with smtp_server() as (inbox, port):
        server = start_server(
            database_url,
            mode,
            extra_env={
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": str(port),
                "MAIL_FROM": "attendance@school.test",
                "MAIL_SEND_INTERVAL": "1",
                "MAIL_ALERT_DELAY_SECONDS": "0",
            },
        )
        try:
            response = requests.post(
                f"{server.url}/api/attendance/mark/",
                json={
                    "session_id": str(session_id),
                    "student_id": str(ana.profile_id),
                    "status": "ABSENT",
                },
                headers={"Authorization": f"Bearer {klass.teacher.token}"},
                timeout=10,
            )
            assert response.status_code == 201, response.text
            deadline = time.monotonic() + 20
            while len(inbox.messages) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            server.stop()

    assert sorted(m["To"] for m in inbox.messages) == sorted([admin.email, klass.teacher.email])
    subject = f"{ana.full_name} is at high risk in {klass.name}"
    assert {m["Subject"] for m in inbox.messages} == {subject}
