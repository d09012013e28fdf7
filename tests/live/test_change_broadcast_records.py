"""A single change's ``attendance`` broadcast (a tap, a check-in, an excuse, an API PATCH)
is read back after the commit as columns: it must be exactly what reading the records back
through the ORM gives (the JSON text and key order included), late minutes, alert flag,
excuse and check-in too."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from attendance_app.extensions import db, socketio
from tests.factories import PASSWORD, make_admin, make_class, make_session, run_sessions
from tests.live.read_back import read_back
from tests.web.conftest import htmx_headers, login_as

START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


def _broadcast_records(listener) -> list[dict]:
    [event] = [m["args"][0] for m in listener.get_received() if m["name"] == "attendance"]
    return event["records"]


def _read_back(app, session_id: uuid.UUID, records: list[dict]) -> list[dict]:
    with app.app_context():
        found = read_back(session_id, [uuid.UUID(r["id"]) for r in records])
        db.session.remove()
    return found


def test_a_single_changes_broadcast_record_is_what_reading_it_back_gives(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=3)
    ana, ben, cy = klass.students
    # Ana is one absence from the alert line: the tap's ABSENT puts her over it.
    run_sessions(
        app, klass, [{ana: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 2], first_start=START
    )
    session_id = make_session(app, klass, start_at=datetime.now(UTC) - timedelta(minutes=13))
    listener = socketio.test_client(app, auth={"token": klass.teacher.token})
    assert listener.emit("join_session", {"session_id": str(session_id)}, callback=True)["ok"]
    listener.get_received()
    browser = app.test_client()
    assert login_as(browser, klass.teacher).status_code == 302
    headers = htmx_headers(browser.get(f"/sessions/{session_id}").text)
    api = app.test_client()
    teacher = {"Authorization": f"Bearer {klass.teacher.token}"}
    seen: list[dict] = []

    def tap(student, status: str) -> None:
        response = browser.post(
            f"/sessions/{session_id}/students/{student.profile_id}/status",
            data={"status": status},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        seen.extend(_broadcast_records(listener))

    tap(ana, "LATE")  # a first mark, late
    tap(ana, "ABSENT")  # a change, over the alert line
    tap(ben, "ABSENT")
    response = api.post(
        f"/api/attendance/{seen[-1]['id']}/excuse/",
        json={"reason": "MEDICAL"},
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert response.status_code == 200, response.text
    seen.extend(_broadcast_records(listener))
    response = api.patch(
        f"/api/attendance/{seen[0]['id']}/",
        json={"status": "LATE", "notes": "Zoë\u2019s bus \u2014 «again»"},
        headers=teacher,
    )
    assert response.status_code == 200, response.text
    seen.extend(_broadcast_records(listener))
    code = api.post(f"/api/sessions/{session_id}/check-in-code/", headers=teacher)
    assert code.status_code == 200, code.text
    token = api.post("/api/auth/token/", json={"email": cy.email, "password": PASSWORD})
    response = api.post(
        "/api/attendance/check-in/",
        json={"session_id": str(session_id), "code": code.json["code"]},
        headers={"Authorization": f"Bearer {token.json['token']}"},
    )
    assert response.status_code == 201, response.text
    seen.extend(_broadcast_records(listener))
    listener.disconnect()

    assert len(seen) == 6
    # Each broadcast as it was sent: compare every one with its record read back now, where
    # the record has not changed since (the last of each record's broadcasts).
    last = {r["id"]: r for r in seen}
    assert json.dumps(list(last.values())) == json.dumps(
        [r for record in last.values() for r in _read_back(app, session_id, [record])]
    )
    ana_late, ana_absent, ben_absent, ben_excused, ana_patched, cy_checked_in = seen
    assert ana_late["late_minutes"] == 13 and ana_late["alert"] == ""
    assert ana_absent["alert"] != "" and ana_absent["late_minutes"] is None
    assert (ben_excused["excused"], ben_excused["absence_reason"]) == (True, "MEDICAL")
    assert ben_absent["excused"] is False
    assert ana_patched["notes"].startswith("Zoë") and ana_patched["version"] == 3
    assert cy_checked_in["checked_in"] is True and cy_checked_in["marked_by"] == cy.full_name


def test_a_single_marks_broadcast_record_made_by_its_writer_is_what_reading_it_back_gives(app):
    """A first mark through the API (a teacher's, an admin's) is broadcast from the record
    the mark wrote and the alert check's decision in its transaction, not read back: it must
    be what reading it back gives, whether the mark raises an alert, changes its reason or
    leaves the student under the line."""
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=4)
    ana, ben, cy, dee = klass.students
    # Ana is one absence from the alert line; Dee is over it (three absences in a row).
    plan = [{ana: "PRESENT"} for _ in range(7)] + [{ana: "ABSENT", dee: "ABSENT"}] * 2
    run_sessions(app, klass, [*plan, {dee: "ABSENT"}], first_start=START)
    session_id = make_session(app, klass, start_at=datetime.now(UTC) - timedelta(minutes=11))
    listener = socketio.test_client(app, auth={"token": klass.teacher.token})
    assert listener.emit("join_session", {"session_id": str(session_id)}, callback=True)["ok"]
    listener.get_received()
    api = app.test_client()
    marks = [
        (ana, "ABSENT", None, klass.teacher),  # over the line
        (ben, "LATE", "Zoë\u2019s bus \u2014 «again»", klass.teacher),
        (cy, "PRESENT", "", admin),
        (dee, "PRESENT", None, klass.teacher),  # the run ends; still over the line or not
    ]
    sent = []
    for student, status, notes, marker in marks:
        body = {"session_id": str(session_id), "student_id": str(student.profile_id)}
        body["status"] = status
        if notes is not None:
            body["notes"] = notes
        response = api.post(
            "/api/attendance/mark/", json=body, headers={"Authorization": f"Bearer {marker.token}"}
        )
        assert response.status_code == 201, response.text
        [record] = _broadcast_records(listener)
        assert json.dumps([record]) == json.dumps(_read_back(app, session_id, [record]))
        sent.append(record)
    listener.disconnect()
    ana_absent, ben_late, cy_present, dee_present = sent
    assert ana_absent["alert"] != "" and ben_late["alert"] == ""
    assert ben_late["late_minutes"] == 11 and ben_late["notes"].startswith("Zoë")
    assert cy_present["marked_by"] == admin.full_name and cy_present["notes"] == ""
    assert dee_present["version"] == 1 and dee_present["checked_in"] is False


def test_a_changes_broadcast_record_made_by_its_writer_is_what_reading_it_back_gives(
    app, count_queries
):
    """A change of a marked record (an API PATCH, a roster tap, by a teacher or an admin) is
    broadcast from the record its writer read and wrote back, flagged by the alert check's
    decision in its transaction, or, for a change that runs no check, by the student's alert
    as read with the record (SQLite; PostgreSQL reads it back after the commit): it must be
    what reading it back gives, whether the change raises an alert, clears it, changes its
    reason or leaves it standing, on excused records and late ones too."""
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=4)
    ana, ben, cy, dee = klass.students
    # Ana is one absence from the alert line; Dee is over it (three absences in a row).
    plan = [{ana: "PRESENT", ben: "PRESENT"} for _ in range(7)]
    plan += [{ana: "ABSENT", dee: "ABSENT"}] * 2 + [{dee: "ABSENT"}]
    run_sessions(app, klass, plan, first_start=START)
    session_id = make_session(app, klass, start_at=datetime.now(UTC) - timedelta(minutes=13))
    listener = socketio.test_client(app, auth={"token": klass.teacher.token})
    assert listener.emit("join_session", {"session_id": str(session_id)}, callback=True)["ok"]
    listener.get_received()
    api = app.test_client()
    teacher = {"Authorization": f"Bearer {klass.teacher.token}"}
    by_admin = {"Authorization": f"Bearer {admin.token}"}
    browser = app.test_client()
    assert login_as(browser, klass.teacher).status_code == 302
    headers = htmx_headers(browser.get(f"/sessions/{session_id}").text)
    ids = {}
    for student, status in ((ana, "PRESENT"), (ben, "ABSENT"), (cy, "PRESENT"), (dee, "ABSENT")):
        body = {"session_id": str(session_id), "student_id": str(student.profile_id)}
        response = api.post(
            "/api/attendance/mark/", json={**body, "status": status}, headers=teacher
        )
        assert response.status_code == 201, response.text
        ids[student] = response.json["attendance"]["id"]
    excused = api.post(
        f"/api/attendance/{ids[ben]}/excuse/", json={"reason": "MEDICAL"}, headers=by_admin
    )
    assert excused.status_code == 200, excused.text
    listener.get_received()
    reads_back = "alert_states.reason \nFROM attendance JOIN students"  # changed_records'

    def patch(student, body: dict, who: dict) -> dict:
        with count_queries() as queries:
            response = api.patch(f"/api/attendance/{ids[student]}/", json=body, headers=who)
        assert response.status_code == 200, response.text
        return _sent(queries)

    def tap(student, status: str) -> dict:
        with count_queries() as queries:
            response = browser.post(
                f"/sessions/{session_id}/students/{student.profile_id}/status",
                data={"status": status},
                headers=headers,
            )
        assert response.status_code == 200, response.text
        return _sent(queries)

    def _sent(queries) -> dict:
        [record] = _broadcast_records(listener)
        assert json.dumps([record]) == json.dumps(_read_back(app, session_id, [record]))
        record["read back"] = any(reads_back in s for s in queries.statements)
        return record

    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    raised = patch(ana, {"status": "ABSENT"}, teacher)  # over the line
    neutral_over = patch(ana, {"notes": "Zoë\u2019s bus \u2014 «again»"}, by_admin)
    cleared = patch(ana, {"status": "LATE"}, teacher)  # the run ends
    late_tap = tap(cy, "LATE")  # PRESENT → LATE: no check, under the line
    excused_notes = patch(ben, {"notes": "seen"}, teacher)
    excused_late = patch(ben, {"status": "LATE"}, by_admin)
    unexcused = patch(ben, {"status": "PRESENT"}, teacher)
    standing = tap(dee, "ABSENT")  # a tap of the same status: no check, the alert stands
    changed = patch(dee, {"status": "PRESENT"}, by_admin)  # the run ends, the rate is low
    listener.disconnect()

    assert raised["alert"] != "" and neutral_over["alert"] == raised["alert"]
    assert cleared["alert"] == "" and cleared["late_minutes"] == 13
    assert neutral_over["notes"].startswith("Zoë") and neutral_over["marked_by"] == admin.full_name
    assert late_tap["late_minutes"] == 13 and late_tap["alert"] == ""
    assert (excused_notes["excused"], excused_notes["absence_reason"]) == (True, "MEDICAL")
    assert excused_late["excused"] is True and excused_late["late_minutes"] == 13
    assert (unexcused["excused"], unexcused["absence_reason"]) == (False, None)
    assert standing["alert"] != "" and changed["alert"] not in ("", standing["alert"])
    assert all(r["checked_in"] is False for r in (raised, late_tap, standing, changed))
    checked = [raised, cleared, excused_late, changed]  # the check decided
    assert not any(r["read back"] for r in checked)
    # No check ran (notes only, LATE ↔ PRESENT, the same status): read with the record on SQLite.
    neutral = [neutral_over, late_tap, excused_notes, unexcused, standing]
    assert [r["read back"] for r in neutral] == [not sqlite] * len(neutral)
