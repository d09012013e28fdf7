"""/api/sessions/: create, start, end, read and list class sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import (
    make_admin,
    make_class,
    make_session,
    make_student,
    make_teacher,
    mark,
)

SESSION_KEYS = {
    "id",
    "class_id",
    "class_name",
    "subject_code",
    "teacher_name",
    "status",
    "start_time",
    "end_time",
    "is_locked",
    "attendance_count",
    "present_count",
    "attendance_rate",
}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


def parse_time(value: str) -> datetime:
    """The contract's ISO 8601 UTC timestamp, which must end in ``Z``."""
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value[:-1] + "+00:00")


@pytest.fixture
def admin(app):
    return make_admin(app)


@pytest.fixture
def klass(app, admin):
    teacher = make_teacher(app, first_name="Tina", last_name="Lee")
    return make_class(
        app,
        admin=admin,
        teacher=teacher,
        students=4,
        name="TEST101 Section A",
        subject_code="TEST101",
    )


@pytest.fixture
def tapi(klass, api_as):
    """The class's teacher's API client."""
    return api_as(klass.teacher)


def create(api, class_id) -> object:
    return api.post("/api/sessions/", json={"class_id": str(class_id)})


# --- create -----------------------------------------------------------------------------------


def test_creating_a_session_schedules_it_with_the_contract_body(klass, tapi):
    resp = create(tapi, klass.id)

    assert resp.status_code == 201, resp.json
    body = resp.json
    assert set(body) == SESSION_KEYS
    uuid.UUID(body["id"])
    assert body == {
        "id": body["id"],
        "class_id": str(klass.id),
        "class_name": "TEST101 Section A",
        "subject_code": "TEST101",
        "teacher_name": "Tina Lee",
        "status": "SCHEDULED",
        "start_time": None,
        "end_time": None,
        "is_locked": False,
        "attendance_count": 0,
        "present_count": 0,
        "attendance_rate": 0.0,
    }


def test_an_admin_may_create_a_session_of_any_class(klass, admin, api_as):
    resp = create(api_as(admin), klass.id)

    assert resp.status_code == 201, resp.json
    assert resp.json["teacher_name"] == "Tina Lee"


def test_another_teacher_may_not_create_a_session(app, klass, api_as):
    resp = create(api_as(make_teacher(app)), klass.id)

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_a_student_may_not_create_a_session(app, admin, api_as):
    student = make_student(app)
    klass = make_class(app, admin=admin, students=[student])

    resp = create(api_as(student), klass.id)

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_a_session_of_an_unknown_class_is_404(tapi):
    resp = create(tapi, uuid.uuid4())

    assert resp.status_code == 404
    assert resp.json == {"detail": "Class not found."}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"class_id": ["This field is required."]}),
        ({"class_id": None}, {"class_id": ["This field may not be null."]}),
        ({"class_id": "nope"}, {"class_id": ["Must be a valid UUID."]}),
        ({"class_id": 12}, {"class_id": ["Must be a valid UUID."]}),
    ],
)
def test_a_session_needs_a_valid_class_id(tapi, body, errors):
    resp = tapi.post("/api/sessions/", json=body)

    assert resp.status_code == 400
    assert resp.json == errors


def test_creating_a_session_needs_authentication(client, klass):
    resp = client.post("/api/sessions/", json={"class_id": str(klass.id)})

    assert resp.status_code == 401


# --- start and end ----------------------------------------------------------------------------


def test_starting_a_scheduled_session_makes_it_active_from_now(klass, tapi):
    sid = create(tapi, klass.id).json["id"]
    before = datetime.now(UTC) - timedelta(seconds=1)

    resp = tapi.post(f"/api/sessions/{sid}/start/")

    after = datetime.now(UTC) + timedelta(seconds=1)
    assert resp.status_code == 200, resp.json
    assert set(resp.json) == SESSION_KEYS
    assert resp.json["status"] == "ACTIVE"
    assert resp.json["is_locked"] is False
    assert resp.json["end_time"] is None
    assert before <= parse_time(resp.json["start_time"]) <= after


def test_ending_an_active_session_ends_and_locks_it(klass, tapi):
    sid = create(tapi, klass.id).json["id"]
    start_time = tapi.post(f"/api/sessions/{sid}/start/").json["start_time"]
    before = datetime.now(UTC) - timedelta(seconds=1)

    resp = tapi.post(f"/api/sessions/{sid}/end/")

    after = datetime.now(UTC) + timedelta(seconds=1)
    assert resp.status_code == 200, resp.json
    assert set(resp.json) == SESSION_KEYS
    assert resp.json["status"] == "ENDED"
    assert resp.json["is_locked"] is True
    assert resp.json["start_time"] == start_time
    assert before <= parse_time(resp.json["end_time"]) <= after
    assert parse_time(resp.json["end_time"]) >= parse_time(start_time)


def test_an_admin_may_start_and_end_any_session(klass, admin, api_as, tapi):
    sid = create(tapi, klass.id).json["id"]
    aapi = api_as(admin)

    assert aapi.post(f"/api/sessions/{sid}/start/").json["status"] == "ACTIVE"
    assert aapi.post(f"/api/sessions/{sid}/end/").json["status"] == "ENDED"


