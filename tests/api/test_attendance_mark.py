"""POST /api/attendance/mark/ with a single record: body, the four rules, their order, who may."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from attendance_app.extensions import db
from attendance_app.models import AttendanceChange
from tests.factories import (
    make_class,
    make_session,
    make_student,
    make_teacher,
    mark,
    stored_attendance,
    unenroll,
)

URL = "/api/attendance/mark/"
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_STARTED = {"session": ["Cannot mark attendance - session has not started"]}
ALREADY_MARKED = {
    "non_field_errors": ["Attendance already marked for this student in this session"]
}


def body(session_id, student, status="PRESENT", **extra) -> dict:
    return {
        "session_id": str(session_id),
        "student_id": str(getattr(student, "profile_id", student)),
        "status": status,
        **extra,
    }


# --- success ---------------------------------------------------------------------------------


def test_marking_returns_201_with_the_contract_body(app, api_as, test101):
    klass, john = test101.klass, test101.john
    started = datetime(2026, 1, 10, 14, 0, 5, tzinfo=UTC)
    session_id = make_session(app, klass, start_at=started)

    resp = api_as(klass.teacher).post(URL, json=body(session_id, john, notes="On time"))

    assert resp.status_code == 201, resp.json
    attendance = resp.json["attendance"]
    assert resp.json == {
        "message": "Attendance marked successfully",
        "attendance": {
            "id": attendance["id"],
            "session": {
                "id": str(session_id),
                "class_name": "TEST101 Section A",
                "start_time": "2026-01-10T14:00:05Z",
            },
            "student": {
                "id": str(john.profile_id),
                "student_id": "S12345",
                "first_name": "John",
                "last_name": "Doe",
            },
            "status": "PRESENT",
            "marked_at": attendance["marked_at"],
            "marked_by": "Tina Lee",
        },
    }
    uuid.UUID(attendance["id"])
    assert ISO_Z.match(attendance["marked_at"])
    marked_at = datetime.fromisoformat(attendance["marked_at"].replace("Z", "+00:00"))
    assert abs(marked_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert stored_attendance(app, session_id) == {john.profile_id: "PRESENT"}


@pytest.mark.parametrize("status", ["PRESENT", "ABSENT", "LATE"])
def test_every_status_can_be_marked(app, api_as, test101, status):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(URL, json=body(session_id, john, status))

    assert resp.status_code == 201, resp.json
    assert resp.json["attendance"]["status"] == status
    assert stored_attendance(app, session_id) == {john.profile_id: status}


def test_the_notes_of_a_mark_are_stored(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    api = api_as(klass.teacher)

    api.post(URL, json=body(session_id, john, "LATE", notes="Bus was late"))

    view = api.get(f"/api/attendance/session/{session_id}/").json
    assert view["records"][0]["notes"] == "Bus was late"


def test_an_admin_may_mark_and_becomes_marked_by(app, api_as, test101):
    admin, klass, john = test101.admin, test101.klass, test101.john
    session_id = make_session(app, klass)

    resp = api_as(admin).post(URL, json=body(session_id, john))

    assert resp.status_code == 201, resp.json
    assert resp.json["attendance"]["marked_by"] == admin.full_name


def test_the_token_scheme_word_is_accepted(app, client, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)

    resp = client.post(
        URL,
        json=body(session_id, john),
        headers={"Authorization": f"Token {klass.teacher.token}"},
    )

    assert resp.status_code == 201, resp.json


def test_unknown_fields_in_the_body_are_ignored(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL, json=body(session_id, john, colour="blue", marked_by="someone else")
    )

    assert resp.status_code == 201, resp.json
    assert resp.json["attendance"]["marked_by"] == "Tina Lee"


# --- rule 1: only an ACTIVE session ----------------------------------------------------------


def test_marking_an_ended_session_is_refused_with_its_end_time(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(
        app,
        klass,
        end=True,
        start_at=datetime(2026, 1, 10, 13, 30, tzinfo=UTC),
        end_at=datetime(2026, 1, 10, 14, 30, tzinfo=UTC),
    )

    resp = api_as(klass.teacher).post(URL, json=body(session_id, john))

    assert resp.status_code == 400
    assert resp.json == {
        "session": ["Cannot mark attendance - session ended at 14:30 on Jan 10, 2026"]
    }
    assert stored_attendance(app, session_id) == {}


def test_the_end_day_in_the_message_is_not_zero_padded_but_the_hour_is(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(
        app,
        klass,
        end=True,
        start_at=datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
        end_at=datetime(2026, 1, 5, 9, 5, tzinfo=UTC),
    )

    resp = api_as(klass.teacher).post(URL, json=body(session_id, john))

    assert resp.status_code == 400
    assert resp.json == {
        "session": ["Cannot mark attendance - session ended at 09:05 on Jan 5, 2026"]
    }


def test_the_end_time_in_the_message_is_given_in_utc(app, api_as, test101):
    klass, john = test101.klass, test101.john
    plus_two = timezone(timedelta(hours=2))
    session_id = make_session(
        app,
        klass,
        end=True,
        start_at=datetime(2026, 3, 1, 0, 30, tzinfo=plus_two),
        end_at=datetime(2026, 3, 1, 1, 15, tzinfo=plus_two),
    )

    resp = api_as(klass.teacher).post(URL, json=body(session_id, john))

    assert resp.json == {
        "session": ["Cannot mark attendance - session ended at 23:15 on Feb 28, 2026"]
    }


def test_marking_a_scheduled_session_is_refused_as_not_started(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass, start=False)

    resp = api_as(klass.teacher).post(URL, json=body(session_id, john))

    assert resp.status_code == 400
    assert resp.json == NOT_STARTED
    assert stored_attendance(app, session_id) == {}


# --- rule 4: only enrolled students ----------------------------------------------------------


def test_marking_a_student_outside_the_class_names_student_and_class(app, api_as, test101):
    klass = test101.klass
    outsider = make_student(app, number="S99999", with_token=False)
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(URL, json=body(session_id, outsider))

    assert resp.status_code == 400
    assert resp.json == {"student": ["Student 'S99999' is not enrolled in 'TEST101 Section A'"]}
    assert stored_attendance(app, session_id) == {}


def test_the_enrolment_message_uses_the_number_of_the_student_not_the_uuid(app, api_as, test101):
    admin, klass = test101.admin, test101.klass
    other = make_class(app, admin=admin, students=1, name="MATH200 Group 2")
    session_id = make_session(app, other)
    stranger = klass.students[0]

    resp = api_as(other.teacher).post(URL, json=body(session_id, stranger))

    assert resp.json == {"student": ["Student 'S12345' is not enrolled in 'MATH200 Group 2'"]}


# --- rule 2: one record per student per session ----------------------------------------------


def test_marking_a_student_twice_is_a_conflict(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    api = api_as(klass.teacher)
    assert api.post(URL, json=body(session_id, john, "PRESENT")).status_code == 201

    resp = api.post(URL, json=body(session_id, john, "ABSENT"))

    assert resp.status_code == 409
    assert resp.json == ALREADY_MARKED
    assert stored_attendance(app, session_id) == {john.profile_id: "PRESENT"}


def test_an_admin_marking_a_student_the_teacher_marked_is_a_conflict(app, api_as, test101):
    admin, klass, john = test101.admin, test101.klass, test101.john
    session_id = make_session(app, klass)
    mark(app, klass, session_id, john, "LATE")

    resp = api_as(admin).post(URL, json=body(session_id, john, "PRESENT"))

    assert resp.status_code == 409
    assert resp.json == ALREADY_MARKED


def test_concurrent_marks_of_one_student_create_exactly_one_record(app, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def post(status: str) -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post(
            URL,
            json=body(session_id, john, status),
            headers={"Authorization": f"Bearer {klass.teacher.token}"},
        )
        codes.append(resp.status_code)

    threads = [threading.Thread(target=post, args=(s,)) for s in ["PRESENT", "ABSENT", "LATE"] * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(codes) == [201, 409, 409, 409, 409, 409]
    assert len(stored_attendance(app, session_id)) == 1


def test_the_same_student_may_be_marked_in_two_sessions(app, api_as, test101):
    klass, john = test101.klass, test101.john
    first = make_session(app, klass)
    second = make_session(app, klass)
    api = api_as(klass.teacher)

    assert api.post(URL, json=body(first, john)).status_code == 201
    assert api.post(URL, json=body(second, john)).status_code == 201


# --- not found --------------------------------------------------------------------------------


def test_an_unknown_session_is_404(app, api_as, test101):
    klass, john = test101.klass, test101.john

    resp = api_as(klass.teacher).post(URL, json=body(uuid.uuid4(), john))

    assert resp.status_code == 404
    assert set(resp.json) == {"detail"}


def test_an_unknown_student_is_404(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(URL, json=body(session_id, uuid.uuid4()))

    assert resp.status_code == 404
    assert set(resp.json) == {"detail"}


# --- order of checks, each proven by a request that breaks two rules --------------------------


def test_authentication_is_checked_before_the_body(client):
    resp = client.post(URL, data="{not json", content_type="application/json")

    assert resp.status_code == 401
    assert resp.json == NOT_AUTHENTICATED


def test_the_body_shape_is_checked_before_the_session_exists(app, api_as, test101):
    klass, john = test101.klass, test101.john

    resp = api_as(klass.teacher).post(URL, json=body(uuid.uuid4(), john, "HERE"))

    assert resp.status_code == 400
    assert resp.json == {"status": ['"HERE" is not a valid choice.']}


def test_the_session_exists_is_checked_before_permission(app, api_as, test101):
    john = test101.john
    stranger = make_teacher(app)

    resp = api_as(stranger).post(URL, json=body(uuid.uuid4(), john))

    assert resp.status_code == 404


def test_permission_is_checked_before_the_session_state(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass, end=True)

    resp = api_as(make_teacher(app)).post(URL, json=body(session_id, john))

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_the_session_state_is_checked_before_the_student_exists(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass, start=False)

    resp = api_as(klass.teacher).post(URL, json=body(session_id, uuid.uuid4()))

    assert resp.status_code == 400
    assert resp.json == NOT_STARTED


def test_the_session_state_is_checked_before_enrolment(app, api_as, test101):
    klass = test101.klass
    outsider = make_student(app, with_token=False)
    session_id = make_session(
        app,
        klass,
        end=True,
        start_at=datetime(2026, 1, 10, 13, 0, tzinfo=UTC),
        end_at=datetime(2026, 1, 10, 14, 30, tzinfo=UTC),
    )

    resp = api_as(klass.teacher).post(URL, json=body(session_id, outsider))

    assert resp.status_code == 400
    assert resp.json == {
        "session": ["Cannot mark attendance - session ended at 14:30 on Jan 10, 2026"]
    }


def test_enrolment_is_checked_before_the_duplicate_rule(app, api_as, test101):
    admin, klass, john = test101.admin, test101.klass, test101.john
    session_id = make_session(app, klass)
    mark(app, klass, session_id, john, "PRESENT")
    unenroll(app, klass, john, admin=admin)

    resp = api_as(klass.teacher).post(URL, json=body(session_id, john))

    assert resp.status_code == 400
    assert resp.json == {"student": ["Student 'S12345' is not enrolled in 'TEST101 Section A'"]}


def test_a_student_is_refused_even_for_a_session_that_has_ended(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass, end=True)

    resp = api_as(john).post(URL, json=body(session_id, john))

    assert resp.status_code == 403


# --- permissions ------------------------------------------------------------------------------


def test_another_teacher_may_not_mark_in_a_session_of_a_class_they_do_not_teach(
    app, api_as, test101
):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)

    resp = api_as(make_teacher(app)).post(URL, json=body(session_id, john))

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN
    assert stored_attendance(app, session_id) == {}


def test_a_refused_mark_leaves_no_record_and_no_audit_row(app, api_as, test101):
    """Another teacher's mark and a mark in an ended session are refused whole: no record, no
    audit row, and the student can still be marked."""
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    ended_id = make_session(app, klass, end=True)

    refused = [
        api_as(make_teacher(app)).post(URL, json=body(session_id, john)),
        api_as(klass.teacher).post(URL, json=body(ended_id, john)),
    ]

    assert [r.status_code for r in refused] == [403, 400]
    with app.app_context():
        changes = db.session.scalar(
            select(func.count())
            .select_from(AttendanceChange)
            .where(AttendanceChange.session_id.in_([session_id, ended_id]))
        )
        db.session.remove()
    assert (stored_attendance(app, session_id), stored_attendance(app, ended_id), changes) == (
        {},
        {},
        0,
    )
    assert api_as(klass.teacher).post(URL, json=body(session_id, john)).status_code == 201


def test_a_student_may_not_mark_even_themself(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)

    resp = api_as(john).post(URL, json=body(session_id, john))

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN
    assert stored_attendance(app, session_id) == {}


def test_a_request_without_a_token_is_401(app, client, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)

    resp = client.post(URL, json=body(session_id, john))

    assert resp.status_code == 401
    assert resp.json == NOT_AUTHENTICATED
    assert stored_attendance(app, session_id) == {}


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Token nope", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "x"],
)
def test_a_bad_token_is_401(app, client, test101, header):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)

    resp = client.post(URL, json=body(session_id, john), headers={"Authorization": header})

    assert resp.status_code == 401
    assert resp.json == NOT_AUTHENTICATED
    assert stored_attendance(app, session_id) == {}


# --- bad input is a 400, never a 500 -----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["{not json", "[]", '[{"status": "PRESENT"}]', '"PRESENT"', "42", "null", "true"],
)
def test_a_body_that_is_not_a_json_object_is_malformed(app, api_as, test101, raw):
    klass = test101.klass

    resp = api_as(klass.teacher).post(URL, data=raw, content_type="application/json")

    assert resp.status_code == 400
    assert resp.json == {"detail": "Malformed request body."}


def test_a_body_that_is_not_utf8_is_malformed(app, api_as, test101):
    klass = test101.klass

    resp = api_as(klass.teacher).post(
        URL, data=b'{"status": "\xff\xfe"}', content_type="application/json"
    )

    assert resp.status_code == 400
    assert resp.json == {"detail": "Malformed request body."}


def test_an_empty_body_asks_for_the_session(app, api_as, test101):
    klass = test101.klass

    resp = api_as(klass.teacher).post(URL)

    assert resp.status_code == 400
    assert resp.json == {"session_id": ["This field is required."]}


def test_a_single_mark_without_status_asks_for_the_status(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL, json={"session_id": str(session_id), "student_id": str(john.profile_id)}
    )

    assert resp.status_code == 400
    assert resp.json == {"status": ["This field is required."]}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"status": 5}, {"status": ['"5" is not a valid choice.']}),
        ({"status": "present"}, {"status": ['"present" is not a valid choice.']}),
        ({"status": "FOO"}, {"status": ['"FOO" is not a valid choice.']}),
        ({"status": True}, {"status": ['"true" is not a valid choice.']}),
        ({"student_id": 123}, {"student_id": ["Must be a valid UUID."]}),
        ({"student_id": "S12345"}, {"student_id": ["Must be a valid UUID."]}),
        ({"student_id": ["x"]}, {"student_id": ["Must be a valid UUID."]}),
        ({"session_id": "not-a-uuid"}, {"session_id": ["Must be a valid UUID."]}),
        ({"session_id": 7}, {"session_id": ["Must be a valid UUID."]}),
        ({"session_id": {"id": 1}}, {"session_id": ["Must be a valid UUID."]}),
        ({"session_id": None}, {"session_id": ["This field may not be null."]}),
        ({"notes": ["a", "list"]}, {"notes": ["Not a valid string."]}),
        ({"notes": "a\u0000b"}, {"notes": ["Null characters are not allowed."]}),
    ],
)
def test_wrong_types_are_field_errors(app, api_as, test101, override, expected):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(URL, json={**body(session_id, john), **override})

    assert resp.status_code == 400
    assert resp.json == expected
    assert stored_attendance(app, session_id) == {}


def test_several_shape_errors_are_reported_together(app, api_as, test101):
    klass = test101.klass

    resp = api_as(klass.teacher).post(
        URL, json={"session_id": "nope", "student_id": "nope", "status": "NOPE"}
    )

    assert resp.status_code == 400
    assert resp.json == {
        "session_id": ["Must be a valid UUID."],
        "student_id": ["Must be a valid UUID."],
        "status": ['"NOPE" is not a valid choice.'],
    }


def test_neither_student_nor_records_is_a_non_field_error(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(URL, json={"session_id": str(session_id)})

    assert resp.status_code == 400
    assert resp.json == {"non_field_errors": ["Provide either student_id and status, or records"]}


def test_a_get_on_the_mark_endpoint_is_405(app, api_as, test101):
    klass = test101.klass

    resp = api_as(klass.teacher).get(URL)

    assert resp.status_code == 405
    assert resp.json == {"detail": 'Method "GET" not allowed.'}
