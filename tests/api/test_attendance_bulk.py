"""POST /api/attendance/mark/ with ``records``: request order, all or nothing, errors by index."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.factories import (
    make_session,
    make_student,
    make_teacher,
    mark,
    stored_attendance,
)

URL = "/api/attendance/mark/"
EITHER = {"non_field_errors": ["Provide either student_id and status, or records"]}
ALREADY_MARKED = "Attendance already marked for this student in this session"
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


def entry(student, status="PRESENT", **extra) -> dict:
    return {"student_id": str(getattr(student, "profile_id", student)), "status": status, **extra}


def bulk(session_id, *entries) -> dict:
    return {"session_id": str(session_id), "records": list(entries)}


# --- success ---------------------------------------------------------------------------------


def test_bulk_marking_returns_the_records_in_request_order(app, api_as, test101):
    klass = test101.klass
    s1, s2, s3, s4 = klass.students
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL,
        json=bulk(
            session_id, entry(s3, "LATE"), entry(s1, "PRESENT"), entry(s4, "ABSENT"), entry(s2)
        ),
    )

    assert resp.status_code == 201, resp.json
    records = resp.json["attendance_records"]
    assert resp.json == {
        "message": "Bulk attendance marked successfully",
        "count": 4,
        "attendance_records": [
            {"id": records[0]["id"], "student_id": s3.number, "status": "LATE"},
            {"id": records[1]["id"], "student_id": s1.number, "status": "PRESENT"},
            {"id": records[2]["id"], "student_id": s4.number, "status": "ABSENT"},
            {"id": records[3]["id"], "student_id": s2.number, "status": "PRESENT"},
        ],
    }
    assert len({uuid.UUID(r["id"]) for r in records}) == 4
    assert stored_attendance(app, session_id) == {
        s1.profile_id: "PRESENT",
        s2.profile_id: "PRESENT",
        s3.profile_id: "LATE",
        s4.profile_id: "ABSENT",
    }


def test_bulk_record_ids_are_the_stored_records(app, api_as, test101):
    klass = test101.klass
    s1, s2, *_ = klass.students
    session_id = make_session(app, klass)
    api = api_as(klass.teacher)

    created = api.post(URL, json=bulk(session_id, entry(s1), entry(s2, "LATE"))).json

    view = api.get(f"/api/attendance/session/{session_id}/").json
    by_id = {r["id"]: r for r in view["records"]}
    assert set(by_id) == {r["id"] for r in created["attendance_records"]}
    for record in created["attendance_records"]:
        assert by_id[record["id"]]["student"]["student_id"] == record["student_id"]
        assert by_id[record["id"]]["status"] == record["status"]
        assert by_id[record["id"]]["marked_by"] == klass.teacher.full_name


def test_bulk_marking_keeps_each_entry_s_notes(app, api_as, test101):
    klass = test101.klass
    s1, s2, *_ = klass.students
    session_id = make_session(app, klass)
    api = api_as(klass.teacher)

    api.post(URL, json=bulk(session_id, entry(s1, "LATE", notes="Bus"), entry(s2)))

    view = api.get(f"/api/attendance/session/{session_id}/").json
    notes = {r["student"]["student_id"]: r["notes"] for r in view["records"]}
    assert notes == {s1.number: "Bus", s2.number: ""}


def test_a_single_entry_list_is_a_bulk_mark(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(URL, json=bulk(session_id, entry(klass.students[0])))

    assert resp.status_code == 201
    assert resp.json["count"] == 1
    assert resp.json["message"] == "Bulk attendance marked successfully"


def test_an_admin_may_bulk_mark(app, api_as, test101):
    admin, klass = test101.admin, test101.klass
    session_id = make_session(app, klass)

    resp = api_as(admin).post(URL, json=bulk(session_id, *map(entry, klass.students)))

    assert resp.status_code == 201, resp.json
    assert resp.json["count"] == 4


def test_unknown_fields_in_bulk_entries_are_ignored(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL,
        json={**bulk(session_id, entry(klass.students[0], extra=1)), "comment": "x"},
    )

    assert resp.status_code == 201, resp.json


# --- all or nothing, errors by index ---------------------------------------------------------


def test_one_entry_outside_the_class_fails_the_whole_request(app, api_as, test101):
    admin, klass = test101.admin, test101.klass
    s1, s2, *_ = klass.students
    outsider = make_student(app, number="S99999", with_token=False)
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL, json=bulk(session_id, entry(s1), entry(s2), entry(outsider))
    )

    assert resp.status_code == 400
    assert resp.json == {
        "records": {"2": {"student": ["Student 'S99999' is not enrolled in 'TEST101 Section A'"]}}
    }
    assert stored_attendance(app, session_id) == {}
    view = api_as(admin).get(f"/api/attendance/session/{session_id}/").json
    assert view["records"] == []
    assert view["statistics"]["not_marked"] == 4


def test_every_failing_entry_is_reported_by_its_index(app, api_as, test101):
    klass = test101.klass
    first = make_student(app, number="S90001", with_token=False)
    second = make_student(app, number="S90002", with_token=False)
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL, json=bulk(session_id, entry(first), entry(klass.students[0]), entry(second))
    )

    assert resp.status_code == 400
    assert resp.json == {
        "records": {
            "0": {"student": ["Student 'S90001' is not enrolled in 'TEST101 Section A'"]},
            "2": {"student": ["Student 'S90002' is not enrolled in 'TEST101 Section A'"]},
        }
    }


def test_an_unknown_student_in_bulk_is_404_keyed_by_index_and_writes_nothing(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL, json=bulk(session_id, entry(klass.students[0]), entry(uuid.uuid4()))
    )

    assert resp.status_code == 404
    assert resp.json["records"] == {"1": {"student_id": ["Student not found."]}}
    assert stored_attendance(app, session_id) == {}


def test_an_already_marked_entry_is_a_conflict_and_nothing_else_is_written(app, api_as, test101):
    klass = test101.klass
    s1, s2, s3, _ = klass.students
    session_id = make_session(app, klass)
    mark(app, klass, session_id, s2, "LATE")

    resp = api_as(klass.teacher).post(
        URL, json=bulk(session_id, entry(s1), entry(s2, "PRESENT"), entry(s3))
    )

    assert resp.status_code == 409
    assert resp.json == {"records": {"1": {"non_field_errors": [ALREADY_MARKED]}}}
    assert stored_attendance(app, session_id) == {s2.profile_id: "LATE"}


def test_a_failed_bulk_can_be_retried_once_corrected(app, api_as, test101):
    klass = test101.klass
    s1, s2, *_ = klass.students
    outsider = make_student(app, with_token=False)
    session_id = make_session(app, klass)
    api = api_as(klass.teacher)

    assert api.post(URL, json=bulk(session_id, entry(s1), entry(outsider))).status_code == 400
    resp = api.post(URL, json=bulk(session_id, entry(s1), entry(s2)))

    assert resp.status_code == 201, resp.json
    assert resp.json["count"] == 2


# --- the code of the first failing rule ------------------------------------------------------


def test_an_unknown_student_outranks_an_unenrolled_one(app, api_as, test101):
    klass = test101.klass
    outsider = make_student(app, with_token=False)
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL, json=bulk(session_id, entry(outsider), entry(uuid.uuid4()))
    )

    assert resp.status_code == 404
    assert resp.json["records"] == {"1": {"student_id": ["Student not found."]}}


def test_an_unenrolled_student_outranks_an_already_marked_one(app, api_as, test101):
    klass = test101.klass
    s1 = klass.students[0]
    outsider = make_student(app, number="S77777", with_token=False)
    session_id = make_session(app, klass)
    mark(app, klass, session_id, s1, "PRESENT")

    resp = api_as(klass.teacher).post(URL, json=bulk(session_id, entry(s1), entry(outsider)))

    assert resp.status_code == 400
    assert resp.json == {
        "records": {"1": {"student": ["Student 'S77777' is not enrolled in 'TEST101 Section A'"]}}
    }


def test_the_session_state_outranks_bad_entries(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(
        app,
        klass,
        end=True,
        start_at=datetime(2026, 1, 10, 13, 0, tzinfo=UTC),
        end_at=datetime(2026, 1, 10, 14, 30, tzinfo=UTC),
    )

    resp = api_as(klass.teacher).post(
        URL, json=bulk(session_id, entry(uuid.uuid4()), entry(make_student(app)))
    )

    assert resp.status_code == 400
    assert resp.json == {
        "session": ["Cannot mark attendance - session ended at 14:30 on Jan 10, 2026"]
    }


def test_a_scheduled_session_refuses_a_bulk_mark(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass, start=False)

    resp = api_as(klass.teacher).post(URL, json=bulk(session_id, *map(entry, klass.students)))

    assert resp.status_code == 400
    assert resp.json == {"session": ["Cannot mark attendance - session has not started"]}
    assert stored_attendance(app, session_id) == {}


def test_permission_outranks_the_session_state_in_bulk(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass, end=True)

    resp = api_as(make_teacher(app)).post(URL, json=bulk(session_id, entry(klass.students[0])))

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_an_unknown_session_outranks_permission_in_bulk(app, api_as, test101):
    klass = test101.klass

    resp = api_as(make_teacher(app)).post(URL, json=bulk(uuid.uuid4(), entry(klass.students[0])))

    assert resp.status_code == 404


def test_entry_shapes_outrank_the_session_in_bulk(app, api_as, test101):
    klass = test101.klass

    resp = api_as(klass.teacher).post(
        URL, json=bulk(uuid.uuid4(), entry(klass.students[0], "SOMETIMES"))
    )

    assert resp.status_code == 400
    assert resp.json == {"records": {"0": {"status": ['"SOMETIMES" is not a valid choice.']}}}


# --- duplicates, either/or, empty ------------------------------------------------------------


def test_a_student_listed_twice_is_refused(app, api_as, test101):
    klass = test101.klass
    s1, s2, *_ = klass.students
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL, json=bulk(session_id, entry(s1), entry(s2), entry(s1, "LATE"))
    )

    assert resp.status_code == 400
    assert resp.json == {"records": ["Duplicate student in request"]}
    assert stored_attendance(app, session_id) == {}


def test_a_duplicate_in_the_request_is_a_shape_error_before_the_session_is_looked_up(
    app, api_as, test101
):
    klass = test101.klass
    s1 = klass.students[0]

    resp = api_as(klass.teacher).post(URL, json=bulk(uuid.uuid4(), entry(s1), entry(s1)))

    assert resp.status_code == 400
    assert resp.json == {"records": ["Duplicate student in request"]}


def test_sending_both_a_student_and_records_is_refused(app, api_as, test101):
    klass = test101.klass
    s1, s2, *_ = klass.students
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL,
        json={**bulk(session_id, entry(s1)), "student_id": str(s2.profile_id), "status": "LATE"},
    )

    assert resp.status_code == 400
    assert resp.json == EITHER
    assert stored_attendance(app, session_id) == {}


@pytest.mark.parametrize("extra", [{}, {"status": "PRESENT"}, {"records": None}])
def test_sending_neither_a_student_nor_records_is_refused(app, api_as, test101, extra):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(URL, json={"session_id": str(session_id), **extra})

    assert resp.status_code == 400
    assert resp.json == EITHER


def test_an_empty_records_list_is_refused(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(URL, json=bulk(session_id))

    assert resp.status_code == 400
    assert resp.json == {"records": ["This list may not be empty."]}


# --- permissions ------------------------------------------------------------------------------


def test_another_teacher_may_not_bulk_mark(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(make_teacher(app)).post(URL, json=bulk(session_id, entry(klass.students[0])))

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN
    assert stored_attendance(app, session_id) == {}


def test_a_student_may_not_bulk_mark(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)
    student = klass.students[0]

    resp = api_as(student).post(URL, json=bulk(session_id, entry(student)))

    assert resp.status_code == 403
    assert stored_attendance(app, session_id) == {}


def test_bulk_marking_without_a_token_is_401(app, client, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = client.post(URL, json=bulk(session_id, entry(klass.students[0])))

    assert resp.status_code == 401
    assert resp.json == {"detail": "Authentication credentials were not provided."}


# --- bad input is a 400, never a 500 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ("everyone", {"records": ["Expected a list of items."]}),
        ({"0": {"status": "PRESENT"}}, {"records": ["Expected a list of items."]}),
        (5, {"records": ["Expected a list of items."]}),
        ([5], {"records": {"0": {"non_field_errors": ["Invalid input type."]}}}),
        (["PRESENT"], {"records": {"0": {"non_field_errors": ["Invalid input type."]}}}),
        ([[]], {"records": {"0": {"non_field_errors": ["Invalid input type."]}}}),
        ([{"status": "PRESENT"}], {"records": {"0": {"student_id": ["This field is required."]}}}),
        (
            [{"student_id": "S12345", "status": "PRESENT"}],
            {"records": {"0": {"student_id": ["Must be a valid UUID."]}}},
        ),
        (
            [{"student_id": 123, "status": "PRESENT"}],
            {"records": {"0": {"student_id": ["Must be a valid UUID."]}}},
        ),
        (
            [{"student_id": str(uuid.UUID(int=1)), "status": 5}],
            {"records": {"0": {"status": ['"5" is not a valid choice.']}}},
        ),
        (
            [{"student_id": str(uuid.UUID(int=1)), "status": None}],
            {"records": {"0": {"status": ["This field may not be null."]}}},
        ),
        (
            [{"student_id": str(uuid.UUID(int=1)), "status": "LATE", "notes": "\u0000"}],
            {"records": {"0": {"notes": ["Null characters are not allowed."]}}},
        ),
        (
            [{"student_id": str(uuid.UUID(int=1))}],
            {"records": {"0": {"status": ["This field is required."]}}},
        ),
    ],
)
def test_malformed_records_are_field_errors(app, api_as, test101, records, expected):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(URL, json={"session_id": str(session_id), "records": records})

    assert resp.status_code == 400
    assert resp.json == expected
    assert stored_attendance(app, session_id) == {}


def test_shape_errors_of_several_entries_are_keyed_by_their_indexes(app, api_as, test101):
    klass = test101.klass
    s1, s2, *_ = klass.students
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL,
        json=bulk(
            session_id, entry(s1), {"student_id": "x", "status": "PRESENT"}, entry(s2, "NOPE")
        ),
    )

    assert resp.status_code == 400
    assert resp.json == {
        "records": {
            "1": {"student_id": ["Must be a valid UUID."]},
            "2": {"status": ['"NOPE" is not a valid choice.']},
        }
    }


def test_a_bad_session_id_in_a_bulk_request_is_a_field_error(app, api_as, test101):
    klass = test101.klass

    resp = api_as(klass.teacher).post(
        URL, json={"session_id": 12, "records": [entry(klass.students[0])]}
    )

    assert resp.status_code == 400
    assert resp.json == {"session_id": ["Must be a valid UUID."]}


def test_a_json_array_of_records_as_the_body_is_malformed(app, api_as, test101):
    klass = test101.klass

    resp = api_as(klass.teacher).post(URL, json=[entry(klass.students[0])])

    assert resp.status_code == 400
    assert resp.json == {"detail": "Malformed request body."}


def test_an_overlong_note_in_bulk_is_refused_by_its_index(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).post(
        URL,
        json=bulk(
            session_id,
            entry(klass.students[0]),
            entry(klass.students[1], notes="z" * 2001),
        ),
    )

    assert resp.status_code == 400
    assert resp.json == {
        "records": {"1": {"notes": ["Ensure this field has no more than 2000 characters."]}}
    }
    assert stored_attendance(app, session_id) == {}
