"""Taps carry an idempotency key and the version they saw: a replay is never applied twice,
and a tap made on stale information reports who changed the student instead of overwriting."""

from __future__ import annotations

from tests.factories import audit_trail, make_session, mark
from tests.web.conftest import cells, htmx_headers


def _tap(client, headers, session_id, student, **form):
    return client.post(
        f"/sessions/{session_id}/students/{student.profile_id}/status", data=form, headers=headers
    )


def _open(client, session_id):
    page = client.get(f"/sessions/{session_id}")
    assert page.status_code == 200
    return htmx_headers(page.text)


def test_a_replayed_tap_with_the_same_key_is_applied_once(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    client = browser_as(classroom.teacher)
    headers = _open(client, session_id)
    student = classroom.klass.students[0]

    first = _tap(client, headers, session_id, student, seen="", key="k-1", version="0")
    again = _tap(client, headers, session_id, student, seen="", key="k-1", version="0")

    assert first.status_code == again.status_code == 200
    assert cells(again.text)[str(student.profile_id)].get("data-status") == "PRESENT"
    assert len(audit_trail(app, session_id)) == 1


def test_the_same_tap_with_a_new_key_is_a_new_change(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    client = browser_as(classroom.teacher)
    headers = _open(client, session_id)
    student = classroom.klass.students[0]

    _tap(client, headers, session_id, student, seen="", key="k-1", version="0")
    second = _tap(client, headers, session_id, student, seen="PRESENT", key="k-2", version="1")

    assert cells(second.text)[str(student.profile_id)].get("data-status") == "ABSENT"
    assert [row["new_status"].value for row in audit_trail(app, session_id)] == [
        "PRESENT",
        "ABSENT",
    ]


def test_a_tap_on_a_student_someone_else_changed_meanwhile_is_not_applied(
    app, classroom, browser_as
):
    """The admin's page showed Adams unmarked (version 0); the teacher marked him LATE since.
    The admin's tap would cycle from a state that no longer exists, so it is refused and
    the tile says who changed it and shows the winning state."""
    session_id = make_session(app, classroom.klass)
    student = classroom.klass.students[0]
    admin = browser_as(classroom.admin)
    headers = _open(admin, session_id)
    mark(app, classroom.klass, session_id, student, "LATE")

    response = _tap(admin, headers, session_id, student, seen="", key="k-9", version="0")

    assert response.status_code == 200
    tile = cells(response.text)[str(student.profile_id)]
    assert tile.get("data-status") == "LATE"
    assert tile.get("data-conflict") == "PRESENT"
    notice = tile.find(attrs={"class": "cell-conflict"})
    assert notice.get("role") == "alert"
    text = notice.find("p", {"class": "conflict-text"}).text
    assert text.startswith(f"Not saved: {classroom.teacher.full_name} changed this to Late ")
    assert text.endswith("s ago; your Present was not applied.")
    apply = notice.find("button", {"class": "small conflict-apply"})
    assert apply.text == "Make it Present anyway"
    assert '"status": "PRESENT"' in apply.get("hx-vals")
    assert notice.find("button", attrs={"data-dismiss-conflict": True}).text == "Keep Late"
    assert len(audit_trail(app, session_id)) == 1  # only the teacher's mark


def test_a_tap_after_my_own_change_is_applied_even_with_an_old_version(app, classroom, browser_as):
    """Versions guard against other people's changes, not against my own quick taps."""
    session_id = make_session(app, classroom.klass)
    student = classroom.klass.students[0]
    client = browser_as(classroom.teacher)
    headers = _open(client, session_id)

    _tap(client, headers, session_id, student, seen="", key="a", version="0")
    response = _tap(client, headers, session_id, student, seen="PRESENT", key="b", version="0")

    assert cells(response.text)[str(student.profile_id)].get("data-status") == "ABSENT"
