"""The bell in the header and /notifications: what each person sees, reading, opening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.factories import make_session, mark, run_sessions
from tests.web.conftest import csrf_from, htmx_headers, parse

START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)


def put_at_risk(app, classroom):
    """Adams (first student) crosses into high risk: 3 absences in a row."""
    adams = classroom.klass.students[0]
    plan = [{adams: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 3]
    run_sessions(app, classroom.klass, plan, first_start=START)
    return adams


def bell(html: str) -> str:
    return parse(html).one(attrs={"data-bell-count": True}).text


def test_the_bell_shows_the_unread_count_on_every_page(app, classroom, browser_as):
    put_at_risk(app, classroom)
    teacher = browser_as(classroom.teacher)

    page = teacher.get("/")

    assert bell(page.text) == "1"
    assert 'aria-label="Notifications: 1 unread"' in page.text


def test_with_nothing_unread_the_count_is_hidden(classroom, browser_as):
    page = browser_as(classroom.teacher).get("/")

    count = parse(page.text).one(attrs={"data-bell-count": True})
    assert count.has("hidden")


def test_the_list_shows_the_alert_with_its_reason(app, classroom, browser_as):
    adams = put_at_risk(app, classroom)

    page = browser_as(classroom.admin).get("/notifications")

    assert page.status_code == 200
    [item] = parse(page.text).find_all("li", {"data-notification-id": True})
    assert f"{adams.full_name} is at high risk in {classroom.klass.name}" in item.text
    assert "3 absences in a row (at least 3)" in item.text
    assert "unread" in item.get("class")


def test_opening_a_notification_marks_it_read_and_goes_to_the_students_history(
    app, classroom, browser_as
):
    adams = put_at_risk(app, classroom)
    teacher = browser_as(classroom.teacher)
    page = teacher.get("/notifications")
    item_id = parse(page.text).one("li", {"data-notification-id": True}).get("data-notification-id")

    response = teacher.post(
        f"/notifications/{item_id}/open", data={"csrf_token": csrf_from(page.text)}
    )

    assert response.status_code == 303
    assert response.headers["Location"] == f"/students/{adams.profile_id}/history"
    assert teacher.get("/notifications/count").json == {"unread": 0}


def test_marking_one_read_with_htmx_swaps_the_item(app, classroom, browser_as):
    put_at_risk(app, classroom)
    teacher = browser_as(classroom.teacher)
    page = teacher.get("/notifications")
    item_id = parse(page.text).one("li", {"data-notification-id": True}).get("data-notification-id")

    response = teacher.post(f"/notifications/{item_id}/read", headers=htmx_headers(page.text))

    assert response.status_code == 200
    item = parse(response.text).one("li")
    assert "unread" not in item.get("class")
    assert "Mark read" not in item.text


def test_mark_all_read_clears_the_bell(app, classroom, browser_as):
    put_at_risk(app, classroom)
    admin = browser_as(classroom.admin)
    page = admin.get("/notifications")

    response = admin.post("/notifications/read-all", data={"csrf_token": csrf_from(page.text)})

    assert response.status_code == 303
    assert admin.get("/notifications/count").json == {"unread": 0}
    assert (
        parse(admin.get("/notifications?unread=1").text).find_all(
            "li", {"data-notification-id": True}
        )
        == []
    )


def test_someone_elses_notification_does_not_exist_for_you(app, classroom, browser_as):
    put_at_risk(app, classroom)
    page = browser_as(classroom.teacher).get("/notifications")
    item_id = parse(page.text).one("li", {"data-notification-id": True}).get("data-notification-id")
    other = browser_as(classroom.other_teacher)
    token = csrf_from(other.get("/notifications").text)

    response = other.post(f"/notifications/{item_id}/read", data={"csrf_token": token})

    assert response.status_code == 404


def test_reading_without_the_csrf_token_is_refused(app, classroom, browser_as):
    put_at_risk(app, classroom)
    teacher = browser_as(classroom.teacher)
    page = teacher.get("/notifications")
    item_id = parse(page.text).one("li", {"data-notification-id": True}).get("data-notification-id")

    response = teacher.post(f"/notifications/{item_id}/read")

    assert response.status_code == 400
    assert teacher.get("/notifications/count").json == {"unread": 1}


def test_a_student_sees_their_end_of_session_notice(app, classroom, browser_as):
    adams = classroom.klass.students[0]
    session_id = make_session(app, classroom.klass, start_at=START)
    mark(app, classroom.klass, session_id, adams, "ABSENT")
    from tests.factories import end_session

    end_session(app, classroom.klass, session_id)

    page = browser_as(adams).get("/notifications")

    assert bell(page.text) == "1"
    assert f"You were marked absent in {classroom.klass.name}" in page.text


def test_the_notifications_page_needs_a_login(client):
    response = client.get("/notifications")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_odd_page_number_falls_back_to_the_first(classroom, browser_as):
    response = browser_as(classroom.teacher).get("/notifications?page=abc")

    assert response.status_code == 200
    assert "No notifications yet" in response.text


def test_admins_see_when_email_is_failing(app, classroom, browser_as, monkeypatch):
    import socket

    from attendance_app.models import utcnow
    from attendance_app.services.notifying import outbox

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]  # nobody listens there
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", closed_port)
    put_at_risk(app, classroom)
    with app.app_context():
        outbox.send_due(now=utcnow() + timedelta(hours=1))

    page = browser_as(classroom.admin).get("/notifications")

    assert "Email: 2 waiting to be sent, 2 after a failed attempt" in page.text
    assert "Could not reach the mail server" in page.text
    assert "data-mail-health" not in browser_as(classroom.teacher).get("/notifications").text


def test_staff_pages_keep_the_bell_live_and_students_pages_hold_no_connection(
    classroom, browser_as
):
    teacher_page = browser_as(classroom.teacher).get("/").text
    student = classroom.klass.students[0]
    student_page = browser_as(student).get(f"/students/{student.profile_id}/history").text

    assert "js/bell.js" in teacher_page and "socket.io.min.js" in teacher_page
    assert "js/bell.js" not in student_page and "socket.io.min.js" not in student_page
    assert parse(student_page).find(attrs={"data-bell": True}) is not None  # still a count


def test_a_teachers_home_counts_each_classs_students_at_risk(app, classroom, browser_as):
    put_at_risk(app, classroom)

    page = browser_as(classroom.teacher).get("/")

    link = parse(page.text).one("a", {"data-at-risk": True})
    assert link.text == "1 at risk"
    assert link.get("href") == f"/classes/{classroom.klass.id}/analytics"
