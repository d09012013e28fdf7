"""Admins follow every session's statistics and status without joining each one (the
dashboard's live roll board); teachers do not."""

from __future__ import annotations

from attendance_app.extensions import socketio
from tests.factories import make_admin, make_class, make_session, mark


def test_admins_receive_every_sessions_statistics_without_joining(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2)
    session_id = make_session(app, klass)
    watching = socketio.test_client(app, auth={"token": admin.token})
    teacher = socketio.test_client(app, auth={"token": klass.teacher.token})

    mark(app, klass, session_id, klass.students[0], "PRESENT")

    stats = [m["args"][0] for m in watching.get_received() if m["name"] == "statistics"]
    assert stats and stats[-1]["session_id"] == str(session_id)
    assert stats[-1]["statistics"]["present"] == 1
    assert teacher.get_received() == []  # not joined: nothing
    watching.disconnect()
    teacher.disconnect()
