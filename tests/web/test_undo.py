"""Undo after a tap or a bulk action restores the previous state, is audited like any change,
and is refused once the session is locked or the student changed again."""

from __future__ import annotations

import re
from datetime import timedelta

from attendance_app.models import utcnow
from tests.factories import audit_trail, end_session, make_session, mark, stored_attendance
from tests.web.conftest import cells, htmx_headers, parse


def _open(client, session_id):
    page = client.get(f"/sessions/{session_id}")
    assert page.status_code == 200
    return htmx_headers(page.text)


def _tap(client, headers, session_id, student, **form):
    return client.post(
        f"/sessions/{session_id}/students/{student.profile_id}/status", data=form, headers=headers
    )


def _undo_values(html: str) -> dict:
    found = re.search(r'id="undo-button"[^>]*hx-vals=\'([^\']+)\'', html, re.S)
    assert found, "no Undo offered"
    import json

    return json.loads(found.group(1))


def test_undoing_a_first_tap_makes_the_student_unmarked_again(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    client = browser_as(classroom.teacher)
    headers = _open(client, session_id)
    student = classroom.klass.students[0]

    tapped = _tap(client, headers, session_id, student, seen="", key="t1", version="0")
    undone = client.post(
        f"/sessions/{session_id}/undo", data=_undo_values(tapped.text), headers=headers
    )

    assert undone.status_code == 200, undone.text
    assert cells(undone.text)[str(student.profile_id)].get("data-status") == ""
    assert stored_attendance(app, session_id) == {}
    trail = audit_trail(app, session_id)
    assert [(r["old_status"], r["new_status"]) for r in trail][-1][1] is None  # recorded


def test_undoing_a_change_restores_the_previous_status(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    client = browser_as(classroom.teacher)
    headers = _open(client, session_id)
    student = classroom.klass.students[0]
    _tap(client, headers, session_id, student, seen="", key="t1", version="0")
    changed = _tap(client, headers, session_id, student, seen="PRESENT", key="t2", version="1")

    undone = client.post(
        f"/sessions/{session_id}/undo", data=_undo_values(changed.text), headers=headers
    )

    assert cells(undone.text)[str(student.profile_id)].get("data-status") == "PRESENT"
    assert [str(s) for s in stored_attendance(app, session_id).values()] == ["PRESENT"]


def test_a_bulk_action_is_undone_as_one_group(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    client = browser_as(classroom.teacher)
    headers = _open(client, session_id)
    first = classroom.klass.students[0]
    _tap(client, headers, session_id, first, seen="", key="t1", version="0")
    bulk = client.post(
        f"/sessions/{session_id}/mark-unmarked", data={"status": "ABSENT"}, headers=headers
    )
    assert len(stored_attendance(app, session_id)) == 3

    undone = client.post(
        f"/sessions/{session_id}/undo", data=_undo_values(bulk.text), headers=headers
    )

    assert undone.status_code == 200
    # The tap before the bulk action stays; the two students it marked are unmarked again.
    assert {str(k): str(v) for k, v in stored_attendance(app, session_id).items()} == {
        str(first.profile_id): "PRESENT"
    }


def test_undo_is_refused_after_the_student_changed_again(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    client = browser_as(classroom.teacher)
    headers = _open(client, session_id)
    student = classroom.klass.students[0]
    first = _tap(client, headers, session_id, student, seen="", key="t1", version="0")
    _tap(client, headers, session_id, student, seen="PRESENT", key="t2", version="1")

    refused = client.post(
        f"/sessions/{session_id}/undo", data=_undo_values(first.text), headers=headers
    )

    assert refused.status_code == 400
    assert "can no longer be undone" in refused.text
    assert [str(s) for s in stored_attendance(app, session_id).values()] == ["ABSENT"]


def test_undo_is_refused_once_the_session_is_locked(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    client = browser_as(classroom.teacher)
    headers = _open(client, session_id)
    tapped = _tap(
        client, headers, session_id, classroom.klass.students[0], seen="", key="t1", version="0"
    )
    end_session(app, classroom.klass, session_id)

    refused = client.post(
        f"/sessions/{session_id}/undo", data=_undo_values(tapped.text), headers=headers
    )

    assert refused.status_code == 400
    assert "Cannot modify attendance - session ended and is locked" in refused.text
    assert len(stored_attendance(app, session_id)) == 1


def test_undoing_a_tap_away_from_late_shows_the_same_minutes_late_again(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass, start_at=utcnow() - timedelta(minutes=30))
    student = classroom.klass.students[0]
    record_id = mark(
        app, classroom.klass, session_id, student, "LATE", at=utcnow() - timedelta(minutes=18)
    )
    client = browser_as(classroom.teacher)
    headers = _open(client, session_id)
    assert _late_text(client.get(f"/sessions/{session_id}").text, student) == "+12 min"
    changed = _tap(client, headers, session_id, student, status="PRESENT", key="t1", version="1")

    undone = client.post(
        f"/sessions/{session_id}/undo", data=_undo_values(changed.text), headers=headers
    )

    assert undone.status_code == 200, undone.text
    assert _late_text(undone.text, student) == "+12 min"
    # The record page's audit trail shows the tap and its undo.
    page = browser_as(classroom.admin).get(f"/admin/records/{record_id}")
    assert page.status_code == 200
    rows = parse(page.text).one("table", {"class": "striped audit-table"}).find_all("tr")[1:]
    assert ["Late → Present" in r.text for r in rows] == [False, True, False]
    assert "Present → Late" in rows[2].text and "undo" in rows[2].text


def _late_text(html: str, student) -> str:
    return cells(html)[str(student.profile_id)].one(attrs={"class": "late-minutes"}).text
