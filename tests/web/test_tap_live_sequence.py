"""A tap takes the session's next live sequence number in its first statement (its read is
the session's ``live_seq`` bump): a tap that writes nothing — replayed, stale, or refused by
a rule — must give the number back, so that the live views, which resync on any gap, see
the applied taps' numbers one after the other."""

from __future__ import annotations

import uuid

from attendance_app.extensions import db, socketio
from attendance_app.models import ClassSession
from tests.factories import end_session, make_session
from tests.web.conftest import cells, htmx_headers


def live_seq(app, session_id: uuid.UUID) -> int:
    with app.app_context():
        seq = db.session.get(ClassSession, session_id).live_seq
        db.session.remove()
    return seq


def test_taps_that_write_nothing_leave_the_sessions_sequence_where_it_was(
    app, classroom, browser_as
):
    session_id = make_session(app, classroom.klass)
    adams, baker, _ = classroom.klass.students
    client = browser_as(classroom.teacher)
    headers = htmx_headers(client.get(f"/sessions/{session_id}").text)
    listener = socketio.test_client(app, flask_test_client=client)
    assert listener.emit("join_session", {"session_id": str(session_id)}, callback=True)["ok"]
    listener.get_received()

    def tap(student, answer: int = 200, **form):
        url = f"/sessions/{session_id}/students/{student.profile_id}/status"
        response = client.post(url, data=form, headers=headers)
        assert response.status_code == answer, response.text
        return cells(response.text)[str(student.profile_id)]

    def heard() -> list[int]:
        return [m["args"][0]["seq"] for m in listener.get_received() if m["name"] == "attendance"]

    tap(adams, seen="", key="k-1", version="0")
    first = live_seq(app, session_id)
    assert heard() == [first]

    replayed = tap(adams, seen="", key="k-1", version="0")
    assert replayed.get("data-status") == "PRESENT"
    # The admin marked Baker since the teacher's page showed him unmarked (version 0).
    admin = browser_as(classroom.admin)
    admin_headers = htmx_headers(admin.get(f"/sessions/{session_id}").text)
    response = admin.post(
        f"/sessions/{session_id}/students/{baker.profile_id}/status",
        data={"status": "LATE"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    marked = live_seq(app, session_id)
    assert marked == first + 1
    heard()
    stale = tap(baker, seen="", key="k-2", version="0")
    assert (stale.get("data-status"), stale.get("data-conflict")) == ("LATE", "PRESENT")
    assert live_seq(app, session_id) == marked
    assert heard() == []

    tap(baker, status="ABSENT", key="k-3", version="1")
    assert live_seq(app, session_id) == marked + 1
    assert heard() == [marked + 1]

    end_session(app, classroom.klass, session_id)
    ended = live_seq(app, session_id)
    refused = tap(adams, 400, status="ABSENT", key="k-4")  # rule 3: the session has ended
    assert refused.find(attrs={"class": "cell-error"}) is not None
    assert live_seq(app, session_id) == ended
    listener.disconnect()
