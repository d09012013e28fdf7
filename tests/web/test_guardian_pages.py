"""Guardians on a student's page in the back office (admins add, turn emails off and on, and
remove them after a confirmation), and the unsubscribe page a guardian opens without a
login."""

from __future__ import annotations

import pytest

from attendance_app.extensions import db
from attendance_app.models import Guardian
from attendance_app.services.school import guardians
from attendance_app.shapes import CONTROL_CHARACTERS, NOT_AN_EMAIL, REQUIRED
from tests.factories import add_guardian
from tests.web.conftest import csrf_from, parse


def _url(person) -> str:
    return f"/admin/people/{person.user_id}"


def _stored(app, student) -> list[tuple[str, str, str, bool]]:
    with app.app_context():
        found = [
            (g.name, g.email, g.relationship, g.notify)
            for g in guardians.guardians_of(student.profile_id)
        ]
        db.session.remove()
    return found


def _add(client, student, **fields):
    page = client.get(_url(student))
    data = {"csrf_token": csrf_from(page.text), **fields}
    return client.post(f"{_url(student)}/guardians", data=data)


def test_an_admin_adds_a_guardian_from_the_students_page(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    student = classroom.klass.students[0]

    done = _add(
        client,
        student,
        name="Mary Adams",
        email="Mary@Home.test",
        relationship="Mother",
        notify="on",
    )

    assert done.status_code == 302
    assert _stored(app, student) == [("Mary Adams", "mary@home.test", "Mother", True)]
    page = parse(client.get(done.headers["Location"]).text)
    [item] = page.one("ul", {"class": "guardians"}).find_all("li")
    assert "Mary Adams" in item.text and "Emails on" in item.text
    assert "Mary Adams was added as" in page.text


def test_a_guardian_added_without_the_box_ticked_is_not_emailed(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    student = classroom.klass.students[0]

    _add(client, student, name="Tom Adams", email="tom@home.test", relationship="Father")

    assert _stored(app, student) == [("Tom Adams", "tom@home.test", "Father", False)]


@pytest.mark.parametrize(
    ("fields", "name", "message"),
    [
        ({"name": ""}, "name", REQUIRED),
        ({"email": "nobody"}, "email", NOT_AN_EMAIL),
        ({"relationship": "Mum\r\nX"}, "relationship", CONTROL_CHARACTERS),
    ],
)
def test_a_bad_field_is_shown_beside_it_and_nothing_is_added(
    app, classroom, browser_as, fields, name, message
):
    client = browser_as(classroom.admin)
    student = classroom.klass.students[0]
    values = {"name": "Mary", "email": "mary@home.test", "relationship": "Mother", **fields}

    page = _add(client, student, **values)

    assert page.status_code == 400
    form = parse(page.text).one("form", {"id": "guardian-add"})
    assert form.one("small", {"id": f"{name}-error"}).text == message
    assert _stored(app, student) == []


def test_the_same_email_twice_is_refused_beside_the_email(app, classroom, browser_as):
    student = classroom.klass.students[0]
    add_guardian(app, student, admin=classroom.admin, email="mary@home.test")
    client = browser_as(classroom.admin)

    page = _add(client, student, name="Mary", email="mary@home.test", relationship="Mother")

    assert page.status_code == 400
    assert guardians.ALREADY_LISTED in page.text


def test_removing_a_guardian_asks_first_then_removes(app, classroom, browser_as):
    student = classroom.klass.students[0]
    gid = add_guardian(app, student, admin=classroom.admin, name="Mary Adams")
    client = browser_as(classroom.admin)
    page = parse(client.get(_url(student)).text)
    link = page.one("li", {"data-guardian-id": str(gid)}).one("a").get("href")

    confirm = client.get(link)
    assert confirm.status_code == 200
    assert "Remove Mary Adams from" in confirm.text
    assert _stored(app, student) != []  # asking removes nothing

    done = client.post(link, data={"csrf_token": csrf_from(confirm.text)})

    assert done.status_code == 302
    assert _stored(app, student) == []


def test_an_admin_turns_a_guardians_emails_off_and_on(app, classroom, browser_as):
    student = classroom.klass.students[0]
    gid = add_guardian(app, student, admin=classroom.admin)
    client = browser_as(classroom.admin)
    url = f"{_url(student)}/guardians/{gid}/notify"
    token = csrf_from(client.get(_url(student)).text)

    client.post(url, data={"csrf_token": token})
    assert _stored(app, student)[0][3] is False
    client.post(url, data={"csrf_token": token, "notify": "on"})
    assert _stored(app, student)[0][3] is True


def test_teachers_and_students_cannot_manage_guardians(app, classroom, browser_as):
    student = classroom.klass.students[0]
    gid = add_guardian(app, student, admin=classroom.admin)
    client = browser_as(classroom.teacher)
    token = csrf_from(client.get("/").text)

    assert client.get(_url(student)).status_code == 403
    assert client.get(f"{_url(student)}/guardians/{gid}/remove").status_code == 403
    refused = client.post(
        f"{_url(student)}/guardians",
        data={"csrf_token": token, "name": "X", "email": "x@h.test", "relationship": "Y"},
    )
    assert refused.status_code == 403
    assert len(_stored(app, student)) == 1


def test_a_teachers_page_has_no_guardians_section(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    page = parse(client.get(_url(classroom.teacher)).text)

    assert page.find("section", {"id": "guardians"}) is None


def test_the_unsubscribe_page_needs_no_login_and_a_get_changes_nothing(app, classroom, client):
    student = classroom.klass.students[0]
    gid = add_guardian(app, student, admin=classroom.admin, name="Mary Adams")
    with app.app_context():
        path = guardians.unsubscribe_path(gid)

    page = client.get(path)

    assert page.status_code == 200
    assert "Stop these emails?" in page.text
    assert _stored(app, student)[0][3] is True
    done = client.post(path, data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 200
    assert "You will not receive these emails any more, Mary Adams." in done.text
    with app.app_context():
        assert db.session.get(Guardian, gid).notify is False
        db.session.remove()


def test_a_damaged_unsubscribe_link_says_so(app, client):
    page = client.get("/guardians/unsubscribe/not-a-token")

    assert page.status_code == 404
    assert guardians.UNSUBSCRIBE_INVALID in page.text
