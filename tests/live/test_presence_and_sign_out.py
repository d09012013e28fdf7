"""Who is marking (presence) and signing out, against real server processes."""

from __future__ import annotations

import time

import pytest

from attendance_app.live.presence import ANNOUNCE_SECONDS
from tests.factories import PASSWORD, make_admin
from tests.live.conftest import browser_login

pytestmark = pytest.mark.live


def test_every_view_learns_how_many_people_are_marking(
    live_server, test101, test101_session, listeners
):
    admin, klass = test101.admin, test101.klass
    session_id = test101_session
    teacher_view = listeners().connect(live_server.url, token=klass.teacher.token)
    assert teacher_view.join(session_id)["viewers"]["count"] == 1

    admin_view = listeners().connect(live_server.url, token=admin.token)
    ack = admin_view.join(session_id)
    assert ack["viewers"] == {"count": 2, "names": sorted(["Ada Admin", klass.teacher.full_name])}
    assert (
        teacher_view.wait_for("presence", lambda d: d["count"] == 2)["names"]
        == ack["viewers"]["names"]
    )

    admin_view.close()
    left = teacher_view.wait_for("presence", lambda d: d["count"] == 1)
    assert left["names"] == [klass.teacher.full_name]


def test_one_person_with_two_tabs_counts_once(live_server, test101, test101_session, listeners):
    klass = test101.klass
    session_id = test101_session
    first = listeners().connect(live_server.url, token=klass.teacher.token)
    second = listeners().connect(live_server.url, token=klass.teacher.token)
    first.join(session_id)
    assert second.join(session_id)["viewers"]["count"] == 1


def test_a_burst_of_joins_and_leaves_ends_with_the_exact_count(
    live_server, test101, test101_session, listeners, app
):
    admin, klass, session_id = test101.admin, test101.klass, test101_session
    teacher_view = listeners().connect(live_server.url, token=klass.teacher.token)
    teacher_view.join(session_id)
    admins = [admin] + [
        make_admin(app, first_name=f"Extra{i}", last_name="Admin") for i in range(4)
    ]
    views = []
    for person in admins:
        view = listeners().connect(live_server.url, token=person.token)
        assert view.join(session_id)["ok"] is True
        views.append(view)
    for view in views[:2]:
        view.close()
    expected = sorted([klass.teacher.full_name] + [p.full_name for p in admins[2:]])
    teacher_view.wait_for("presence", lambda d: d["names"] == expected)
    time.sleep(ANNOUNCE_SECONDS * 3)  # anything still coming would have come by now
    last = [data for name, data in teacher_view.events if name == "presence"][-1]
    assert last == {"session_id": str(session_id), "count": 4, "names": expected}


def test_a_second_tab_of_someone_already_viewing_is_not_announced(
    live_server, test101, test101_session, listeners
):
    klass, session_id = test101.klass, test101_session
    first = listeners().connect(live_server.url, token=klass.teacher.token)
    first.join(session_id)
    first.wait_for("presence", lambda d: d["count"] == 1)
    time.sleep(ANNOUNCE_SECONDS * 2)
    second = listeners().connect(live_server.url, token=klass.teacher.token)
    assert second.join(session_id)["viewers"]["count"] == 1
    second.close()
    time.sleep(ANNOUNCE_SECONDS * 3)
    assert first.names().count("presence") == 1


def test_signing_out_closes_the_users_live_connections(
    live_server, test101, test101_session, listeners
):
    klass = test101.klass
    session_id = test101_session
    browser = browser_login(live_server, klass.teacher.email, PASSWORD)
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    view = listeners().connect(live_server.url, headers={"Cookie": cookie})
    assert view.join(session_id)["ok"] is True

    response = browser.post(
        f"{live_server.url}/logout",
        data={"csrf_token": browser.csrf},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    view.wait_for("signed_out")
    deadline = time.monotonic() + 10
    while view.client.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not view.client.connected
    # The old login cookie no longer opens pages or sockets.
    assert browser.get(f"{live_server.url}/", allow_redirects=False, timeout=10).status_code == 302
