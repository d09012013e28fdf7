"""Live updates against real server processes (eventlet and gevent) with real Socket.IO
clients: who may listen, and that every committed change — and nothing else — is broadcast."""

from __future__ import annotations

import time

import pytest
import requests
import socketio

from tests.factories import (
    PASSWORD,
    make_student,
    make_teacher,
)
from tests.live.conftest import browser_login

pytestmark = pytest.mark.live


def _mark(server, token, session_id, student, status="PRESENT"):
    return requests.post(
        f"{server.url}/api/attendance/mark/",
        json={
            "session_id": str(session_id),
            "student_id": str(student.profile_id),
            "status": status,
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_a_connection_without_credentials_is_refused(live_server):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(live_server.url, transports=["websocket"], wait_timeout=5)
    assert not client.connected


def test_a_connection_with_a_bad_token_is_refused(live_server):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            live_server.url, auth={"token": "not-a-token"}, transports=["websocket"], wait_timeout=5
        )


def test_a_connection_from_another_origin_is_refused(live_server, test101):
    # Long-polling, so the Origin header is exactly ours (websocket-client adds its own).
    klass = test101.klass
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            live_server.url,
            auth={"token": klass.teacher.token},
            headers={"Origin": "https://evil.example"},
            transports=["polling"],
            wait_timeout=5,
        )
    assert not client.connected
    # The same connection from our own origin is accepted.
    ok = socketio.Client(reconnection=False)
    ok.connect(
        live_server.url,
        auth={"token": klass.teacher.token},
        headers={"Origin": live_server.url},
        transports=["polling"],
        wait_timeout=5,
    )
    assert ok.connected
    ok.disconnect()


def test_joining_another_teachers_session_is_refused(live_server, test101_session, listeners, app):
    session_id = test101_session
    stranger = make_teacher(app)
    listener = listeners().connect(live_server.url, token=stranger.token)
    ack = listener.join(session_id)
    assert ack == {"ok": False, "error": "You do not have permission to perform this action."}


def test_students_may_not_join_a_session(live_server, test101_session, listeners, app):
    session_id = test101_session
    student = make_student(app)
    listener = listeners().connect(live_server.url, token=student.token)
    assert listener.join(session_id)["ok"] is False


def test_joining_an_unknown_session_is_refused(live_server, test101, listeners):
    klass = test101.klass
    listener = listeners().connect(live_server.url, token=klass.teacher.token)
    assert listener.join("00000000-0000-0000-0000-000000000000") == {
        "ok": False,
        "error": "Session not found.",
    }
    assert listener.join("not-a-uuid")["ok"] is False


def test_two_views_receive_statistics_and_records_after_an_api_mark(
    live_server, test101, test101_session, listeners
):
    admin, klass = test101.admin, test101.klass
    session_id = test101_session
    teacher_view = listeners().connect(live_server.url, token=klass.teacher.token)
    admin_view = listeners().connect(live_server.url, token=admin.token)
    for view in (teacher_view, admin_view):
        ack = view.join(session_id)
        assert ack["ok"] is True
        assert ack["statistics"]["not_marked"] == 4

    response = _mark(live_server, klass.teacher.token, session_id, klass.students[0], "LATE")
    assert response.status_code == 201
    record_id = response.json()["attendance"]["id"]

    for view in (teacher_view, admin_view):
        stats = view.wait_for("statistics", lambda d: d["statistics"]["late"] == 1)
        assert stats["session_id"] == str(session_id)
        assert stats["statistics"] == {
            "total_enrolled": 4,
            "present": 0,
            "absent": 0,
            "late": 1,
            "not_marked": 3,
            "attendance_rate": 25.0,
        }
        records = view.wait_for("attendance")["records"]
        assert [r["id"] for r in records] == [record_id]
        assert records[0]["student"] == {
            "id": str(klass.students[0].profile_id),
            "student_id": klass.students[0].number,
        }
        assert records[0]["status"] == "LATE"
        assert records[0]["marked_by"] == klass.teacher.full_name


def _two_views(live_server, test101, test101_session, listeners):
    admin, klass = test101.admin, test101.klass
    session_id = test101_session
    views = [
        listeners().connect(live_server.url, token=klass.teacher.token),
        listeners().connect(live_server.url, token=admin.token),
    ]
    for view in views:
        assert view.join(session_id)["ok"] is True
    return views


