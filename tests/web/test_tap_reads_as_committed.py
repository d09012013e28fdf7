"""A tap's answer is read in the tap's own transaction, just before its commit (after its
writes and the alert check, under the session's lock), and the broadcast takes the answer's
statistics instead of counting again: the tile, the answer's figures and the live figures
are the committed state, the same as a read after the commit."""

from __future__ import annotations

import re

from attendance_app.extensions import socketio
from tests.factories import make_session, mark, unenroll
from tests.web.conftest import cells, htmx_headers, stats


def _api_statistics(api_as, classroom, session_id) -> dict[str, str]:
    body = api_as(classroom.teacher).get(f"/api/attendance/session/{session_id}/").get_json()
    return {name: str(value) for name, value in body["statistics"].items()}


def _tile(html: str, student) -> str:
    found = re.search(
        rf'<li class="cell[^"]*" id="cell-{student.profile_id}".*?</li>', html, re.DOTALL
    )
    assert found, "no tile for the student"
    return found.group(0)


def _section(html: str) -> str:
    found = re.search(r'<section id="roster-stats".*?</section>', html, re.DOTALL)
    assert found, "no statistics"
    return found.group(0).replace(' hx-swap-oob="true"', " ")


def test_a_taps_answer_its_broadcast_and_a_later_read_agree_on_the_statistics(
    app, classroom, browser_as, api_as
):
    adams, baker, carter = classroom.klass.students
    session_id = make_session(app, classroom.klass)
    # A record of a student no longer enrolled is counted as the contract says, by both.
    mark(app, classroom.klass, session_id, carter, "ABSENT")
    unenroll(app, classroom.klass, carter, admin=classroom.admin)
    client = browser_as(classroom.teacher)
    headers = htmx_headers(client.get(f"/sessions/{session_id}").text)
    listener = socketio.test_client(app, flask_test_client=client)
    assert listener.emit("join_session", {"session_id": str(session_id)}, callback=True)["ok"]
    listener.get_received()

    for student, status in [
        (adams, "PRESENT"),
        (baker, "LATE"),
        (adams, "ABSENT"),
        (baker, "PRESENT"),
        (adams, "LATE"),
    ]:
        answer = client.post(
            f"/sessions/{session_id}/students/{student.profile_id}/status",
            data={"status": status},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        heard = [m["args"][0] for m in listener.get_received() if m["name"] == "statistics"]
        assert len(heard) == 1
        live = {name: str(value) for name, value in heard[0]["statistics"].items()}

        after = _api_statistics(api_as, classroom, session_id)
        assert stats(answer.text) == live == after
        assert cells(answer.text)[str(student.profile_id)].get("data-status") == status
        # The tile and the figures are, byte for byte, what the page then shows.
        page = client.get(f"/sessions/{session_id}").text
        assert _tile(answer.text, student) == _tile(page, student)
        assert _section(answer.text) == _section(page)
    listener.disconnect()
