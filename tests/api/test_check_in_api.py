"""Self check-in over the API: POST /api/sessions/{id}/check-in-code/ and
POST /api/attendance/check-in/ — bodies, codes, the throttle and the order of checks."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from attendance_app.models import utcnow
from tests.factories import (
    make_session,
    make_student,
    make_teacher,
    mark,
    stored_attendance,
)

CHECK_IN = "/api/attendance/check-in/"
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_STARTED = {"session": ["Cannot mark attendance - session has not started"]}
ALREADY_MARKED = {
    "non_field_errors": ["Attendance already marked for this student in this session"]
}
WRONG_CODE = {"code": ["Invalid or expired check-in code."]}
THROTTLED = {
    "detail": "Too many wrong check-in codes for this session. Ask your teacher to mark you."
}


def code_url(session_id) -> str:
    return f"/api/sessions/{session_id}/check-in-code/"


def current_code(api_as, klass, session_id) -> str:
    resp = api_as(klass.teacher).post(code_url(session_id))
    assert resp.status_code == 200, resp.json
    return resp.json["code"]


def wrong(code: str) -> str:
    return f"{(int(code) + 500_000) % 1_000_000:06d}"


# --- the code ---------------------------------------------------------------------------------


def test_the_teacher_gets_the_current_code_with_its_period_and_expiry(app, api_as, test101):
    klass = test101.klass
    session_id = make_session(app, klass)
    before = utcnow()

    resp = api_as(klass.teacher).post(code_url(session_id))

    assert resp.status_code == 200, resp.json
    assert set(resp.json) == {"code", "period_seconds", "expires_at"}
    assert re.fullmatch(r"\d{6}", resp.json["code"])
    assert resp.json["period_seconds"] == 30
    assert ISO_Z.match(resp.json["expires_at"])
    expires = datetime.fromisoformat(resp.json["expires_at"].replace("Z", "+00:00"))
    assert before < expires <= before + timedelta(seconds=31)
    assert int(expires.timestamp()) % 30 == 0


def test_an_admin_gets_the_code_too(app, api_as, test101):
    admin, klass = test101.admin, test101.klass
    session_id = make_session(app, klass)

    assert api_as(admin).post(code_url(session_id)).status_code == 200


def test_another_teacher_and_students_may_not_see_the_code(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)

    for person in (make_teacher(app), john):
        resp = api_as(person).post(code_url(session_id))
        assert (resp.status_code, resp.json) == (403, FORBIDDEN)


def test_no_code_for_a_session_that_is_not_active(app, api_as, test101):
    klass = test101.klass
    scheduled = make_session(app, klass, start=False)
    ended = make_session(
        app,
        klass,
        end=True,
        start_at=datetime(2026, 1, 10, 13, 30, tzinfo=UTC),
        end_at=datetime(2026, 1, 10, 14, 30, tzinfo=UTC),
    )
    api = api_as(klass.teacher)

    resp = api.post(code_url(scheduled))
    assert (resp.status_code, resp.json) == (400, NOT_STARTED)
    resp = api.post(code_url(ended))
    assert (resp.status_code, resp.json) == (
        400,
        {"session": ["Cannot mark attendance - session ended at 14:30 on Jan 10, 2026"]},
    )


def test_the_code_of_an_unknown_session_is_404_and_needs_a_token(app, api_as, client, test101):
    klass = test101.klass
    resp = api_as(klass.teacher).post(code_url(uuid.uuid4()))
    assert (resp.status_code, resp.json) == (404, {"detail": "Session not found."})
    assert client.post(code_url(uuid.uuid4())).status_code == 401


# --- checking in --------------------------------------------------------------------------


def test_a_student_checks_in_with_the_code_and_gets_the_mark_body(app, api_as, test101):
    klass, john = test101.klass, test101.john
    started = utcnow().replace(microsecond=0) - timedelta(minutes=2)
    session_id = make_session(app, klass, start_at=started)
    code = current_code(api_as, klass, session_id)

    resp = api_as(john).post(CHECK_IN, json={"session_id": str(session_id), "code": code})

    assert resp.status_code == 201, resp.json
    attendance = resp.json["attendance"]
    assert resp.json == {
        "message": "Attendance marked successfully",
        "attendance": {
            "id": attendance["id"],
            "session": {
                "id": str(session_id),
                "class_name": "TEST101 Section A",
                "start_time": started.isoformat().replace("+00:00", "Z"),
            },
            "student": {
                "id": str(john.profile_id),
                "student_id": "S12345",
                "first_name": "John",
                "last_name": "Doe",
            },
            "status": "PRESENT",
            "marked_at": attendance["marked_at"],
            "marked_by": "John Doe",
        },
    }
    assert ISO_Z.match(attendance["marked_at"])
    view = api_as(klass.teacher).get(f"/api/attendance/session/{session_id}/").json
    assert [(r["student"]["student_id"], r["status"], r["marked_by"]) for r in view["records"]] == [
        ("S12345", "PRESENT", "John Doe")
    ]


def test_a_check_in_more_than_ten_minutes_after_the_start_is_late(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass, start_at=utcnow() - timedelta(minutes=11))
    code = current_code(api_as, klass, session_id)

    resp = api_as(john).post(CHECK_IN, json={"session_id": str(session_id), "code": code})

    assert resp.status_code == 201, resp.json
    assert resp.json["attendance"]["status"] == "LATE"


def test_a_code_sent_as_a_number_is_taken_as_its_digits(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    code = current_code(api_as, klass, session_id)
    body = {"session_id": str(session_id), "code": int(code)}

    resp = api_as(john).post(CHECK_IN, json=body)

    # A code with a leading zero loses it as a number: that one is a wrong code.
    expected = 201 if not code.startswith("0") else 400
    assert resp.status_code == expected, resp.json


def test_a_wrong_code_is_400_on_code_and_marks_nothing(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    code = current_code(api_as, klass, session_id)

    resp = api_as(john).post(CHECK_IN, json={"session_id": str(session_id), "code": wrong(code)})

    assert (resp.status_code, resp.json) == (400, WRONG_CODE)
    assert stored_attendance(app, session_id) == {}


def test_a_check_in_never_overwrites_a_mark(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    mark(app, klass, session_id, john, "ABSENT")
    code = current_code(api_as, klass, session_id)

    resp = api_as(john).post(CHECK_IN, json={"session_id": str(session_id), "code": code})

    assert (resp.status_code, resp.json) == (409, ALREADY_MARKED)
    assert list(stored_attendance(app, session_id).values()) == ["ABSENT"]


def test_after_five_wrong_codes_the_student_is_throttled_for_the_session(app, api_as, test101):
    klass, john, jane = test101.klass, test101.john, test101.jane
    session_id = make_session(app, klass)
    code = current_code(api_as, klass, session_id)
    api = api_as(john)
    bad = {"session_id": str(session_id), "code": wrong(code)}

    answers = [api.post(CHECK_IN, json=bad).status_code for _ in range(5)]
    resp = api.post(CHECK_IN, json={"session_id": str(session_id), "code": code})

    assert answers == [400] * 5
    assert (resp.status_code, resp.json) == (429, THROTTLED)
    assert "Retry-After" not in resp.headers
    assert stored_attendance(app, session_id) == {}
    # Only John, only this session.
    other = api_as(jane).post(CHECK_IN, json={"session_id": str(session_id), "code": code})
    assert other.status_code == 201


def test_rule_1_and_rule_4_have_the_marking_messages(app, api_as, test101):
    klass, john = test101.klass, test101.john
    outsider = make_student(app, number="S99999")
    session_id = make_session(app, klass)
    code = current_code(api_as, klass, session_id)
    scheduled = make_session(app, klass, start=False)

    not_started = api_as(john).post(CHECK_IN, json={"session_id": str(scheduled), "code": code})
    not_enrolled = api_as(outsider).post(
        CHECK_IN, json={"session_id": str(session_id), "code": code}
    )

    assert (not_started.status_code, not_started.json) == (400, NOT_STARTED)
    assert (not_enrolled.status_code, not_enrolled.json) == (
        400,
        {"student": ["Student 'S99999' is not enrolled in 'TEST101 Section A'"]},
    )


def test_an_ended_session_refuses_check_ins_with_its_end_time(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(
        app,
        klass,
        end=True,
        start_at=datetime(2026, 1, 10, 13, 30, tzinfo=UTC),
        end_at=datetime(2026, 1, 10, 14, 30, tzinfo=UTC),
    )

    resp = api_as(john).post(CHECK_IN, json={"session_id": str(session_id), "code": "123456"})

    assert (resp.status_code, resp.json) == (
        400,
        {"session": ["Cannot mark attendance - session ended at 14:30 on Jan 10, 2026"]},
    )


@pytest.mark.parametrize("who", ["teacher", "admin"])
def test_only_students_check_in(app, api_as, test101, who):
    admin, klass = test101.admin, test101.klass
    session_id = make_session(app, klass)
    code = current_code(api_as, klass, session_id)
    person = klass.teacher if who == "teacher" else admin

    resp = api_as(person).post(CHECK_IN, json={"session_id": str(session_id), "code": code})

    assert (resp.status_code, resp.json) == (403, FORBIDDEN)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"session_id": ["This field is required."], "code": ["This field is required."]}),
        ({"session_id": "nope", "code": "123456"}, {"session_id": ["Must be a valid UUID."]}),
        (
            {"session_id": None, "code": None},
            {
                "session_id": ["This field may not be null."],
                "code": ["This field may not be null."],
            },
        ),
        (
            {"session_id": str(uuid.UUID(int=1)), "code": ""},
            {"code": ["This field may not be blank."]},
        ),
        ({"session_id": str(uuid.UUID(int=1)), "code": ["1"]}, {"code": ["Not a valid string."]}),
    ],
    ids=["empty", "bad-uuid", "nulls", "blank-code", "list-code"],
)
def test_shape_errors_come_first_with_drfs_messages(app, api_as, test101, body, errors):
    john = test101.john

    resp = api_as(john).post(CHECK_IN, json=body)

    assert (resp.status_code, resp.json) == (400, errors)


def test_checking_in_needs_a_token(client):
    resp = client.post(CHECK_IN, json={"session_id": str(uuid.uuid4()), "code": "1"})

    assert resp.status_code == 401


# --- the order of checks --------------------------------------------------------------------


def test_order_session_exists_before_who_may_check_in(app, api_as, test101):
    klass = test101.klass

    resp = api_as(klass.teacher).post(
        CHECK_IN, json={"session_id": str(uuid.uuid4()), "code": "123456"}
    )

    assert (resp.status_code, resp.json) == (404, {"detail": "Session not found."})


def test_order_who_may_check_in_before_rule_1(app, api_as, test101):
    klass = test101.klass
    scheduled = make_session(app, klass, start=False)

    resp = api_as(klass.teacher).post(CHECK_IN, json={"session_id": str(scheduled), "code": "1"})

    assert (resp.status_code, resp.json) == (403, FORBIDDEN)


def test_order_rule_4_before_the_code(app, api_as, test101):
    klass = test101.klass
    outsider = make_student(app, number="S99999")
    session_id = make_session(app, klass)
    code = current_code(api_as, klass, session_id)

    resp = api_as(outsider).post(
        CHECK_IN, json={"session_id": str(session_id), "code": wrong(code)}
    )

    assert resp.status_code == 400 and list(resp.json) == ["student"]


def test_order_the_throttle_before_the_code_and_rule_2(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    code = current_code(api_as, klass, session_id)
    api = api_as(john)
    for _ in range(5):
        api.post(CHECK_IN, json={"session_id": str(session_id), "code": wrong(code)})
    mark(app, klass, session_id, john, "PRESENT")

    resp = api.post(CHECK_IN, json={"session_id": str(session_id), "code": code})

    assert resp.status_code == 429


def test_order_the_code_before_rule_2(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    mark(app, klass, session_id, john, "PRESENT")
    code = current_code(api_as, klass, session_id)

    resp = api_as(john).post(CHECK_IN, json={"session_id": str(session_id), "code": wrong(code)})

    assert (resp.status_code, resp.json) == (400, WRONG_CODE)


# --- under concurrent requests ----------------------------------------------------------------


def test_concurrent_wrong_codes_are_all_counted_so_no_more_than_five_are_tried(
    app, api_as, test101
):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    bad = {"session_id": str(session_id), "code": wrong(current_code(api_as, klass, session_id))}
    barrier = threading.Barrier(8)
    codes: list[int] = []

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post(CHECK_IN, json=bad, headers={"Authorization": f"Bearer {john.token}"})
        codes.append(resp.status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(codes) == [400] * 5 + [429] * 3


def test_concurrent_check_ins_of_one_student_make_one_record(app, api_as, test101):
    klass, john = test101.klass, test101.john
    session_id = make_session(app, klass)
    body = {"session_id": str(session_id), "code": current_code(api_as, klass, session_id)}
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post(CHECK_IN, json=body, headers={"Authorization": f"Bearer {john.token}"})
        codes.append(resp.status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(codes) == [201, 409, 409, 409]
    assert list(stored_attendance(app, session_id).values()) == ["PRESENT"]
