"""POST /api/attendance/bulk-mark/: give every unmarked enrolled student a default status."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.factories import (
    make_class,
    make_session,
    make_student,
    make_teacher,
    mark,
    stored_attendance,
)

URL = "/api/attendance/bulk-mark/"
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


def initialise(api, session_id, **extra):
    return api.post(URL, json={"session_id": str(session_id), **extra})


# --- success ---------------------------------------------------------------------------------


def test_initialising_marks_everyone_absent_by_default(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = initialise(api_as(klass.teacher), session_id)

    assert resp.status_code == 201, resp.json
    assert resp.json == {
        "message": "Bulk attendance initialized",
        "count": 4,
        "session_id": str(session_id),
        "default_status": "ABSENT",
    }
    assert stored_attendance(app, session_id) == {s.profile_id: "ABSENT" for s in klass.students}


@pytest.mark.parametrize("status", ["PRESENT", "ABSENT", "LATE"])
def test_initialising_uses_the_given_default_status(app, api_as, test101, status):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = initialise(api_as(klass.teacher), session_id, default_status=status)

    assert resp.status_code == 201, resp.json
    assert resp.json["default_status"] == status
    assert resp.json["count"] == 4
    assert set(stored_attendance(app, session_id).values()) == {status}


def test_initialising_twice_creates_nothing_the_second_time(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)
    api = api_as(klass.teacher)
    assert initialise(api, session_id).json["count"] == 4

    again = initialise(api, session_id, default_status="PRESENT")

    assert again.status_code == 201
    assert again.json == {
        "message": "Bulk attendance initialized",
        "count": 0,
        "session_id": str(session_id),
        "default_status": "PRESENT",
    }
    assert set(stored_attendance(app, session_id).values()) == {"ABSENT"}


def test_initialising_never_overwrites_an_existing_mark(app, api_as, test101):
    admin, klass = test101.admin, test101.klass
    first, second, *_ = klass.students
    session_id = make_session(app, klass)
    mark(app, klass, session_id, first, "PRESENT", notes="Early")
    mark(app, klass, session_id, second, "LATE")

    resp = initialise(api_as(admin), session_id)

    assert resp.json["count"] == 2
    stored = stored_attendance(app, session_id)
    assert stored[first.profile_id] == "PRESENT"
    assert stored[second.profile_id] == "LATE"
    assert sorted(stored.values()) == ["ABSENT", "ABSENT", "LATE", "PRESENT"]
    view = api_as(admin).get(f"/api/attendance/session/{session_id}/").json
    kept = {r["student"]["id"]: r for r in view["records"]}[str(first.profile_id)]
    assert kept["marked_by"] == klass.teacher.full_name
    assert kept["notes"] == "Early"


def test_initialised_records_are_marked_by_the_caller_and_complete_the_statistics(
    app, api_as, test101
):
    admin, klass = test101.admin, test101.klass
    session_id = make_session(app, klass)
    mark(app, klass, session_id, klass.students[0], "PRESENT")

    initialise(api_as(admin), session_id)

    view = api_as(klass.teacher).get(f"/api/attendance/session/{session_id}/").json
    assert view["statistics"] == {
        "total_enrolled": 4,
        "present": 1,
        "absent": 3,
        "late": 0,
        "not_marked": 0,
        "attendance_rate": 25.0,
    }
    by_marker = {r["marked_by"] for r in view["records"] if r["status"] == "ABSENT"}
    assert by_marker == {admin.full_name}


def test_a_student_marked_after_initialising_is_a_conflict(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)
    api = api_as(klass.teacher)
    initialise(api, session_id)

    resp = api.post(
        "/api/attendance/mark/",
        json={
            "session_id": str(session_id),
            "student_id": str(klass.students[0].profile_id),
            "status": "PRESENT",
        },
    )

    assert resp.status_code == 409


def test_initialised_records_can_then_be_updated(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)
    api = api_as(klass.teacher)
    initialise(api, session_id)
    record_id = api.get(f"/api/attendance/session/{session_id}/").json["records"][0]["id"]

    resp = api.put(f"/api/attendance/{record_id}/", json={"status": "PRESENT"})

    assert resp.status_code == 200
    assert resp.json["attendance"]["status"] == "PRESENT"


def test_initialising_a_class_without_students_creates_nothing(app, api_as, test101):
    admin = test101.admin
    empty = make_class(app, admin=admin, students=0)
    session_id = make_session(app, empty)

    resp = initialise(api_as(empty.teacher), session_id)

    assert resp.status_code == 201
    assert resp.json["count"] == 0


def test_only_enrolled_students_are_initialised(app, api_as, test101):
    admin, klass = test101.admin, test101.klass
    outsider = make_student(app, with_token=False)
    make_class(app, admin=admin, students=[outsider])
    session_id = make_session(app, klass)

    initialise(api_as(klass.teacher), session_id)

    assert outsider.profile_id not in stored_attendance(app, session_id)
    assert len(stored_attendance(app, session_id)) == 4


def test_unknown_fields_are_ignored_when_initialising(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = initialise(api_as(klass.teacher), session_id, students="all", count=99)

    assert resp.status_code == 201
    assert resp.json["count"] == 4


# --- same rules as marking -------------------------------------------------------------------


def test_initialising_a_scheduled_session_is_refused(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass, start=False)

    resp = initialise(api_as(klass.teacher), session_id)

    assert resp.status_code == 400
    assert resp.json == {"session": ["Cannot mark attendance - session has not started"]}
    assert stored_attendance(app, session_id) == {}


def test_initialising_an_ended_session_is_refused_with_its_end_time(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(
        app,
        klass,
        end=True,
        start_at=datetime(2026, 1, 10, 13, 30, tzinfo=UTC),
        end_at=datetime(2026, 1, 10, 14, 30, tzinfo=UTC),
    )

    resp = initialise(api_as(klass.teacher), session_id)

    assert resp.status_code == 400
    assert resp.json == {
        "session": ["Cannot mark attendance - session ended at 14:30 on Jan 10, 2026"]
    }
    assert stored_attendance(app, session_id) == {}


def test_an_admin_may_initialise_any_session(app, api_as, test101):
    admin, klass = test101.admin, test101.klass
    session_id = make_session(app, klass)

    resp = initialise(api_as(admin), session_id)

    assert resp.status_code == 201
    assert resp.json["count"] == 4


def test_another_teacher_may_not_initialise(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = initialise(api_as(make_teacher(app)), session_id)

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN
    assert stored_attendance(app, session_id) == {}


def test_a_student_may_not_initialise(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = initialise(api_as(klass.students[0]), session_id)

    assert resp.status_code == 403
    assert stored_attendance(app, session_id) == {}


def test_permission_is_checked_before_the_session_state(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass, start=False)

    resp = initialise(api_as(make_teacher(app)), session_id)

    assert resp.status_code == 403


def test_an_unknown_session_is_404(app, api_as, test101):
    admin = test101.admin

    resp = initialise(api_as(admin), uuid.uuid4())

    assert resp.status_code == 404
    assert set(resp.json) == {"detail"}


def test_the_body_shape_is_checked_before_the_session_exists(app, api_as, test101):
    admin = test101.admin

    resp = initialise(api_as(admin), uuid.uuid4(), default_status="EXCUSED")

    assert resp.status_code == 400
    assert resp.json == {"default_status": ['"EXCUSED" is not a valid choice.']}


def test_initialising_without_a_token_is_401(app, client, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = client.post(URL, json={"session_id": str(session_id)})

    assert resp.status_code == 401
    assert resp.json == {"detail": "Authentication credentials were not provided."}
    assert stored_attendance(app, session_id) == {}


def test_the_token_scheme_word_is_accepted_when_initialising(app, client, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = client.post(
        URL,
        json={"session_id": str(session_id)},
        headers={"Authorization": f"Token {klass.teacher.token}"},
    )

    assert resp.status_code == 201


# --- bad input is a 400, never a 500 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"default_status": "FOO"}, {"default_status": ['"FOO" is not a valid choice.']}),
        ({"default_status": "absent"}, {"default_status": ['"absent" is not a valid choice.']}),
        ({"default_status": 5}, {"default_status": ['"5" is not a valid choice.']}),
        ({"default_status": None}, {"default_status": ["This field may not be null."]}),
        ({"session_id": "not-a-uuid"}, {"session_id": ["Must be a valid UUID."]}),
        ({"session_id": 123}, {"session_id": ["Must be a valid UUID."]}),
        ({"session_id": None}, {"session_id": ["This field may not be null."]}),
    ],
)
def test_bad_values_are_field_errors(app, api_as, test101, payload, expected):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(URL, json={"session_id": str(session_id), **payload})

    assert resp.status_code == 400
    assert resp.json == expected
    assert stored_attendance(app, session_id) == {}


def test_a_missing_session_id_is_required(app, api_as, test101):
    klass = test101.klass

    resp = api_as(klass.teacher).post(URL, json={"default_status": "ABSENT"})

    assert resp.status_code == 400
    assert resp.json == {"session_id": ["This field is required."]}


@pytest.mark.parametrize("raw", ["", "{bad", "[]", '["ABSENT"]', '"ABSENT"', "1"])
def test_a_body_that_is_not_a_json_object_is_refused(app, api_as, test101, raw):
    klass = test101.klass

    resp = api_as(klass.teacher).post(URL, data=raw, content_type="application/json")

    assert resp.status_code == 400
    if raw:
        assert resp.json == {"detail": "Malformed request body."}
    else:
        assert resp.json == {"session_id": ["This field is required."]}


def test_a_get_on_bulk_mark_is_405(app, api_as, test101):
    klass = test101.klass

    resp = api_as(klass.teacher).get(URL)

    assert resp.status_code == 405
