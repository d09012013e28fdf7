"""The audit trail: every create and change of a record appends one AttendanceChange row, in
the same transaction, and a refused operation appends none."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from attendance_app.extensions import db
from attendance_app.models import Attendance, AttendanceChange, AttendanceStatus, Channel
from attendance_app.services.ids import unix_ms
from tests.conftest import ApiClient
from tests.factories import ClassInfo, make_admin, make_class, make_session, make_student, mark


def changes(app, session_id: uuid.UUID) -> list[AttendanceChange]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AttendanceChange)
                .where(AttendanceChange.session_id == session_id)
                .order_by(AttendanceChange.changed_at, AttendanceChange.student_id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


def change_count(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(AttendanceChange))
        db.session.remove()
    return n


def is_made_between(made: uuid.UUID, before: int, after: int) -> bool:
    """A time-ordered (version 7) UUID whose time, in Unix milliseconds, is in [before, after]."""
    return made.version == 7 and made.variant == uuid.RFC_4122 and before <= made.int >> 80 <= after


def setup_class(app, students: int = 3) -> tuple[ClassInfo, uuid.UUID]:
    klass = make_class(app, admin=make_admin(app), students=students)
    return klass, make_session(app, klass)


def test_a_single_mark_appends_one_change_with_actor_channel_and_new_values(app, api_as):
    klass, session_id = setup_class(app)
    student = klass.students[0]

    response = api_as(klass.teacher).post(
        "/api/attendance/mark/",
        json={
            "session_id": str(session_id),
            "student_id": str(student.profile_id),
            "status": "LATE",
            "notes": "bus was late",
        },
    )

    assert response.status_code == 201, response.json
    [change] = changes(app, session_id)
    assert str(change.attendance_id) == response.json["attendance"]["id"]
    assert change.student_id == student.profile_id
    assert change.actor_id == klass.teacher.user_id
    assert change.channel == Channel.API
    assert (change.old_status, change.new_status) == (None, AttendanceStatus.LATE)
    assert (change.old_notes, change.new_notes) == (None, "bus was late")
    assert change.group_id is None
    assert change.changed_at is not None


def test_a_bulk_mark_through_the_api_appends_one_api_change_per_record_in_one_group_time_ordered(
    app, api_as
):
    klass, session_id = setup_class(app, students=4)
    statuses = ["PRESENT", "ABSENT", "LATE", "PRESENT"]
    records = [
        {"student_id": str(s.profile_id), "status": st, "notes": f"note {i}"}
        for i, (s, st) in enumerate(zip(klass.students, statuses, strict=True))
    ]

    before = unix_ms()
    response = api_as(klass.teacher).post(
        "/api/attendance/mark/", json={"session_id": str(session_id), "records": records}
    )
    after = unix_ms()

    assert response.status_code == 201, response.json
    trail = {c.student_id: c for c in changes(app, session_id)}
    assert len(trail) == 4
    record_ids = {r["id"] for r in response.json["attendance_records"]}
    assert {str(c.attendance_id) for c in trail.values()} == record_ids
    # Time-ordered ids (``services.ids``), the records' made here, the audit rows' by the
    # database: all different.
    made = [uuid.UUID(r) for r in record_ids] + [c.id for c in trail.values()]
    assert len(set(made)) == 8
    assert all(is_made_between(i, before, after) for i in made)
    assert len({c.group_id for c in trail.values()}) == 1
    assert next(iter(trail.values())).group_id is not None
    for i, (student, status) in enumerate(zip(klass.students, statuses, strict=True)):
        change = trail[student.profile_id]
        assert change.channel == Channel.API
        assert change.actor_id == klass.teacher.user_id
        assert (change.old_status, change.new_status) == (None, AttendanceStatus(status))
        assert (change.old_notes, change.new_notes) == (None, f"note {i}")


def test_initialising_through_the_api_appends_api_changes_for_created_records_only(app, api_as):
    klass, session_id = setup_class(app, students=4)
    already = mark(app, klass, session_id, klass.students[0], "PRESENT")
    api = api_as(klass.teacher)

    first = api.post("/api/attendance/bulk-mark/", json={"session_id": str(session_id)})
    second = api.post("/api/attendance/bulk-mark/", json={"session_id": str(session_id)})

    assert (first.status_code, first.json["count"]) == (201, 3)
    assert (second.status_code, second.json["count"]) == (201, 0)
    trail = changes(app, session_id)
    assert len(trail) == 4  # the earlier mark + three created by the first initialisation
    initialised = [c for c in trail if c.attendance_id != already]
    assert {c.student_id for c in initialised} == {s.profile_id for s in klass.students[1:]}
    assert len({c.group_id for c in initialised}) == 1
    assert initialised[0].group_id is not None
    for change in initialised:
        assert change.channel == Channel.API
        assert change.actor_id == klass.teacher.user_id
        assert (change.old_status, change.new_status) == (None, AttendanceStatus.ABSENT)


def test_initialised_records_get_time_ordered_ids_from_the_database_and_one_change_each(
    app, api_as
):
    klass, session_id = setup_class(app, students=5)
    api = api_as(klass.teacher)

    before = unix_ms()
    response = api.post(
        "/api/attendance/bulk-mark/", json={"session_id": str(session_id), "default_status": "LATE"}
    )
    after = unix_ms()

    assert response.status_code == 201, response.json
    with app.app_context():
        records = list(
            db.session.scalars(select(Attendance).where(Attendance.session_id == session_id))
        )
        db.session.expunge_all()
        db.session.remove()
    ids = [r.id for r in records]
    assert len(set(ids)) == 5
    assert all(is_made_between(i, before, after) for i in ids)
    for record in records:
        assert record.status == AttendanceStatus.LATE
        assert record.late_at == record.marked_at == record.created_at
        assert (record.marked_by_id, record.notes, record.version) == (
            klass.teacher.user_id,
            "",
            1,
        )
    trail = changes(app, session_id)
    assert sorted(c.attendance_id for c in trail) == sorted(ids)
    assert len({c.id for c in trail} | set(ids)) == 10
    for change in trail:
        assert is_made_between(change.id, before, after)
        assert (change.new_status, change.new_notes) == (AttendanceStatus.LATE, "")
        assert (change.old_status, change.old_notes, change.reason) == (None, None, None)
        assert change.changed_at == records[0].marked_at
    # The ids round-trip: the record is found by the id the database made.
    updated = api.patch(f"/api/attendance/{ids[0]}/", json={"status": "PRESENT"})
    assert updated.status_code == 200, updated.json
    assert updated.json["attendance"]["id"] == str(ids[0])


def test_two_bulk_actions_get_different_groups(app, api_as):
    klass, session_id = setup_class(app, students=4)
    api = api_as(klass.teacher)
    api.post(
        "/api/attendance/mark/",
        json={
            "session_id": str(session_id),
            "records": [
                {"student_id": str(s.profile_id), "status": "PRESENT"} for s in klass.students[:2]
            ],
        },
    )
    api.post("/api/attendance/bulk-mark/", json={"session_id": str(session_id)})

    groups = {}
    for change in changes(app, session_id):
        groups.setdefault(change.group_id, set()).add(change.student_id)
    assert sorted(len(members) for members in groups.values()) == [2, 2]
    assert None not in groups


def test_an_update_appends_a_change_with_old_and_new_status_and_notes(app, api_as):
    klass, session_id = setup_class(app)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT", notes="no show")
    other_teacher_admin = make_admin(app)

    response = api_as(other_teacher_admin).put(
        f"/api/attendance/{record_id}/", json={"status": "LATE", "notes": "arrived 9:20"}
    )
    notes_only = api_as(klass.teacher).patch(
        f"/api/attendance/{record_id}/", json={"notes": "arrived 9:25"}
    )

    assert response.status_code == 200, response.json
    assert notes_only.status_code == 200, notes_only.json
    create, update, notes_change = changes(app, session_id)
    assert (create.old_status, create.new_status) == (None, AttendanceStatus.ABSENT)
    assert update.attendance_id == record_id
    assert update.actor_id == other_teacher_admin.user_id
    assert update.channel == Channel.API
    assert (update.old_status, update.new_status) == (
        AttendanceStatus.ABSENT,
        AttendanceStatus.LATE,
    )
    assert (update.old_notes, update.new_notes) == ("no show", "arrived 9:20")
    assert notes_change.actor_id == klass.teacher.user_id
    assert (notes_change.old_status, notes_change.new_status) == (
        AttendanceStatus.LATE,
        AttendanceStatus.LATE,
    )
    assert (notes_change.old_notes, notes_change.new_notes) == ("arrived 9:20", "arrived 9:25")


def test_refused_operations_append_no_change(app, api_as):
    klass, session_id = setup_class(app, students=3)
    outsider = make_student(app, with_token=False)
    first, second, third = klass.students
    record_id = mark(app, klass, session_id, first, "PRESENT")
    api: ApiClient = api_as(klass.teacher)
    before = change_count(app)

    refused = [
        # rule 2: already marked
        api.post(
            "/api/attendance/mark/",
            json={
                "session_id": str(session_id),
                "student_id": str(first.profile_id),
                "status": "ABSENT",
            },
        ),
        # rule 4 on the last entry: the valid entries before it are not written either
        api.post(
            "/api/attendance/mark/",
            json={
                "session_id": str(session_id),
                "records": [
                    {"student_id": str(second.profile_id), "status": "PRESENT"},
                    {"student_id": str(third.profile_id), "status": "LATE"},
                    {"student_id": str(outsider.profile_id), "status": "LATE"},
                ],
            },
        ),
        # rule 2 inside a bulk: the new entry is not written either
        api.post(
            "/api/attendance/mark/",
            json={
                "session_id": str(session_id),
                "records": [
                    {"student_id": str(second.profile_id), "status": "PRESENT"},
                    {"student_id": str(first.profile_id), "status": "LATE"},
                ],
            },
        ),
    ]
    api.post(f"/api/sessions/{session_id}/end/")
    refused += [
        # rule 3: locked after the end
        api.put(f"/api/attendance/{record_id}/", json={"status": "LATE"}),
        # rule 1: nothing new in an ended session
        api.post("/api/attendance/bulk-mark/", json={"session_id": str(session_id)}),
    ]

    assert [r.status_code for r in refused] == [409, 400, 409, 400, 400]
    assert change_count(app) == before
