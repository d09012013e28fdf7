"""/api/notifications/: the bell for outside clients, on the same service as the page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.factories import make_admin, make_class, make_teacher, run_sessions

START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def crossed(app):
    """A class whose first student has just crossed into high risk; its teacher and admin."""
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    plan = [{klass.students[0]: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 3]
    run_sessions(app, klass, plan, first_start=START)
    return klass, admin


def test_a_teacher_lists_the_alert_with_its_links(crossed, api_as):
    klass, _ = crossed
    student = klass.students[0]

    response = api_as(klass.teacher).get("/api/notifications/")

    assert response.status_code == 200
    body = response.json
    assert (body["count"], body["unread"], body["page"], body["pages"]) == (1, 1, 1, 1)
    [item] = body["results"]
    assert item["kind"] == "ALERT"
    assert item["title"] == f"{student.full_name} is at high risk in {klass.name}"
    assert item["body"] == f"{klass.name}: 3 absences in a row (at least 3)."
    assert item["student_id"] == str(student.profile_id)
    assert item["class_id"] == str(klass.id)
    assert item["link"] == f"/students/{student.profile_id}/history"
    assert item["read_at"] is None and item["created_at"].endswith("Z")


def test_marking_one_read_and_then_all(crossed, api_as):
    klass, admin = crossed
    api = api_as(admin)
    [item] = api.get("/api/notifications/").json["results"]

    read = api.post(f"/api/notifications/{item['id']}/read/")

    assert read.status_code == 200
    assert read.json["read_at"] is not None
    assert api.get("/api/notifications/?unread=true").json["results"] == []
    assert api.post("/api/notifications/read-all/").json == {"marked": 0}
    teacher = api_as(klass.teacher)
    assert teacher.post("/api/notifications/read-all/").json == {"marked": 1}
    assert teacher.get("/api/notifications/").json["unread"] == 0


def test_someone_elses_notification_is_not_found(app, crossed, api_as):
    klass, _ = crossed
    [item] = api_as(klass.teacher).get("/api/notifications/").json["results"]

    response = api_as(make_teacher(app)).post(f"/api/notifications/{item['id']}/read/")

    assert response.status_code == 404
    assert response.json == {"detail": "Not found."}


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("page=0", "page", "Ensure this value is greater than or equal to 1."),
        ("page=x", "page", "A valid integer is required."),
        ("unread=maybe", "unread", "Must be a valid boolean."),
    ],
)
def test_bad_query_values_are_400_with_the_field(crossed, api_as, query, field, message):
    klass, _ = crossed

    response = api_as(klass.teacher).get(f"/api/notifications/?{query}")

    assert response.status_code == 400
    assert response.json == {field: [message]}


def test_a_page_past_the_last_shows_the_last(crossed, api_as):
    klass, _ = crossed

    body = api_as(klass.teacher).get("/api/notifications/?page=9").json

    assert (body["page"], len(body["results"])) == (1, 1)


def test_notifications_need_authentication(client):
    response = client.get("/api/notifications/")

    assert response.status_code == 401