def test_a_bulk_mark_is_broadcast_once_with_every_record(
    live_server, test101, test101_session, listeners
):
    klass = test101.klass
    session_id = test101_session
    views = _two_views(live_server, test101, test101_session, listeners)
    response = requests.post(
        f"{live_server.url}/api/attendance/bulk-mark/",
        json={"session_id": str(session_id), "default_status": "ABSENT"},
        headers={"Authorization": f"Bearer {klass.teacher.token}"},
        timeout=10,
    )
    assert response.status_code == 201 and response.json()["count"] == 4
    for view in views:
        assert len(view.wait_for("attendance")["records"]) == 4
        stats = view.wait_for("statistics", lambda d: d["statistics"]["absent"] == 4)
        assert stats["statistics"]["not_marked"] == 0
        time.sleep(0.2)  # a second broadcast, if there were one, would have arrived by now
        assert view.names().count("attendance") == 1


def test_an_htmx_tap_in_the_browser_is_broadcast(live_server, test101, test101_session, listeners):
    klass = test101.klass
    session_id = test101_session
    views = _two_views(live_server, test101, test101_session, listeners)
    browser = browser_login(live_server, klass.teacher.email, PASSWORD)
    student = klass.students[1]
    response = browser.post(
        f"{live_server.url}/sessions/{session_id}/students/{student.profile_id}/status",
        data={"seen": ""},
        headers={"HX-Request": "true", "X-CSRFToken": browser.csrf},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert 'data-status="PRESENT"' in response.text
    for view in views:
        records = view.wait_for("attendance")["records"]
        assert records[0]["student"]["id"] == str(student.profile_id)
        assert records[0]["status"] == "PRESENT"
        assert view.wait_for("statistics", lambda d: d["statistics"]["present"] == 1)


def test_ending_the_session_broadcasts_its_new_status(
    live_server, test101, test101_session, listeners
):
    klass = test101.klass
    session_id = test101_session
    view = listeners().connect(live_server.url, token=klass.teacher.token)
    view.join(session_id)
    response = requests.post(
        f"{live_server.url}/api/sessions/{session_id}/end/",
        headers={"Authorization": f"Bearer {klass.teacher.token}"},
        timeout=10,
    )
    assert response.status_code == 200
    event = view.wait_for("session")
    assert {k: event[k] for k in ("session_id", "status", "is_locked")} == {
        "session_id": str(session_id),
        "status": "ENDED",
        "is_locked": True,
    }
    assert "attendance" not in view.names()


def test_a_refused_mark_broadcasts_nothing(live_server, test101, test101_session, listeners):
    klass = test101.klass
    session_id = test101_session
    view = listeners().connect(live_server.url, token=klass.teacher.token)
    view.join(session_id)
    assert _mark(live_server, klass.teacher.token, session_id, klass.students[0]).status_code == 201
    first = view.wait_for("attendance")
    seen = len(view.events)
    again = _mark(live_server, klass.teacher.token, session_id, klass.students[0])
    assert again.status_code == 409
    # A later, successful change proves the pipe works and that nothing came in between
    # (presence, announced up to half a second after the join, may arrive at any point).
    assert _mark(live_server, klass.teacher.token, session_id, klass.students[2]).status_code == 201
    later = view.wait_for(
        "attendance",
        lambda d: d["records"][0]["student"]["id"] == str(klass.students[2].profile_id),
    )
    between = [name for name, _ in view.events[seen:] if name != "presence"]
    assert between == ["statistics", "attendance"]
    assert later["seq"] == first["seq"] + 1


def test_sequence_numbers_increase_with_every_change(
    live_server, test101, test101_session, listeners
):
    klass = test101.klass
    session_id = test101_session
    view = listeners().connect(live_server.url, token=klass.teacher.token)
    first = view.join(session_id)["seq"]
    for student in klass.students[:3]:
        assert _mark(live_server, klass.teacher.token, session_id, student).status_code == 201
    deadline = time.monotonic() + 10
    while view.names().count("attendance") < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    seqs = [d["seq"] for e, d in view.events if e == "attendance"]
    assert seqs == [first + 1, first + 2, first + 3]
