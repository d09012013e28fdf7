"""/admin/people/<id>: an admin edits a person (names, email, student number), sets a new
password, and sees a teacher's classes or a student's enrolments; /admin/people in pages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from attendance_app.extensions import db
from attendance_app.models import User
from attendance_app.services.school import people
from attendance_app.services.school.listings import PEOPLE_PER_PAGE
from attendance_app.services.school.people import (
    EMAIL_TAKEN,
    PASSWORD_TOO_SHORT,
    ROLE_IS_FIXED,
    STUDENT_NUMBER_TAKEN,
)
from attendance_app.shapes import NO_NUL, NOT_AN_EMAIL, REQUIRED, too_long
from tests.factories import PASSWORD, make_students
from tests.web.conftest import csrf_from, login_as, parse


def _url(person) -> str:
    return f"/admin/people/{person.user_id}"


def _details(person, **changes) -> dict[str, str]:
    return {
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "student_number": person.number or "",
        **changes,
    }


def _save(client, person, **changes):
    page = client.get(_url(person))
    data = {"csrf_token": csrf_from(page.text), **_details(person, **changes)}
    return client.post(_url(person), data=data)


def _stored(app, person) -> tuple[str, str, str, str | None]:
    with app.app_context():
        user = db.session.get(User, person.user_id)
        found = (
            user.email,
            user.first_name,
            user.last_name,
            user.student.student_number if user.student else None,
        )
        db.session.remove()
    return found


def _error(html: str, name: str) -> str:
    return parse(html).one("small", {"id": f"{name}-error"}).text


# --- the page --------------------------------------------------------------------------------


def test_the_page_shows_the_details_the_fixed_role_and_a_teachers_classes(
    app, classroom, browser_as
):
    client = browser_as(classroom.admin)

    page = client.get(_url(classroom.teacher))

    assert page.status_code == 200
    doc = parse(page.text)
    form = doc.one("form", {"id": "person-details"})
    assert form.one("input", {"name": "email"}).get("value") == classroom.teacher.email
    assert form.one("input", {"name": "first_name"}).get("value") == classroom.teacher.first_name
    assert form.find("input", {"name": "student_number"}) is None
    assert form.find("select", {"name": "role"}) is None
    assert ROLE_IS_FIXED in doc.one("p", {"id": "role-fixed"}).text
    listed = doc.one("li", {"data-class-id": str(classroom.klass.id)})
    hrefs = {a.get("href") for a in listed.find_all("a")}
    assert f"/admin/classes/{classroom.klass.id}" in hrefs
    assert f"/admin/classes/{classroom.klass.id}/students" in hrefs
    assert doc.one("form", {"id": "person-password"}).find("input", {"name": "csrf_token"})


def test_a_students_page_lists_their_enrolments_and_number(app, classroom, browser_as):
    student = classroom.klass.students[0]
    client = browser_as(classroom.admin)

    doc = parse(client.get(_url(student)).text)

    form = doc.one("form", {"id": "person-details"})
    assert form.one("input", {"name": "student_number"}).get("value") == student.number
    enrolment = doc.one("li", {"data-class-id": str(classroom.klass.id)})
    assert enrolment.one("a").get("href") == f"/admin/classes/{classroom.klass.id}/students"
    assert f'href="/students/{student.profile_id}/history"' in client.get(_url(student)).text


def test_the_people_list_links_each_name_to_its_page(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    row = parse(client.get("/admin/people").text).one(
        "tr", {"data-user-id": str(classroom.outsider.user_id)}
    )

    assert row.find_all("td")[0].one("a").get("href") == _url(classroom.outsider)


@pytest.mark.parametrize("address", ["/admin/people/not-a-uuid", "/admin/people/123"])
def test_a_malformed_id_is_not_found(app, classroom, browser_as, address):
    client = browser_as(classroom.admin)
    assert client.get(address).status_code == 404
    token = csrf_from(client.get("/").text)
    assert client.post(address, data={"csrf_token": token}).status_code == 404


def test_an_unknown_person_is_not_found(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    unknown = "/admin/people/00000000-0000-4000-8000-000000000000"
    token = csrf_from(client.get("/").text)
    assert client.get(unknown).status_code == 404
    assert client.post(unknown, data={"csrf_token": token}).status_code == 404
    assert client.post(unknown + "/password", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("who", ["teacher", "outsider"])
def test_teachers_and_students_cannot_open_or_edit_a_person(app, classroom, browser_as, who):
    client = browser_as(getattr(classroom, who))
    target = classroom.klass.students[0]
    token = csrf_from(client.get("/", follow_redirects=True).text)

    assert client.get(_url(target)).status_code == 403
    saved = client.post(
        _url(target), data={"csrf_token": token, **_details(target, first_name="Hacked")}
    )
    reset = client.post(
        _url(target) + "/password", data={"csrf_token": token, "password": "hacked-password"}
    )

    assert (saved.status_code, reset.status_code) == (403, 403)
    assert _stored(app, target)[1] == target.first_name
    assert login_as(app.test_client(), target).status_code == 302


# --- saving ----------------------------------------------------------------------------------


def test_an_admin_saves_a_students_names_email_and_number(app, classroom, browser_as):
    student = classroom.klass.students[0]
    client = browser_as(classroom.admin)

    saved = _save(
        client,
        student,
        email="Renamed@School.TEST",
        first_name="Renée",
        last_name="Adams-Smith",
        student_number="S-NEW-7",
    )

    assert saved.status_code == 302
    assert saved.headers["Location"] == _url(student)
    assert "was saved" in client.get(saved.headers["Location"]).text
    assert _stored(app, student) == ("renamed@school.test", "Renée", "Adams-Smith", "S-NEW-7")


def test_a_taken_email_or_number_is_shown_beside_its_field_with_400(app, classroom, browser_as):
    student, other = classroom.klass.students[:2]
    client = browser_as(classroom.admin)

    email = _save(client, student, email=classroom.teacher.email.upper(), first_name="Kept?")
    number = _save(client, student, student_number=other.number)

    assert email.status_code == 400
    assert _error(email.text, "email") == EMAIL_TAKEN
    form = parse(email.text).one("form", {"id": "person-details"})
    assert form.one("input", {"name": "first_name"}).get("value") == "Kept?"
    assert number.status_code == 400
    assert _error(number.text, "student_number") == STUDENT_NUMBER_TAKEN
    assert _stored(app, student) == (
        student.email,
        student.first_name,
        student.last_name,
        student.number,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "   ", REQUIRED),
        ("last_name", "", REQUIRED),
        ("email", "", REQUIRED),
        ("student_number", "", REQUIRED),
        ("email", "no-at-sign", NOT_AN_EMAIL),
        ("first_name", "x" * 151, too_long(150)),
        ("email", "a" * 250 + "@b.cd", too_long(254)),
        ("student_number", "9" * 33, too_long(32)),
        ("last_name", "nul\x00byte", NO_NUL),
    ],
)
def test_odd_input_is_refused_beside_the_field_with_400(app, classroom, browser_as, field, value,
                                                         message):  # fmt: skip
    student = classroom.klass.students[0]
    client = browser_as(classroom.admin)

    refused = _save(client, student, **{field: value})

    assert refused.status_code == 400
    assert _error(refused.text, field) == message
    assert _stored(app, student)[0] == student.email


def test_saving_without_the_csrf_token_is_refused(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    refused = client.post(
        _url(classroom.teacher), data=_details(classroom.teacher, first_name="No")
    )
    reset = client.post(_url(classroom.teacher) + "/password", data={"password": "long-enough-9"})

    assert (refused.status_code, reset.status_code) == (400, 400)
    assert _stored(app, classroom.teacher)[1] == classroom.teacher.first_name
    assert login_as(app.test_client(), classroom.teacher).status_code == 302


# --- a new password --------------------------------------------------------------------------


def _set_password(client, person, password: str, current: str = PASSWORD):
    token = csrf_from(client.get(_url(person)).text)
    return client.post(
        _url(person) + "/password",
        data={"csrf_token": token, "password": password, "current_password": current},
    )


def test_a_new_password_works_and_ends_the_persons_logins(app, classroom, browser_as):
    teacher_client = browser_as(classroom.teacher)
    client = browser_as(classroom.admin)

    done = _set_password(client, classroom.teacher, "a-brand-new-password")

    assert done.status_code == 302
    assert "has a new password" in client.get(done.headers["Location"]).text
    assert teacher_client.get("/").status_code == 302  # their old login has ended
    assert login_as(app.test_client(), classroom.teacher).status_code != 302
    with app.app_context():
        assert people.authenticate(classroom.teacher.email, "a-brand-new-password") is not None
        db.session.remove()


def test_an_admin_resetting_their_own_password_stays_logged_in(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    elsewhere = browser_as(classroom.admin)

    assert _set_password(client, classroom.admin, "my-own-new-password").status_code == 302

    assert client.get("/admin/people").status_code == 200
    assert elsewhere.get("/admin/people").status_code == 302


@pytest.mark.parametrize(
    ("password", "message"),
    [("", REQUIRED), ("short", PASSWORD_TOO_SHORT), ("x" * 501, too_long(500))],
)
def test_a_bad_new_password_is_shown_beside_the_field(
    app, classroom, browser_as, password, message
):
    client = browser_as(classroom.admin)

    refused = _set_password(client, classroom.teacher, password)

    assert refused.status_code == 400
    assert _error(refused.text, "password") == message
    assert login_as(app.test_client(), classroom.teacher).status_code == 302


# --- the people list in pages ----------------------------------------------------------------


def test_the_people_list_comes_in_pages_and_page_links_keep_the_filters(app, classroom, browser_as):
    make_students(app, PEOPLE_PER_PAGE + 5)  # every factory student's last name is Test…
    client = browser_as(classroom.admin)

    first = client.get("/admin/people", query_string={"role": "STUDENT", "q": "test"})

    assert first.status_code == 200
    doc = parse(first.text)
    assert len(doc.find_all("tr", {"data-user-id": True})) == PEOPLE_PER_PAGE
    next_link = doc.one("a", {"rel": "next"}).get("href")
    args = parse_qs(urlsplit(next_link).query)
    assert args == {"role": ["STUDENT"], "q": ["test"], "page": ["2"]}
    assert doc.find("a", {"rel": "prev"}) is None

    second = parse(client.get(next_link).text)
    rows = second.find_all("tr", {"data-user-id": True})
    assert 1 <= len(rows) <= 10
    assert all(r.find_all("td")[2].text == "Student" for r in rows)
    prev_args = parse_qs(urlsplit(second.one("a", {"rel": "prev"}).get("href")).query)
    assert prev_args == {"role": ["STUDENT"], "q": ["test"], "page": ["1"]}
    assert second.find("a", {"rel": "next"}) is None


@pytest.mark.parametrize("page", ["0", "-3", "abc", "99999999999999999999", "2"])
def test_any_page_number_shows_a_page(app, classroom, browser_as, page):
    client = browser_as(classroom.admin)

    shown = client.get("/admin/people", query_string={"page": page})

    assert shown.status_code == 200
    assert parse(shown.text).find("tr", {"data-user-id": str(classroom.admin.user_id)})


def test_a_search_with_odd_characters_lists_nobody(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    for query in ("nul\x00byte", "%", "_", "x" * 5000):
        page = client.get("/admin/people", query_string={"q": query})
        assert page.status_code == 200, query
        assert parse(page.text).find("tr", {"data-user-id": True}) is None


def test_creating_a_person_refuses_over_long_or_nul_input_beside_the_field(
    app, classroom, browser_as
):
    client = browser_as(classroom.admin)
    base = {
        "csrf_token": csrf_from(client.get("/admin/people").text),
        "email": "fresh@school.test",
        "first_name": "Fresh",
        "last_name": "Person",
        "role": "TEACHER",
        "password": "long-enough-password",
    }

    long_name = client.post("/admin/people", data={**base, "last_name": "x" * 151})
    nul_email = client.post("/admin/people", data={**base, "email": "fr\x00esh@school.test"})

    assert (long_name.status_code, nul_email.status_code) == (400, 400)
    assert _error(long_name.text, "last_name") == too_long(150)
    assert _error(nul_email.text, "email") == NO_NUL
    with app.app_context():
        assert people.find_user("fresh@school.test") is None
        db.session.remove()