@pytest.mark.parametrize(
    ("state", "verb", "message"),
    [
        ("SCHEDULED", "end", "Cannot end a session that is SCHEDULED"),
        ("ACTIVE", "start", "Cannot start a session that is ACTIVE"),
        ("ENDED", "start", "Cannot start a session that is ENDED"),
        ("ENDED", "end", "Cannot end a session that is ENDED"),
    ],
)
def test_a_disallowed_move_is_400_on_status_and_changes_nothing(
    app, klass, tapi, state, verb, message
):
    sid = make_session(app, klass, start=state != "SCHEDULED", end=state == "ENDED")
    before = tapi.get(f"/api/sessions/{sid}/").json
    assert before["status"] == state

    resp = tapi.post(f"/api/sessions/{sid}/{verb}/")

    assert resp.status_code == 400
    assert resp.json == {"status": [message]}
    assert tapi.get(f"/api/sessions/{sid}/").json == before


@pytest.mark.parametrize("verb", ["start", "end"])
def test_another_teacher_may_not_move_a_session(app, klass, api_as, verb):
    sid = make_session(app, klass, start=verb == "end")

    resp = api_as(make_teacher(app)).post(f"/api/sessions/{sid}/{verb}/")

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


@pytest.mark.parametrize("verb", ["start", "end"])
def test_a_student_may_not_move_a_session(app, admin, api_as, verb):
    student = make_student(app)
    klass = make_class(app, admin=admin, students=[student])
    sid = make_session(app, klass, start=verb == "end")

    resp = api_as(student).post(f"/api/sessions/{sid}/{verb}/")

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_a_forbidden_move_is_checked_before_the_state(app, klass, api_as):
    sid = make_session(app, klass, end=True)

    resp = api_as(make_teacher(app)).post(f"/api/sessions/{sid}/start/")

    assert resp.status_code == 403


@pytest.mark.parametrize("verb", ["start", "end"])
def test_moving_an_unknown_session_is_404(tapi, verb):
    resp = tapi.post(f"/api/sessions/{uuid.uuid4()}/{verb}/")

    assert resp.status_code == 404
    assert resp.json == {"detail": "Session not found."}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/sessions/not-a-uuid/"),
        ("post", "/api/sessions/not-a-uuid/start/"),
        ("post", "/api/sessions/not-a-uuid/end/"),
        ("get", "/api/sessions/12345/"),
        ("get", "/api/sessions/00000000-0000-0000-0000-00000000000g/"),
    ],
)
def test_a_malformed_session_id_in_the_path_is_404(tapi, method, path):
    resp = getattr(tapi, method)(path)

    assert resp.status_code == 404
    assert resp.json == {"detail": "Not found."}


@pytest.mark.parametrize("verb", ["start", "end"])
def test_moving_a_session_needs_authentication(app, client, klass, verb):
    sid = make_session(app, klass, start=verb == "end")

    resp = client.post(f"/api/sessions/{sid}/{verb}/")

    assert resp.status_code == 401


# --- detail -----------------------------------------------------------------------------------


def test_session_detail_for_the_teacher_and_an_admin(app, klass, admin, api_as, tapi):
    sid = make_session(app, klass)

    for api in (tapi, api_as(admin)):
        resp = api.get(f"/api/sessions/{sid}/")
        assert resp.status_code == 200, resp.json
        assert set(resp.json) == SESSION_KEYS
        assert resp.json["id"] == str(sid)
        assert resp.json["class_id"] == str(klass.id)
        assert resp.json["status"] == "ACTIVE"


def test_session_detail_of_an_unknown_session_is_404(tapi):
    resp = tapi.get(f"/api/sessions/{uuid.uuid4()}/")

    assert resp.status_code == 404
    assert resp.json == {"detail": "Session not found."}


def test_another_teacher_may_not_read_a_session(app, klass, api_as):
    sid = make_session(app, klass)

    resp = api_as(make_teacher(app)).get(f"/api/sessions/{sid}/")

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_a_student_may_not_read_a_session_even_of_their_class(app, admin, api_as):
    student = make_student(app)
    klass = make_class(app, admin=admin, students=[student])
    sid = make_session(app, klass)

    resp = api_as(student).get(f"/api/sessions/{sid}/")

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_times_are_iso_utc_with_a_z_suffix(app, klass, tapi):
    start = datetime(2026, 1, 10, 13, 0, 5, tzinfo=UTC)
    end = datetime(2026, 1, 10, 14, 30, tzinfo=UTC)
    sid = make_session(app, klass, end=True, start_at=start, end_at=end)

    body = tapi.get(f"/api/sessions/{sid}/").json

    assert body["start_time"] == "2026-01-10T13:00:05Z"
    assert body["end_time"] == "2026-01-10T14:30:00Z"


# --- figures ----------------------------------------------------------------------------------


