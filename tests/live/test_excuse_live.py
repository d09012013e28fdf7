"""An excuse reaches every open view of the session live, with the record's new excuse, also
after the session ended."""

from __future__ import annotations

import pytest
import requests

from tests.factories import end_session, make_admin, make_class, make_session, mark

pytestmark = pytest.mark.live


def test_an_excuse_on_an_ended_session_is_broadcast_with_excused_and_its_reason(
    app, live_server, listeners
):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2)
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")
    end_session(app, klass, session_id)
    view = listeners().connect(live_server.url, token=klass.teacher.token)
    assert view.join(session_id)["ok"] is True

    response = requests.post(
        f"{live_server.url}/api/attendance/{record_id}/excuse/",
        json={"reason": "MEDICAL"},
        headers={"Authorization": f"Bearer {admin.token}"},
        timeout=10,
    )

    assert response.status_code == 200, response.text
    [record] = view.wait_for("attendance")["records"]
    assert record["id"] == str(record_id)
    assert (record["status"], record["excused"], record["absence_reason"]) == (
        "ABSENT",
        True,
        "MEDICAL",
    )
    stats = view.wait_for("statistics")["statistics"]
    assert (stats["absent"], stats["not_marked"]) == (1, 1)

    requests.delete(
        f"{live_server.url}/api/attendance/{record_id}/excuse/",
        headers={"Authorization": f"Bearer {admin.token}"},
        timeout=10,
    )
    withdrawn = view.wait_for("attendance", lambda d: not d["records"][0]["excused"])
    assert withdrawn["records"][0]["absence_reason"] is None


def test_a_change_to_present_is_broadcast_no_longer_excused_and_to_late_still_excused(
    app, live_server, listeners
):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2)
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")
    view = listeners().connect(live_server.url, token=admin.token)
    assert view.join(session_id)["ok"] is True
    headers = {"Authorization": f"Bearer {klass.teacher.token}"}
    requests.post(
        f"{live_server.url}/api/attendance/{record_id}/excuse/",
        json={"reason": "ILLNESS"},
        headers=headers,
        timeout=10,
    )
    view.wait_for("attendance", lambda d: d["records"][0]["excused"])

    for status, excused, reason in (("LATE", True, "ILLNESS"), ("PRESENT", False, None)):
        response = requests.patch(
            f"{live_server.url}/api/attendance/{record_id}/",
            json={"status": status},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        [record] = view.wait_for("attendance", lambda d, s=status: d["records"][0]["status"] == s)[
            "records"
        ]
        assert (record["excused"], record["absence_reason"]) == (excused, reason)
