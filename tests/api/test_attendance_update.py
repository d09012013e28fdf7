"""PUT/PATCH /api/attendance/{id}/: what changes, what never does, rule 3, who may, the audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import NamedTuple

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import Attendance, AttendanceChange
from tests.factories import (
    make_class,
    make_session,
    make_teacher,
    mark,
    stored_attendance,
)

MARKED_AT = datetime(2026, 1, 10, 14, 5, tzinfo=UTC)
LOCKED = {"session": ["Cannot modify attendance - session ended and is locked"]}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


def url(record_id) -> str:
    return f"/api/attendance/{record_id}/"


class Marked(NamedTuple):
    session_id: uuid.UUID
    record_id: uuid.UUID


@pytest.fixture
def johns_record(app, test101) -> Marked:
    """John Doe (S12345) marked PRESENT with the note "Front row" at MARKED_AT, by Tina Lee, in
    an ACTIVE session of "TEST101 Section A" started at 14:00 that day."""
    session_id = make_session(app, test101.klass, start_at=datetime(2026, 1, 10, 14, 0, tzinfo=UTC))
    record_id = mark(
        app, test101.klass, session_id, test101.john, "PRESENT", notes="Front row", at=MARKED_AT
    )
    return Marked(session_id, record_id)


def audit_rows(app, record_id) -> list[AttendanceChange]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AttendanceChange)
                .where(AttendanceChange.attendance_id == record_id)
                .order_by(AttendanceChange.changed_at)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


def stored_record(app, record_id) -> Attendance:
    with app.app_context():
        record = db.session.get(Attendance, record_id)
        db.session.expunge_all()
        db.session.remove()
    return record


def parse(ts: str) -> datetime:
    assert ts.endswith("Z"), ts
    return datetime.fromisoformat(ts[:-1] + "+00:00")


# --- success ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch"])
def test_updating_returns_200_with_the_contract_body(app, api_as, test101, johns_record, method):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = getattr(api_as(klass.teacher), method)(
        url(record_id), json={"status": "LATE", "notes": "Arrived 10 minutes late"}
    )

    assert resp.status_code == 200, resp.json
    updated_at = resp.json["attendance"]["updated_at"]
    assert resp.json == {
        "message": "Attendance updated successfully",
        "attendance": {
            "id": str(record_id),
            "student_id": "S12345",
            "status": "LATE",
            "marked_at": "2026-01-10T14:05:00Z",
            "updated_at": updated_at,
            "notes": "Arrived 10 minutes late",
        },
    }
    assert parse(updated_at) > MARKED_AT


def test_marked_at_never_changes_and_updated_at_does_on_every_update(
    app, api_as, test101, johns_record
):
    klass = test101.klass
    session_id, record_id = johns_record
    api = api_as(klass.teacher)

    first = api.put(url(record_id), json={"status": "ABSENT"}).json["attendance"]
    second = api.put(url(record_id), json={"status": "LATE"}).json["attendance"]

    assert first["marked_at"] == second["marked_at"] == "2026-01-10T14:05:00Z"
    assert parse(second["updated_at"]) >= parse(first["updated_at"]) > MARKED_AT
    view = api.get(f"/api/attendance/session/{session_id}/").json
    assert view["records"][0]["marked_at"] == "2026-01-10T14:05:00Z"
    record = stored_record(app, record_id)
    assert record.marked_at == MARKED_AT
    assert record.updated_at == parse(second["updated_at"])


def test_the_updater_becomes_marked_by(app, api_as, test101, johns_record):
    admin, klass = test101.admin, test101.klass
    session_id, record_id = johns_record

    resp = api_as(admin).put(url(record_id), json={"status": "ABSENT"})

    assert resp.status_code == 200, resp.json
    view = api_as(klass.teacher).get(f"/api/attendance/session/{session_id}/").json
    assert view["records"][0]["marked_by"] == "Ada Admin"
    assert view["records"][0]["status"] == "ABSENT"


def test_updating_only_the_notes_keeps_the_status(app, api_as, test101, johns_record):
    klass = test101.klass
    session_id, record_id = johns_record

    resp = api_as(klass.teacher).patch(url(record_id), json={"notes": "Left early"})

    assert resp.status_code == 200
    assert resp.json["attendance"]["status"] == "PRESENT"
    assert resp.json["attendance"]["notes"] == "Left early"
    assert stored_attendance(app, session_id) == {klass.students[0].profile_id: "PRESENT"}


def test_updating_only_the_status_keeps_the_notes(app, api_as, test101, johns_record):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = api_as(klass.teacher).put(url(record_id), json={"status": "LATE"})

    assert resp.json["attendance"]["notes"] == "Front row"
    assert resp.json["attendance"]["status"] == "LATE"


def test_notes_can_be_cleared_with_an_empty_string(app, api_as, test101, johns_record):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = api_as(klass.teacher).put(url(record_id), json={"notes": ""})

    assert resp.status_code == 200
    assert resp.json["attendance"]["notes"] == ""
    assert stored_record(app, record_id).notes == ""


def test_an_update_changes_the_session_statistics(app, api_as, test101, johns_record):
    klass = test101.klass
    session_id, record_id = johns_record
    api = api_as(klass.teacher)

    api.put(url(record_id), json={"status": "ABSENT"})

    stats = api.get(f"/api/attendance/session/{session_id}/").json["statistics"]
    assert (stats["present"], stats["absent"], stats["attendance_rate"]) == (0, 1, 0.0)


def test_unknown_fields_in_an_update_are_ignored(app, api_as, test101, johns_record):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = api_as(klass.teacher).put(
        url(record_id),
        json={"status": "LATE", "marked_at": "2020-01-01T00:00:00Z", "student_id": "S1"},
    )

    assert resp.status_code == 200
    assert resp.json["attendance"]["marked_at"] == "2026-01-10T14:05:00Z"
    assert resp.json["attendance"]["student_id"] == "S12345"


# --- the audit trail ---------------------------------------------------------------------------


def test_an_update_appends_an_audit_row_with_old_and_new_values(app, api_as, test101, johns_record):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = api_as(klass.teacher).put(url(record_id), json={"status": "LATE", "notes": "Bus"})

    rows = audit_rows(app, record_id)
    assert len(rows) == 2  # the mark, then this update
    created, changed = rows
    assert (created.old_status, created.new_status) == (None, "PRESENT")
    assert (changed.old_status, changed.new_status) == ("PRESENT", "LATE")
    assert (changed.old_notes, changed.new_notes) == ("Front row", "Bus")
    assert changed.actor_id == klass.teacher.user_id
    assert changed.channel == "API"
    assert changed.student_id == klass.students[0].profile_id
    assert changed.changed_at == parse(resp.json["attendance"]["updated_at"])


def test_a_notes_only_update_audits_the_unchanged_status_as_both_old_and_new(
    app, api_as, test101, johns_record
):
    admin = test101.admin
    record_id = johns_record.record_id

    api_as(admin).patch(url(record_id), json={"notes": "Moved seat"})

    changed = audit_rows(app, record_id)[-1]
    assert (changed.old_status, changed.new_status) == ("PRESENT", "PRESENT")
    assert (changed.old_notes, changed.new_notes) == ("Front row", "Moved seat")
    assert changed.actor_id == admin.user_id


def test_successive_updates_chain_in_the_audit_trail(app, api_as, test101, johns_record):
    klass = test101.klass
    record_id = johns_record.record_id
    api = api_as(klass.teacher)

    for status in ["ABSENT", "LATE", "PRESENT"]:
        assert api.put(url(record_id), json={"status": status}).status_code == 200

    pairs = [(r.old_status, r.new_status) for r in audit_rows(app, record_id)]
    assert pairs == [
        (None, "PRESENT"),
        ("PRESENT", "ABSENT"),
        ("ABSENT", "LATE"),
        ("LATE", "PRESENT"),
    ]


def test_a_refused_update_leaves_no_audit_row(app, api_as, test101, johns_record):
    record_id = johns_record.record_id

    api_as(make_teacher(app)).put(url(record_id), json={"status": "LATE"})

    assert len(audit_rows(app, record_id)) == 1


# --- rule 3: locked after the session ends ---------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_record_of_an_ended_session_is_locked(app, api_as, test101, johns_record, method):
    klass = test101.klass
    session_id, record_id = johns_record
    api = api_as(klass.teacher)
    assert api.post(f"/api/sessions/{session_id}/end/").status_code == 200

    resp = getattr(api, method)(url(record_id), json={"status": "ABSENT", "notes": "x"})

    assert resp.status_code == 400
    assert resp.json == LOCKED
    record = stored_record(app, record_id)
    assert (record.status, record.notes) == ("PRESENT", "Front row")
    assert len(audit_rows(app, record_id)) == 1


def test_an_admin_cannot_unlock_an_ended_session_either(app, api_as, test101, johns_record):
    admin, klass = test101.admin, test101.klass
    session_id, record_id = johns_record
    api_as(klass.teacher).post(f"/api/sessions/{session_id}/end/")

    resp = api_as(admin).put(url(record_id), json={"notes": "late correction"})

    assert resp.status_code == 400
    assert resp.json == LOCKED


def test_permission_is_checked_before_the_lock(app, api_as, test101, johns_record):
    klass = test101.klass
    session_id, record_id = johns_record
    api_as(klass.teacher).post(f"/api/sessions/{session_id}/end/")

    resp = api_as(make_teacher(app)).put(url(record_id), json={"status": "ABSENT"})

    assert resp.status_code == 403


def test_the_body_shape_is_checked_before_the_lock(app, api_as, test101, johns_record):
    klass = test101.klass
    session_id, record_id = johns_record
    api_as(klass.teacher).post(f"/api/sessions/{session_id}/end/")

    resp = api_as(klass.teacher).put(url(record_id), json={"status": "GONE"})

    assert resp.status_code == 400
    assert resp.json == {"status": ['"GONE" is not a valid choice.']}


# --- not found and permissions ---------------------------------------------------------------


def test_an_unknown_record_is_404(app, api_as, test101, johns_record):
    admin = test101.admin

    resp = api_as(admin).put(url(uuid.uuid4()), json={"status": "LATE"})

    assert resp.status_code == 404
    assert set(resp.json) == {"detail"}


@pytest.mark.parametrize("bad", ["not-a-uuid", "42"])
def test_a_malformed_record_id_is_404(app, api_as, test101, johns_record, bad):
    admin = test101.admin

    resp = api_as(admin).put(url(bad), json={"status": "LATE"})

    assert resp.status_code == 404
    assert resp.json == {"detail": "Not found."}


def test_the_record_exists_is_checked_before_permission(app, api_as, test101, johns_record):
    resp = api_as(make_teacher(app)).put(url(uuid.uuid4()), json={"status": "LATE"})

    assert resp.status_code == 404


def test_the_body_shape_is_checked_before_the_record_exists(app, api_as, test101, johns_record):
    admin = test101.admin

    resp = api_as(admin).put(url(uuid.uuid4()), json={"status": "FOO"})

    assert resp.status_code == 400
    assert resp.json == {"status": ['"FOO" is not a valid choice.']}


def test_a_teacher_may_not_update_a_record_of_someone_else_s_class(
    app, api_as, test101, johns_record
):
    admin = test101.admin
    record_id = johns_record.record_id
    other_class = make_class(app, admin=admin, students=1)

    resp = api_as(other_class.teacher).put(url(record_id), json={"status": "ABSENT"})

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN
    assert stored_record(app, record_id).status == "PRESENT"


def test_a_student_may_not_update_even_their_own_record(app, api_as, test101, johns_record):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = api_as(klass.students[0]).patch(url(record_id), json={"status": "LATE"})

    assert resp.status_code == 403
    assert stored_record(app, record_id).status == "PRESENT"


def test_updating_without_a_token_is_401(app, client, test101, johns_record):
    record_id = johns_record.record_id

    resp = client.put(url(record_id), json={"status": "LATE"})

    assert resp.status_code == 401
    assert resp.json == {"detail": "Authentication credentials were not provided."}


def test_the_token_scheme_word_is_accepted_for_updates(app, client, test101, johns_record):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = client.put(
        url(record_id),
        json={"status": "LATE"},
        headers={"Authorization": f"Token {klass.teacher.token}"},
    )

    assert resp.status_code == 200


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_other_methods_on_a_record_are_405(app, api_as, test101, johns_record, method):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = getattr(api_as(klass.teacher), method)(url(record_id))

    assert resp.status_code == 405
    assert resp.json == {"detail": f'Method "{method.upper()}" not allowed.'}


# --- bad input is a 400, never a 500 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"status": "FOO"}, {"status": ['"FOO" is not a valid choice.']}),
        ({"status": "late"}, {"status": ['"late" is not a valid choice.']}),
        ({"status": 5}, {"status": ['"5" is not a valid choice.']}),
        ({"status": "LATE", "notes": ["x"]}, {"notes": ["Not a valid string."]}),
        ({"notes": {"a": 1}}, {"notes": ["Not a valid string."]}),
        ({"notes": "a\u0000b"}, {"notes": ["Null characters are not allowed."]}),
    ],
)
def test_bad_values_are_field_errors(app, api_as, test101, johns_record, payload, expected):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = api_as(klass.teacher).put(url(record_id), json=payload)

    assert resp.status_code == 400
    assert resp.json == expected
    assert stored_record(app, record_id).status == "PRESENT"


@pytest.mark.parametrize("payload", [{}, {"status": None}, {"notes": None}, {"colour": "red"}])
def test_an_update_that_changes_nothing_is_refused(app, api_as, test101, johns_record, payload):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = api_as(klass.teacher).put(url(record_id), json=payload)

    assert resp.status_code == 400
    assert list(resp.json) == ["non_field_errors"]
    assert len(audit_rows(app, record_id)) == 1


@pytest.mark.parametrize("raw", ["{oops", "[]", '["LATE"]', '"LATE"', "3"])
def test_a_body_that_is_not_a_json_object_is_malformed(app, api_as, test101, johns_record, raw):
    klass = test101.klass
    record_id = johns_record.record_id

    resp = api_as(klass.teacher).put(url(record_id), data=raw, content_type="application/json")

    assert resp.status_code == 400
    assert resp.json == {"detail": "Malformed request body."}