def test_attendance_figures_count_marks_and_rate_over_enrolled(app, klass, tapi):
    sid = make_session(app, klass)
    s1, s2, s3, _s4 = klass.students
    mark(app, klass, sid, s1, "PRESENT")
    mark(app, klass, sid, s2, "LATE")
    mark(app, klass, sid, s3, "ABSENT")

    body = tapi.get(f"/api/sessions/{sid}/").json

    assert body["attendance_count"] == 3
    assert body["present_count"] == 1
    # (PRESENT + LATE) / enrolled: 2 of 4.
    assert body["attendance_rate"] == 50.0


def test_attendance_rate_is_rounded_to_two_decimals(app, admin, api_as):
    klass = make_class(app, admin=admin, students=3)
    sid = make_session(app, klass)
    mark(app, klass, sid, klass.students[0], "PRESENT")

    body = api_as(klass.teacher).get(f"/api/sessions/{sid}/").json

    assert body["attendance_rate"] == 33.33
    assert body["attendance_count"] == 1


def test_a_class_with_nobody_enrolled_has_a_zero_rate(app, admin, api_as):
    klass = make_class(app, admin=admin, students=0)
    sid = make_session(app, klass)

    body = api_as(klass.teacher).get(f"/api/sessions/{sid}/").json

    assert body["attendance_rate"] == 0.0
    assert body["attendance_count"] == 0


def test_figures_survive_ending_the_session(app, klass, tapi):
    sid = make_session(app, klass)
    for student in klass.students:
        mark(app, klass, sid, student, "PRESENT")

    ended = tapi.post(f"/api/sessions/{sid}/end/").json

    assert (ended["attendance_count"], ended["present_count"]) == (4, 4)
    assert ended["attendance_rate"] == 100.0


def test_every_session_body_carries_its_own_figures(app, klass, tapi):
    first = make_session(app, klass)
    mark(app, klass, first, klass.students[0], "PRESENT")
    tapi.post(f"/api/sessions/{first}/end/")
    second = make_session(app, klass)

    listed = {s["id"]: s for s in tapi.get(f"/api/sessions/?class_id={klass.id}").json}

    assert listed[str(first)]["attendance_count"] == 1
    assert listed[str(first)]["attendance_rate"] == 25.0
    assert listed[str(second)]["attendance_count"] == 0
    assert listed[str(second)]["attendance_rate"] == 0.0


# --- list -------------------------------------------------------------------------------------


def test_listing_a_classes_sessions_newest_first(app, klass, tapi):
    base = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    old = make_session(app, klass, end=True, start_at=base, end_at=base + timedelta(hours=1))
    new = make_session(app, klass, start_at=base + timedelta(days=1))
    scheduled = make_session(app, klass, start=False)

    resp = tapi.get(f"/api/sessions/?class_id={klass.id}")

    assert resp.status_code == 200, resp.json
    assert [s["id"] for s in resp.json] == [str(scheduled), str(new), str(old)]
    assert all(set(s) == SESSION_KEYS for s in resp.json)
    assert [s["status"] for s in resp.json] == ["SCHEDULED", "ACTIVE", "ENDED"]


def test_listing_shows_only_the_named_classes_sessions(app, admin, klass, tapi):
    other = make_class(app, admin=admin, teacher=klass.teacher, students=1)
    mine = make_session(app, klass)
    make_session(app, other)

    resp = tapi.get(f"/api/sessions/?class_id={klass.id}")

    assert [s["id"] for s in resp.json] == [str(mine)]


def test_listing_a_class_without_sessions_is_empty(klass, tapi):
    resp = tapi.get(f"/api/sessions/?class_id={klass.id}")

    assert resp.status_code == 200
    assert resp.json == []


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("", {"class_id": ["This field is required."]}),
        ("?class_id=nope", {"class_id": ["Must be a valid UUID."]}),
        ("?class_id=", {"class_id": ["Must be a valid UUID."]}),
    ],
)
def test_listing_needs_a_valid_class_id(tapi, query, errors):
    resp = tapi.get(f"/api/sessions/{query}")

    assert resp.status_code == 400
    assert resp.json == errors


def test_listing_an_unknown_class_is_404(tapi):
    resp = tapi.get(f"/api/sessions/?class_id={uuid.uuid4()}")

    assert resp.status_code == 404
    assert resp.json == {"detail": "Class not found."}


def test_another_teacher_may_not_list_a_classes_sessions(app, klass, api_as):
    make_session(app, klass)

    resp = api_as(make_teacher(app)).get(f"/api/sessions/?class_id={klass.id}")

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_a_student_may_not_list_sessions(app, admin, api_as):
    student = make_student(app)
    klass = make_class(app, admin=admin, students=[student])

    resp = api_as(student).get(f"/api/sessions/?class_id={klass.id}")

    assert resp.status_code == 403


def test_an_admin_lists_any_classes_sessions(app, klass, admin, api_as):
    sid = make_session(app, klass)

    resp = api_as(admin).get(f"/api/sessions/?class_id={klass.id}")

    assert [s["id"] for s in resp.json] == [str(sid)]
