"""POST/DELETE /api/attendance/{id}/excuse/: the contract's bodies, codes, messages and order of
checks; the excuse in the session view, the history and the analytics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import NamedTuple

import pytest

from tests.factories import (
    audit_trail,
    end_session,
    make_session,
    make_teacher,
    mark,
)

START = datetime(2026, 1, 10, 14, 0, tzinfo=UTC)
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_EXCUSABLE = {"non_field_errors": ["Only an absence or a late arrival can be excused."]}


def url(record_id) -> str:
    return f"/api/attendance/{record_id}/excuse/"


class Marks(NamedTuple):
    session_id: uuid.UUID
    absent: uuid.UUID  # John's record
    present: uuid.UUID  # Jane's record


@pytest.fixture
def john_absent_jane_present(app, test101) -> Marks:
    """John Doe (S12345) ABSENT with the note "no call" and Jane Roe (S12346) PRESENT, marked by
    Tina Lee in an ACTIVE session of "TEST101 Section A" started at START."""
    session_id = make_session(app, test101.klass, start_at=START)
    absent = mark(app, test101.klass, session_id, test101.john, "ABSENT", notes="no call")
    present = mark(app, test101.klass, session_id, test101.jane, "PRESENT")
    return Marks(session_id, absent, present)


def test_excusing_an_absence_answers_the_contract_body(api_as, test101, john_absent_jane_present):
    klass = test101.klass
    absent = john_absent_jane_present.absent

    resp = api_as(klass.teacher).post(url(absent), json={"reason": "ILLNESS"})

    assert resp.status_code == 200, resp.json
    assert resp.json == {
        "message": "Absence excused",
        "attendance": {
            "id": str(absent),
            "student_id": "S12345",
            "status": "ABSENT",
            "excused": True,
            "absence_reason": "ILLNESS",
            "notes": "no call",
        },
    }


def test_withdrawing_answers_the_same_body_not_excused(api_as, test101, john_absent_jane_present):
    klass = test101.klass
    absent = john_absent_jane_present.absent
    api_as(klass.teacher).post(url(absent), json={"reason": "FAMILY"})

    resp = api_as(klass.teacher).delete(url(absent))

    assert resp.status_code == 200, resp.json
    assert resp.json["message"] == "Excuse withdrawn"
    assert resp.json["attendance"] == {
        "id": str(absent),
        "student_id": "S12345",
        "status": "ABSENT",
        "excused": False,
        "absence_reason": None,
        "notes": "no call",
    }


def test_a_present_record_cannot_be_excused(api_as, test101, john_absent_jane_present):
    klass = test101.klass
    present = john_absent_jane_present.present

    resp = api_as(klass.teacher).post(url(present), json={"reason": "ILLNESS"})

    assert resp.status_code == 400
    assert resp.json == NOT_EXCUSABLE


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"reason": "FOO"}, {"reason": ['"FOO" is not a valid choice.']}),
        ({"reason": "illness"}, {"reason": ['"illness" is not a valid choice.']}),
        ({}, {"reason": ["This field is required."]}),
        ({"reason": None}, {"reason": ["This field may not be null."]}),
        (
            {"reason": "OTHER", "note": "x" * 201},
            {"note": ["Ensure this field has no more than 200 characters."]},
        ),
    ],
)
def test_a_bad_body_is_refused_on_its_field(
    api_as, test101, john_absent_jane_present, body, expected
):
    klass = test101.klass
    absent = john_absent_jane_present.absent

    resp = api_as(klass.teacher).post(url(absent), json=body)

    assert resp.status_code == 400
    assert resp.json == expected


def test_the_order_of_checks_is_auth_body_record_permission_rule(
    app, api_as, client, test101, john_absent_jane_present
):
    klass = test101.klass
    present = john_absent_jane_present.present
    stranger = make_teacher(app)

    assert client.post(url(present), json={"reason": "FOO"}).status_code == 401
    assert api_as(stranger).post(url(present), json={"reason": "FOO"}).status_code == 400
    missing = api_as(stranger).post(url(uuid.uuid4()), json={"reason": "ILLNESS"})
    assert missing.status_code == 404
    forbidden = api_as(stranger).post(url(present), json={"reason": "ILLNESS"})
    assert (forbidden.status_code, forbidden.json) == (403, FORBIDDEN)
    assert api_as(stranger).delete(url(present)).status_code == 403
    assert api_as(klass.teacher).post(url(present), json={"reason": "ILLNESS"}).status_code == 400


def test_a_student_may_not_excuse_their_own_absence(app, api_as, test101, john_absent_jane_present):
    klass = test101.klass
    absent = john_absent_jane_present.absent
    john = klass.students[0]
    with app.app_context():
        from attendance_app.services.school import tokens
        from tests.factories import PASSWORD

        token = tokens.issue_token(email=john.email, password=PASSWORD).token

    resp = api_as(token).post(url(absent), json={"reason": "ILLNESS"})

    assert (resp.status_code, resp.json) == (403, FORBIDDEN)


def test_an_ended_session_is_excused_by_admin_and_teacher_and_stays_locked(
    app, api_as, test101, john_absent_jane_present
):
    admin, klass = test101.admin, test101.klass
    session_id, absent, _ = john_absent_jane_present
    end_session(app, klass, session_id)

    by_admin = api_as(admin).post(url(absent), json={"reason": "MEDICAL", "note": "letter"})
    by_teacher = api_as(klass.teacher).delete(url(absent))
    again = api_as(klass.teacher).post(url(absent), json={"reason": "OTHER"})

    assert by_admin.status_code == 200 and by_admin.json["attendance"]["excused"] is True
    assert by_teacher.status_code == 200 and by_teacher.json["attendance"]["excused"] is False
    assert again.json["attendance"]["absence_reason"] == "OTHER"
    view = api_as(admin).get(f"/api/attendance/session/{session_id}/").json
    assert view["session"]["is_locked"] is True and view["session"]["status"] == "ENDED"
    locked = api_as(admin).put(f"/api/attendance/{absent}/", json={"status": "PRESENT"})
    assert locked.status_code == 400
    channels = [row["channel"].value for row in audit_trail(app, session_id)]
    assert channels[-3:] == ["API", "API", "API"]


def test_the_session_view_and_the_history_carry_the_excuse(
    app, api_as, test101, john_absent_jane_present
):
    admin, klass = test101.admin, test101.klass
    session_id, absent, present = john_absent_jane_present
    api_as(klass.teacher).post(url(absent), json={"reason": "RELIGIOUS"})

    view = api_as(klass.teacher).get(f"/api/attendance/session/{session_id}/").json
    by_id = {r["id"]: r for r in view["records"]}
    assert (by_id[str(absent)]["excused"], by_id[str(absent)]["absence_reason"]) == (
        True,
        "RELIGIOUS",
    )
    assert (by_id[str(present)]["excused"], by_id[str(present)]["absence_reason"]) == (
        False,
        None,
    )
    # The statistics keep the contract's keys: an excused absence is still an absence.
    assert view["statistics"]["absent"] == 1

    john = klass.students[0]
    history = api_as(admin).get(f"/api/attendance/student/{john.profile_id}/").json
    [row] = history["records"]
    assert (row["excused"], row["absence_reason"]) == (True, "RELIGIOUS")
    assert set(history["statistics"]) == {
        "total_sessions",
        "present",
        "absent",
        "late",
        "attendance_rate",
    }


def test_a_status_change_to_present_clears_the_excuse(api_as, test101, john_absent_jane_present):
    klass = test101.klass
    session_id, absent, _ = john_absent_jane_present
    api_as(klass.teacher).post(url(absent), json={"reason": "ILLNESS"})

    api_as(klass.teacher).put(f"/api/attendance/{absent}/", json={"status": "PRESENT"})

    view = api_as(klass.teacher).get(f"/api/attendance/session/{session_id}/").json
    [row] = [r for r in view["records"] if r["id"] == str(absent)]
    assert (row["excused"], row["absence_reason"]) == (False, None)


def test_student_and_class_analytics_count_excused_records(
    app, api_as, test101, john_absent_jane_present
):
    admin, klass = test101.admin, test101.klass
    absent = john_absent_jane_present.absent
    api_as(klass.teacher).post(url(absent), json={"reason": "ILLNESS"})
    john = klass.students[0]

    student = api_as(admin).get(f"/api/analytics/students/{john.profile_id}/").json
    klass_body = api_as(admin).get(f"/api/analytics/classes/{klass.id}/").json

    assert student["excused"] == 1 and student["absent"] == 1
    assert student["consecutive_absences"] == 0
    assert student["attendance_rate"] == 0.0
    entries = {e["student"]["id"]: e for e in klass_body["students"]}
    assert entries[str(john.profile_id)]["excused"] == 1
    assert entries[str(klass.students[1].profile_id)]["excused"] == 0
