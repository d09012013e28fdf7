"""GET /api/attendance/session/{id}/: whole-session statistics, filtered records, who may."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from attendance_app.extensions import db
from attendance_app.models import ClassSession
from attendance_app.services.reporting.statistics import session_statistics
from tests.factories import (
    make_admin,
    make_class,
    make_session,
    make_student,
    make_teacher,
    make_test101,
    mark,
    mark_many,
    unenroll,
)

T0 = datetime(2026, 1, 10, 14, 0, tzinfo=UTC)


def url(session_id) -> str:
    return f"/api/attendance/session/{session_id}/"


@pytest.fixture
def four_of_five_marked(app):
    """ "TEST101 Section A" taught by Tina Lee with five students, in an ACTIVE session marked
    PRESENT (Ann, T0+1m), LATE (Ben, T0+2m), ABSENT (Cat, T0+3m), PRESENT (Dan, T0+4m);
    Eve is not marked."""
    names = ["Ann", "Ben", "Cat", "Dan", "Eve"]
    students = [
        make_student(app, first_name=n, last_name="Pupil", number=f"S2000{i}", with_token=i == 0)
        for i, n in enumerate(names)
    ]
    admin, klass = make_test101(app, students=students)
    session_id = make_session(app, klass, start_at=T0)
    ann, ben, cat, dan, _ = students
    ids = {}
    for n, (student, status) in enumerate(
        [(ann, "PRESENT"), (ben, "LATE"), (cat, "ABSENT"), (dan, "PRESENT")], start=1
    ):
        ids[student.first_name] = mark(
            app, klass, session_id, student, status, at=T0 + timedelta(minutes=n)
        )
    return admin, klass, session_id, ids


WHOLE_SESSION = {
    "total_enrolled": 5,
    "present": 2,
    "absent": 1,
    "late": 1,
    "not_marked": 1,
    "attendance_rate": 60.0,
}


def names(resp) -> list[str]:
    return [r["student"]["first_name"] for r in resp.json["records"]]


# --- body ------------------------------------------------------------------------------------


def test_the_session_view_has_the_contract_body(app, api_as, four_of_five_marked):
    _, klass, session_id, ids = four_of_five_marked

    resp = api_as(klass.teacher).get(url(session_id))

    assert resp.status_code == 200, resp.json
    assert resp.json["session"] == {
        "id": str(session_id),
        "class_name": "TEST101 Section A",
        "subject_code": "TEST101",
        "teacher_name": "Tina Lee",
        "start_time": "2026-01-10T14:00:00Z",
        "end_time": None,
        "status": "ACTIVE",
        "is_locked": False,
    }
    assert resp.json["statistics"] == WHOLE_SESSION
    ann = klass.students[0]
    assert resp.json["records"][-1] == {
        "id": str(ids["Ann"]),
        "student": {
            "id": str(ann.profile_id),
            "student_id": "S20000",
            "first_name": "Ann",
            "last_name": "Pupil",
            "email": ann.email,
        },
        "status": "PRESENT",
        "marked_at": "2026-01-10T14:01:00Z",
        "marked_by": "Tina Lee",
        "notes": "",
        "excused": False,
        "absence_reason": None,
    }
    assert set(resp.json) == {"session", "statistics", "records"}


def test_records_are_newest_marked_at_first(app, api_as, four_of_five_marked):
    _, klass, session_id, _ = four_of_five_marked

    resp = api_as(klass.teacher).get(url(session_id))

    assert names(resp) == ["Dan", "Cat", "Ben", "Ann"]
    times = [r["marked_at"] for r in resp.json["records"]]
    assert times == sorted(times, reverse=True)


def test_an_ended_session_shows_its_end_time_and_is_locked(app, api_as, four_of_five_marked):
    _, klass, _, _ = four_of_five_marked
    session_id = make_session(
        app, klass, end=True, start_at=T0, end_at=datetime(2026, 1, 10, 14, 45, tzinfo=UTC)
    )

    resp = api_as(klass.teacher).get(url(session_id))

    assert resp.json["session"]["status"] == "ENDED"
    assert resp.json["session"]["end_time"] == "2026-01-10T14:45:00Z"
    assert resp.json["session"]["is_locked"] is True


def test_a_scheduled_session_has_no_times_and_nobody_marked(app, api_as, four_of_five_marked):
    _, klass, _, _ = four_of_five_marked
    session_id = make_session(app, klass, start=False)

    resp = api_as(klass.teacher).get(url(session_id))

    assert resp.status_code == 200
    assert resp.json["session"]["status"] == "SCHEDULED"
    assert resp.json["session"]["start_time"] is None
    assert resp.json["session"]["end_time"] is None
    assert resp.json["statistics"] == {
        "total_enrolled": 5,
        "present": 0,
        "absent": 0,
        "late": 0,
        "not_marked": 5,
        "attendance_rate": 0.0,
    }
    assert resp.json["records"] == []


def test_a_session_of_an_empty_class_has_a_zero_rate(app, api_as):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=0)
    session_id = make_session(app, klass)

    resp = api_as(klass.teacher).get(url(session_id))

    assert resp.json["statistics"] == {
        "total_enrolled": 0,
        "present": 0,
        "absent": 0,
        "late": 0,
        "not_marked": 0,
        "attendance_rate": 0.0,
    }


def test_the_brief_s_example_gives_an_attendance_rate_of_85_71(app, api_as):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=35)
    session_id = make_session(app, klass)
    statuses = ["PRESENT"] * 28 + ["ABSENT"] * 4 + ["LATE"] * 2
    mark_many(app, klass, session_id, list(zip(klass.students[:34], statuses, strict=True)))

    resp = api_as(klass.teacher).get(url(session_id))

    assert resp.json["statistics"] == {
        "total_enrolled": 35,
        "present": 28,
        "absent": 4,
        "late": 2,
        "not_marked": 1,
        "attendance_rate": 85.71,
    }
    assert len(resp.json["records"]) == 34


def test_the_rate_rounds_to_two_decimals(app, api_as):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=3)
    session_id = make_session(app, klass)
    mark_many(app, klass, session_id, [(klass.students[0], "PRESENT"), (klass.students[1], "LATE")])

    resp = api_as(klass.teacher).get(url(session_id))

    assert resp.json["statistics"]["attendance_rate"] == 66.67


# --- filters apply to records only -----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "PRESENT"}, ["Dan", "Ann"]),
        ({"status": "LATE"}, ["Ben"]),
        ({"status": "ABSENT"}, ["Cat"]),
        ({"include_absent": "false"}, ["Dan", "Ben", "Ann"]),
        ({"include_absent": "true"}, ["Dan", "Cat", "Ben", "Ann"]),
        ({"include_absent": "False"}, ["Dan", "Ben", "Ann"]),
        ({"include_absent": "0"}, ["Dan", "Ben", "Ann"]),
        ({"marked_after": "2026-01-10T14:02:00Z"}, ["Dan", "Cat"]),
        ({"marked_after": "2026-01-10T14:01:59Z"}, ["Dan", "Cat", "Ben"]),
        ({"marked_after": "2026-01-10T14:02:00"}, ["Dan", "Cat"]),
        ({"marked_after": "2026-01-10T15:02:00+01:00"}, ["Dan", "Cat"]),
        ({"marked_after": "2026-01-10T09:02:00-05:00"}, ["Dan", "Cat"]),
        ({"marked_after": "2026-01-10T14:04:00Z"}, []),
        ({"marked_after": "0001-01-01T00:00:00Z"}, ["Dan", "Cat", "Ben", "Ann"]),
        ({"marked_after": "9999-12-31T23:59:59Z"}, []),
        ({"marked_after": "2026-01-10T14:02:00Z", "include_absent": "false"}, ["Dan"]),
        ({"status": "ABSENT", "include_absent": "false"}, []),
        ({"status": "PRESENT", "marked_after": "2026-01-10T14:01:00Z"}, ["Dan"]),
        ({"unknown": "ignored", "page": "2"}, ["Dan", "Cat", "Ben", "Ann"]),
    ],
)
def test_filters_narrow_the_records_but_never_the_statistics(
    app, api_as, four_of_five_marked, query, expected
):
    _, klass, session_id, _ = four_of_five_marked

    resp = api_as(klass.teacher).get(url(session_id), query_string=query)

    assert resp.status_code == 200, resp.json
    assert names(resp) == expected
    assert resp.json["statistics"] == WHOLE_SESSION


def test_a_student_unenrolled_after_being_marked_still_counts(app, api_as, four_of_five_marked):
    """The view reads its statistics in its own statement: the roster is still the enrolled
    students plus anyone with a record, as ``session_statistics`` counts it."""
    admin, klass, session_id, _ = four_of_five_marked
    cat = next(s for s in klass.students if s.first_name == "Cat")
    eve = next(s for s in klass.students if s.first_name == "Eve")
    unenroll(app, klass, cat, admin=admin)  # marked ABSENT: still in this session's roster
    unenroll(app, klass, eve, admin=admin)  # not marked: gone from it

    resp = api_as(klass.teacher).get(url(session_id))

    assert resp.status_code == 200, resp.json
    expected = {**WHOLE_SESSION, "total_enrolled": 4, "not_marked": 0, "attendance_rate": 75.0}
    assert resp.json["statistics"] == expected
    with app.app_context():
        session = db.session.get(ClassSession, session_id)
        assert session_statistics(session).as_dict() == expected
    assert "Cat" in names(resp)


def test_an_update_does_not_move_a_record_past_marked_after(app, api_as, four_of_five_marked):
    """An update changes ``updated_at``, never ``marked_at``, which the filter compares."""
    _, klass, session_id, ids = four_of_five_marked
    api = api_as(klass.teacher)
    assert api.put(f"/api/attendance/{ids['Ann']}/", json={"status": "LATE"}).status_code == 200

    resp = api.get(url(session_id), query_string={"marked_after": "2026-01-10T14:03:30Z"})

    assert names(resp) == ["Dan"]


# --- bad filter values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "FOO"}, "status"),
        ({"status": "present"}, "status"),
        ({"marked_after": "yesterday"}, "marked_after"),
        ({"marked_after": "2026-13-40T00:00:00Z"}, "marked_after"),
        ({"marked_after": "0001-01-01T00:00:00+01:00"}, "marked_after"),
        ({"marked_after": "9999-12-31T23:59:59-01:00"}, "marked_after"),
        ({"marked_after": "1767225600"}, "marked_after"),
        ({"include_absent": "maybe"}, "include_absent"),
    ],
)
def test_a_bad_filter_value_is_400_on_that_parameter(
    app, api_as, four_of_five_marked, query, field
):
    _, klass, session_id, _ = four_of_five_marked

    resp = api_as(klass.teacher).get(url(session_id), query_string=query)

    assert resp.status_code == 400
    assert list(resp.json) == [field]
    assert isinstance(resp.json[field], list) and len(resp.json[field]) == 1


def test_a_bad_status_filter_gets_the_choice_message(app, api_as, four_of_five_marked):
    _, klass, session_id, _ = four_of_five_marked

    resp = api_as(klass.teacher).get(url(session_id), query_string={"status": "FOO"})

    assert resp.json == {"status": ['"FOO" is not a valid choice.']}


def test_two_bad_filters_are_both_reported(app, api_as, four_of_five_marked):
    _, klass, session_id, _ = four_of_five_marked

    resp = api_as(klass.teacher).get(
        url(session_id), query_string={"status": "X", "include_absent": "perhaps"}
    )

    assert resp.status_code == 400
    assert set(resp.json) == {"status", "include_absent"}


# --- who may read ---------------------------------------------------------------------------


def test_an_admin_may_view_any_session(app, api_as, four_of_five_marked):
    admin, _, session_id, _ = four_of_five_marked

    resp = api_as(admin).get(url(session_id))

    assert resp.status_code == 200
    assert resp.json["statistics"] == WHOLE_SESSION


def test_another_teacher_may_not_view_the_session(app, api_as, four_of_five_marked):
    _, _, session_id, _ = four_of_five_marked

    resp = api_as(make_teacher(app)).get(url(session_id))

    assert resp.status_code == 403
    assert resp.json == {"detail": "You do not have permission to perform this action."}


def test_a_student_of_the_class_may_not_view_the_session(app, api_as, four_of_five_marked):
    _, klass, session_id, _ = four_of_five_marked

    resp = api_as(klass.students[0]).get(url(session_id))

    assert resp.status_code == 403


def test_viewing_without_a_token_is_401(app, client, four_of_five_marked):
    _, _, session_id, _ = four_of_five_marked

    resp = client.get(url(session_id))

    assert resp.status_code == 401
    assert resp.json == {"detail": "Authentication credentials were not provided."}


def test_viewing_with_a_revoked_token_is_401(app, api_as, four_of_five_marked):
    _, klass, session_id, _ = four_of_five_marked
    api = api_as(klass.teacher)
    assert api.delete("/api/auth/token/").status_code == 204

    resp = api.get(url(session_id))

    assert resp.status_code == 401


def test_an_unknown_session_is_404(app, api_as, four_of_five_marked):
    admin, _, _, _ = four_of_five_marked

    resp = api_as(admin).get(url(uuid.uuid4()))

    assert resp.status_code == 404
    assert set(resp.json) == {"detail"}


@pytest.mark.parametrize("bad", ["not-a-uuid", "123", "0"])
def test_a_malformed_session_id_is_404(app, api_as, four_of_five_marked, bad):
    admin, _, _, _ = four_of_five_marked

    resp = api_as(admin).get(url(bad))

    assert resp.status_code == 404
    assert resp.json == {"detail": "Not found."}


def test_a_bad_filter_from_an_outsider_still_never_reveals_the_records(
    app, api_as, four_of_five_marked
):
    _, _, session_id, _ = four_of_five_marked

    resp = api_as(make_teacher(app)).get(url(session_id), query_string={"status": "PRESENT"})

    assert resp.status_code == 403
    assert "records" not in resp.json


def test_a_post_to_the_session_view_is_405(app, api_as, four_of_five_marked):
    _, klass, session_id, _ = four_of_five_marked

    resp = api_as(klass.teacher).post(url(session_id), json={})

    assert resp.status_code == 405
