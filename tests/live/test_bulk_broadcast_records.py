"""A bulk mark's ``attendance`` broadcast is built from the records the bulk insert had in
hand, not read back: it must be exactly what reading them back gives (the JSON text, key
order and record order included) and agree with the session view read afterwards."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from attendance_app.extensions import db, socketio
from tests.factories import make_admin, make_class, make_session, mark, run_sessions
from tests.live.read_back import read_back

START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


def test_a_bulk_marks_broadcast_records_are_what_reading_them_back_gives(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=7)
    ana = klass.students[0]
    # Ana is one absence from the alert line: the bulk mark's ABSENT puts her over it.
    run_sessions(
        app, klass, [{ana: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 2], first_start=START
    )
    session_id = make_session(app, klass, start_at=datetime.now(UTC) - timedelta(minutes=17))
    listener = socketio.test_client(app, auth={"token": klass.teacher.token})
    assert listener.emit("join_session", {"session_id": str(session_id)}, callback=True)["ok"]
    listener.get_received()
    statuses = ["ABSENT", "PRESENT", "LATE", "LATE", "ABSENT", "PRESENT", "PRESENT"]
    notes = [None, "bus late", "", "Zoë\u2019s note \u2014 «ok»", None, None, "x" * 40]
    records = []
    for student, status, note in zip(klass.students, statuses, notes, strict=True):
        record = {"student_id": str(student.profile_id), "status": status}
        if note is not None:
            record["notes"] = note
        records.append(record)

    response = app.test_client().post(
        "/api/attendance/mark/",
        json={"session_id": str(session_id), "records": records},
        headers={"Authorization": f"Bearer {klass.teacher.token}"},
    )

    assert response.status_code == 201, response.json
    received = listener.get_received()
    listener.disconnect()
    session_events = [m for m in received if m["name"] in ("statistics", "attendance")]
    assert [m["name"] for m in session_events] == ["statistics", "attendance"]
    broadcast = session_events[1]["args"][0]["records"]
    with app.app_context():
        ids = [r["id"] for r in response.json["attendance_records"]]
        records = read_back(session_id)  # the bulk mark's records are the session's
        db.session.remove()
    assert sorted(r["id"] for r in broadcast) == sorted(ids)
    assert json.dumps(broadcast) == json.dumps(records)
    assert {r["alert"] != "" for r in broadcast} == {True, False}
    assert {r["late_minutes"] for r in broadcast if r["status"] == "LATE"} == {17}

    view = app.test_client().get(
        f"/api/attendance/session/{session_id}/",
        headers={"Authorization": f"Bearer {klass.teacher.token}"},
    )
    keys = ("id", "status", "notes", "marked_at", "marked_by")
    assert [
        (*(r[k] for k in keys), r["student"]["id"], r["student"]["student_id"])
        for r in view.json["records"]
    ] == [
        (*(r[k] for k in keys), r["student"]["id"], r["student"]["student_id"]) for r in broadcast
    ]


def test_a_bulk_mark_initialisations_broadcast_records_are_what_reading_them_back_gives(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=5)
    ana = klass.students[0]
    # Ana is one late-or-absence from the alert line: the fill's LATE puts her over it.
    run_sessions(
        app, klass, [{ana: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 2], first_start=START
    )
    session_id = make_session(app, klass, start_at=datetime.now(UTC) - timedelta(minutes=9))
    mark(app, klass, session_id, klass.students[1], "PRESENT")  # marked already: not filled
    listener = socketio.test_client(app, auth={"token": klass.teacher.token})
    assert listener.emit("join_session", {"session_id": str(session_id)}, callback=True)["ok"]
    listener.get_received()

    response = app.test_client().post(
        "/api/attendance/bulk-mark/",
        json={"session_id": str(session_id), "default_status": "LATE"},
        headers={"Authorization": f"Bearer {klass.teacher.token}"},
    )

    assert response.status_code == 201, response.json
    assert response.json["count"] == 4
    received = listener.get_received()
    listener.disconnect()
    attendance = [m["args"][0] for m in received if m["name"] == "attendance"]
    assert len(attendance) == 1
    broadcast = attendance[0]["records"]
    with app.app_context():
        records = read_back(session_id, [uuid.UUID(r["id"]) for r in broadcast])
        db.session.remove()
    assert len(records) == 4
    assert json.dumps(broadcast) == json.dumps(records)
    assert {r["late_minutes"] for r in broadcast} == {9}
