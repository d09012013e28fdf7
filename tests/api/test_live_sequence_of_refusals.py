"""A mark (single or bulk) or a correction takes the session's next live sequence number in
its first statement (the session's read is its ``live_seq`` bump): every refusal after it
must give the number back, or the next broadcast would leave a gap every live view resyncs
on."""

from __future__ import annotations

import uuid

from attendance_app.extensions import db
from attendance_app.models import ClassSession
from tests.factories import end_session, make_session, make_student, make_teacher, mark

MARK = "/api/attendance/mark/"


def live_seq(app, session_id: uuid.UUID) -> int:
    with app.app_context():
        seq = db.session.get(ClassSession, session_id).live_seq
        db.session.remove()
    return seq


def mark_body(session_id: uuid.UUID, student_id: uuid.UUID, status: str = "PRESENT") -> dict:
    return {"session_id": str(session_id), "student_id": str(student_id), "status": status}


def test_a_refused_mark_leaves_the_sessions_sequence_where_it_was(app, api_as, test101):
    klass, john, jane = test101.klass, test101.john, test101.jane
    session_id = make_session(app, klass)
    mark(app, klass, session_id, john, "PRESENT")
    outsider = make_student(app)
    api = api_as(klass.teacher)
    before = live_seq(app, session_id)

    refusals = [
        (api_as(make_teacher(app)), mark_body(session_id, jane.profile_id), 403),
        (api, mark_body(session_id, uuid.uuid4()), 404),
        (api, mark_body(session_id, outsider.profile_id), 400),
        (api, mark_body(session_id, john.profile_id, "ABSENT"), 409),
    ]
    for client, body, status in refusals:
        assert client.post(MARK, json=body).status_code == status
    assert live_seq(app, session_id) == before

    assert api.post(MARK, json=mark_body(session_id, jane.profile_id)).status_code == 201
    assert live_seq(app, session_id) == before + 1


def bulk_body(session_id: uuid.UUID, *entries: tuple[uuid.UUID, str]) -> dict:
    return {
        "session_id": str(session_id),
        "records": [{"student_id": str(sid), "status": status} for sid, status in entries],
    }


def test_a_refused_bulk_mark_leaves_the_sessions_sequence_where_it_was(app, api_as, test101):
    klass, john, jane = test101.klass, test101.john, test101.jane
    session_id = make_session(app, klass)
    mark(app, klass, session_id, john, "PRESENT")
    outsider = make_student(app)
    api = api_as(klass.teacher)
    jane_present = (jane.profile_id, "PRESENT")
    before = live_seq(app, session_id)

    refusals = [
        (api_as(make_teacher(app)), bulk_body(session_id, jane_present), 403),
        (api, bulk_body(session_id, jane_present, (uuid.uuid4(), "PRESENT")), 404),
        (api, bulk_body(session_id, jane_present, (outsider.profile_id, "LATE")), 400),
        (api, bulk_body(session_id, jane_present, (john.profile_id, "ABSENT")), 409),
    ]
    for client, body, status in refusals:
        assert client.post(MARK, json=body).status_code == status
    assert live_seq(app, session_id) == before

    assert api.post(MARK, json=bulk_body(session_id, jane_present)).status_code == 201
    assert live_seq(app, session_id) == before + 1


def test_a_refused_correction_leaves_the_sessions_sequence_where_it_was(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, john, "PRESENT")
    url = f"/api/attendance/{record_id}/"
    before = live_seq(app, session_id)

    assert api_as(make_teacher(app)).patch(url, json={"status": "LATE"}).status_code == 403
    assert live_seq(app, session_id) == before
    assert api_as(klass.teacher).patch(url, json={"status": "LATE"}).status_code == 200
    assert live_seq(app, session_id) == before + 1

    end_session(app, klass, session_id)
    ended = live_seq(app, session_id)
    assert api_as(klass.teacher).patch(url, json={"status": "ABSENT"}).status_code == 400
    assert live_seq(app, session_id) == ended
