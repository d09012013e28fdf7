"""POST /api/attendance/{id}/late-minutes/: a LATE record's minutes late corrected, with the
service's bounds and messages, by the class's teacher or an admin only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attendance_app.models import utcnow
from tests.factories import (
    audit_trail,
    make_admin,
    make_class,
    make_session,
    make_teacher,
    mark,
)


def url(record_id) -> str:
    return f"/api/attendance/{record_id}/late-minutes/"


@pytest.fixture
def lesson(app):
    """A session that started 40 minutes ago; its first student marked LATE 25 minutes in."""
    klass = make_class(app, admin=make_admin(app), students=2)
    start = utcnow() - timedelta(minutes=40)
    session_id = make_session(app, klass, start_at=start)
    record_id = mark(
        app, klass, session_id, klass.students[0], "LATE", at=start + timedelta(minutes=25)
    )
    return klass, session_id, record_id


def test_minutes_late_are_corrected_and_the_session_view_agrees(app, api_as, lesson):
    klass, session_id, record_id = lesson

    resp = api_as(klass.teacher).post(url(record_id), json={"minutes": 12})

    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["message"] == "Minutes late updated"
    assert {k: body["attendance"][k] for k in ("id", "status", "late_minutes")} == {
        "id": str(record_id),
        "status": "LATE",
        "late_minutes": 12,
    }
    assert [row["new_status"].value for row in audit_trail(app, session_id)] == ["LATE", "LATE"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"minutes": 41},
            {
                "minutes": [
                    "Minutes late must be a whole number from 0 to 40 (the minutes since "
                    "the session started)."
                ]
            },
        ),
        (
            {"minutes": -1},
            {
                "minutes": [
                    "Minutes late must be a whole number from 0 to 40 (the minutes since "
                    "the session started)."
                ]
            },
        ),
        ({"minutes": "soon"}, {"minutes": ["A valid integer is required."]}),
        ({"minutes": 2.5}, {"minutes": ["A valid integer is required."]}),
        ({}, {"minutes": ["This field is required."]}),
    ],
)
def test_minutes_out_of_bounds_or_not_a_number_are_400_on_minutes(api_as, lesson, body, errors):
    klass, _, record_id = lesson

    resp = api_as(klass.teacher).post(url(record_id), json=body)

    assert (resp.status_code, resp.json) == (400, errors)


def test_a_record_that_is_not_late_has_no_minutes_late(app, api_as, lesson):
    klass, session_id, _ = lesson
    present = mark(app, klass, session_id, klass.students[1], "PRESENT")

    resp = api_as(klass.teacher).post(url(present), json={"minutes": 3})

    assert (resp.status_code, resp.json) == (
        400,
        {"minutes": ["Only a late arrival has minutes late: mark the student Late first."]},
    )


def test_another_teacher_gets_403_and_an_unknown_record_404(app, api_as, lesson):
    klass, _, record_id = lesson
    other = make_teacher(app)

    assert api_as(other).post(url(record_id), json={"minutes": 3}).status_code == 403
    missing = api_as(klass.teacher).post(
        url("00000000-0000-4000-8000-000000000000"), json={"minutes": 3}
    )
    assert missing.status_code == 404
