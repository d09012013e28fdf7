"""A server process drops live connections of users who were deactivated or signed out
elsewhere (another process, the CLI), even if their page never leaves by itself."""

from __future__ import annotations

from attendance_app.extensions import socketio
from attendance_app.live.connections import sweep_once
from tests.factories import deactivate_user, make_admin, make_teacher


def test_a_deactivated_users_connection_is_dropped_by_the_sweep(app):
    teacher = make_teacher(app)
    admin = make_admin(app)
    gone = socketio.test_client(app, auth={"token": teacher.token})
    stays = socketio.test_client(app, auth={"token": admin.token})
    assert gone.is_connected() and stays.is_connected()

    deactivate_user(app, teacher)
    with app.app_context():
        assert sweep_once() == 1

    assert not gone.is_connected()
    assert stays.is_connected()
    stays.disconnect()


def test_the_sweep_leaves_valid_connections_alone(app):
    admin = make_admin(app)
    client = socketio.test_client(app, auth={"token": admin.token})
    with app.app_context():
        assert sweep_once() == 0
    assert client.is_connected()
    client.disconnect()
