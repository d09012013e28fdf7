"""/admin/subjects and /admin/classes: an admin lists, creates and edits subjects and classes,
and manages who is enrolled in a class (add several at once; remove after a confirmation,
keeping the student's records)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import SchoolClass, Subject
from attendance_app.services.school.structure import SUBJECT_CODE_TAKEN
from attendance_app.shapes import REQUIRED, too_long
from attendance_app.web.school_admin import (
    CHOOSE_SUBJECT,
    CHOOSE_TEACHER,
    TICK_STUDENTS,
    UNKNOWN_STUDENT,
)
from tests.factories import (
    deactivate_user,
    make_class,
    make_session,
    make_student,
    mark,
    stored_attendance,
)
from tests.web.conftest import csrf_from, parse


def _token(client) -> str:
    return csrf_from(client.get("/", follow_redirects=True).text)


def _error(html: str, name: str) -> str:
    return parse(html).one("small", {"id": f"{name}-error"}).text


def _subject(app, subject_id) -> tuple[str, str]:
    with app.app_context():
        subject = db.session.get(Subject, subject_id)
        found = (subject.code, subject.name)
        db.session.remove()
    return found


def _class(app, class_id) -> tuple[str, uuid.UUID, uuid.UUID]:
    with app.app_context():
        klass = db.session.get(SchoolClass, class_id)
        found = (klass.name, klass.subject_id, klass.teacher_id)
        db.session.remove()
    return found


def _enrolled(client, class_id) -> set[str]:
    page = client.get(f"/admin/classes/{class_id}/students")
    assert page.status_code == 200
    return {
        r.get("data-enrolled-id")
        for r in parse(page.text).find_all("tr", {"data-enrolled-id": True})
    }


# --- who may use them ------------------------------------------------------------------------


def test_admins_see_subjects_and_classes_in_the_navigation(app, classroom, browser_as):
    nav = parse(browser_as(classroom.admin).get("/").text).one("nav", {"aria-label": "Main"})
    links = [a.get("href") for a in nav.find_all("a")]
    people = links.index("/admin/people")
    assert links[people + 1 : people + 3] == ["/admin/subjects", "/admin/classes"]


@pytest.mark.parametrize("who", ["teacher", "outsider"])
def test_teachers_and_students_are_refused_every_structure_page(app, classroom, browser_as, who):
    client = browser_as(getattr(classroom, who))
    token = _token(client)
    klass, student = classroom.klass, classroom.klass.students[0]
    nav = client.get("/", follow_redirects=True).text
    assert "/admin/subjects" not in nav and "/admin/classes" not in nav
    gets = [
        "/admin/subjects",
        f"/admin/subjects/{klass.subject_id}",
        "/admin/classes",
        f"/admin/classes/{klass.id}",
        f"/admin/classes/{klass.id}/students",
        f"/admin/classes/{klass.id}/students/{student.profile_id}/remove",
    ]
    for url in gets:
        assert client.get(url).status_code == 403, url
    posts = {
        "/admin/subjects": {"code": "HACK", "name": "Hack"},
        f"/admin/subjects/{klass.subject_id}": {"code": "HACK", "name": "Hack"},
        "/admin/classes": {"name": "Hack", "subject_id": str(klass.subject_id),
                           "teacher_id": str(klass.teacher.profile_id)},
        f"/admin/classes/{klass.id}": {"name": "Hack", "subject_id": str(klass.subject_id),
                                       "teacher_id": str(klass.teacher.profile_id)},
        f"/admin/classes/{klass.id}/students": {"student_ids": str(classroom.outsider.profile_id)},
        f"/admin/classes/{klass.id}/students/{student.profile_id}/remove": {},
    }  # fmt: skip
    for url, data in posts.items():
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert _class(app, klass.id)[0] == klass.name
    assert _subject(app, klass.subject_id)[0] == klass.subject_code


@pytest.mark.parametrize(
    "address",
    [
        "/admin/subjects/nope",
        "/admin/subjects/00000000-0000-4000-8000-000000000000",
        "/admin/classes/12",
        "/admin/classes/00000000-0000-4000-8000-000000000000",
        "/admin/classes/00000000-0000-4000-8000-000000000000/students",
        "/admin/classes/bad/students/bad/remove",
    ],
)
def test_bad_or_unknown_ids_are_not_found(app, classroom, browser_as, address):
    client = browser_as(classroom.admin)
    assert client.get(address).status_code == 404
    assert client.post(address, data={"csrf_token": _token(client)}).status_code == 404


# --- subjects --------------------------------------------------------------------------------


def test_subjects_are_listed_with_their_class_counts(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    page = client.get("/admin/subjects")

    assert page.status_code == 200
    row = parse(page.text).one("tr", {"data-subject-id": str(classroom.klass.subject_id)})
    assert [td.text for td in row.find_all("td")][:3] == [
        classroom.klass.subject_code,
        f"Subject {classroom.klass.subject_code}",
        "1",
    ]


def test_an_admin_creates_and_edits_a_subject(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    made = client.post(
        "/admin/subjects", data={"csrf_token": _token(client), "code": " BIO9 ", "name": "Biology"}
    )
    assert made.status_code == 302
    assert "Subject BIO9 was created." in client.get("/admin/subjects").text
    with app.app_context():
        subject_id = db.session.scalar(select(Subject.id).where(Subject.code == "BIO9"))
        db.session.remove()

    edit = client.get(f"/admin/subjects/{subject_id}")
    assert parse(edit.text).one("input", {"name": "code"}).get("value") == "BIO9"
    saved = client.post(
        f"/admin/subjects/{subject_id}",
        data={"csrf_token": csrf_from(edit.text), "code": "BIO10", "name": "Life sciences"},
    )
    assert saved.status_code == 302
    assert _subject(app, subject_id) == ("BIO10", "Life sciences")


def test_a_taken_subject_code_is_shown_beside_the_field(app, classroom, browser_as):
    other = make_class(app, admin=classroom.admin, students=0)
    client = browser_as(classroom.admin)
    taken = classroom.klass.subject_code.lower()

    created = client.post(
        "/admin/subjects", data={"csrf_token": _token(client), "code": taken, "name": "Dup"}
    )
    edited = client.post(
        f"/admin/subjects/{other.subject_id}",
        data={"csrf_token": _token(client), "code": taken, "name": "Dup"},
    )

    for refused in (created, edited):
        assert refused.status_code == 400
        assert _error(refused.text, "code") == SUBJECT_CODE_TAKEN
        assert parse(refused.text).find("input", {"name": "name", "value": "Dup"}) is not None
    assert _subject(app, other.subject_id)[0] == other.subject_code


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"code": "", "name": "X"}, "code", REQUIRED),
        ({"code": "OK1", "name": "   "}, "name", REQUIRED),
        ({"code": "C" * 33, "name": "X"}, "code", too_long(32)),
        ({"code": "OK2", "name": "n" * 201}, "name", too_long(200)),
    ],
)
def test_odd_subject_input_is_refused_beside_the_field(app, classroom, browser_as, data, field,
                                                       message):  # fmt: skip
    client = browser_as(classroom.admin)

    created = client.post("/admin/subjects", data={"csrf_token": _token(client), **data})
    edited = client.post(
        f"/admin/subjects/{classroom.klass.subject_id}", data={"csrf_token": _token(client), **data}
    )

    for refused in (created, edited):
        assert refused.status_code == 400
        assert _error(refused.text, field) == message
    assert _subject(app, classroom.klass.subject_id)[0] == classroom.klass.subject_code


def test_subject_and_class_forms_need_the_csrf_token(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    klass = classroom.klass

    posts = {
        "/admin/subjects": {"code": "NEW1", "name": "N"},
        f"/admin/subjects/{klass.subject_id}": {"code": "NEW2", "name": "N"},
        f"/admin/classes/{klass.id}": {"name": "N", "subject_id": str(klass.subject_id),
                                       "teacher_id": str(klass.teacher.profile_id)},
        f"/admin/classes/{klass.id}/students": {"student_ids": str(classroom.outsider.profile_id)},
        f"/admin/classes/{klass.id}/students/{klass.students[0].profile_id}/remove": {},
    }  # fmt: skip
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 400, url
    assert _subject(app, klass.subject_id)[0] == klass.subject_code
    assert len(_enrolled(client, klass.id)) == 3


# --- classes ---------------------------------------------------------------------------------


def test_classes_are_listed_with_subject_teacher_and_enrolled_count(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    page = client.get("/admin/classes")

    assert page.status_code == 200
    row = parse(page.text).one("tr", {"data-class-id": str(classroom.klass.id)})
    cells = [td.text for td in row.find_all("td")]
    assert cells[0] == classroom.klass.name
    assert cells[1].startswith(classroom.klass.subject_code)
    assert cells[2] == classroom.teacher.full_name
    assert cells[3] == "3 students"
    assert row.get("data-enrolled") == "3"


def test_an_admin_creates_a_class_then_lands_on_its_students(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    form = parse(client.get("/admin/classes").text).one("form", {"id": "new-class"})
    teachers = [
        o.get("value") for o in form.one("select", {"name": "teacher_id"}).find_all("option")
    ]
    assert str(classroom.other_teacher.profile_id) in teachers

    made = client.post(
        "/admin/classes",
        data={
            "csrf_token": _token(client),
            "name": " History 9C ",
            "subject_id": str(classroom.klass.subject_id),
            "teacher_id": str(classroom.other_teacher.profile_id),
        },
    )

    assert made.status_code == 302
    class_id = uuid.UUID(made.headers["Location"].split("/")[3])
    assert made.headers["Location"] == f"/admin/classes/{class_id}/students"
    assert _class(app, class_id) == (
        "History 9C",
        classroom.klass.subject_id,
        classroom.other_teacher.profile_id,
    )


def test_an_admin_renames_a_class_and_gives_it_another_teacher(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    edit = client.get(f"/admin/classes/{classroom.klass.id}")
    form = parse(edit.text).one("form", {"id": "class-form"})
    selected = form.one("select", {"name": "teacher_id"}).one("option", {"selected": True})
    assert selected.get("value") == str(classroom.teacher.profile_id)

    saved = client.post(
        f"/admin/classes/{classroom.klass.id}",
        data={
            "csrf_token": csrf_from(edit.text),
            "name": "Renamed class",
            "subject_id": str(classroom.klass.subject_id),
            "teacher_id": str(classroom.other_teacher.profile_id),
        },
    )

    assert saved.status_code == 302
    assert _class(app, classroom.klass.id) == (
        "Renamed class",
        classroom.klass.subject_id,
        classroom.other_teacher.profile_id,
    )
    # The new teacher now runs the class; the old one no longer does.
    assert (
        browser_as(classroom.other_teacher).get(f"/classes/{classroom.klass.id}").status_code == 200
    )
    assert browser_as(classroom.teacher).get(f"/classes/{classroom.klass.id}").status_code == 403


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", REQUIRED),
        ({"name": "n" * 201}, "name", too_long(200)),
        ({"subject_id": ""}, "subject_id", CHOOSE_SUBJECT),
        ({"subject_id": "not-a-uuid"}, "subject_id", CHOOSE_SUBJECT),
        ({"teacher_id": "x"}, "teacher_id", CHOOSE_TEACHER),
    ],
)
def test_odd_class_input_is_refused_beside_the_field(app, classroom, browser_as, changes, field,
                                                     message):  # fmt: skip
    client = browser_as(classroom.admin)
    data = {
        "csrf_token": _token(client),
        "name": "Class X",
        "subject_id": str(classroom.klass.subject_id),
        "teacher_id": str(classroom.teacher.profile_id),
        **changes,
    }

    created = client.post("/admin/classes", data=data)
    edited = client.post(f"/admin/classes/{classroom.klass.id}", data=data)

    for refused in (created, edited):
        assert refused.status_code == 400
        assert _error(refused.text, field) == message
    assert _class(app, classroom.klass.id)[0] == classroom.klass.name


def test_a_student_given_as_teacher_is_refused(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    refused = client.post(
        f"/admin/classes/{classroom.klass.id}",
        data={
            "csrf_token": _token(client),
            "name": "Class X",
            "subject_id": str(classroom.klass.subject_id),
            "teacher_id": str(classroom.outsider.profile_id),
        },
    )

    assert refused.status_code == 400
    assert "does not exist" in _error(refused.text, "teacher_id")
    assert _class(app, classroom.klass.id)[2] == classroom.teacher.profile_id


# --- enrolments ------------------------------------------------------------------------------


def test_the_students_page_lists_the_enrolled_and_finds_others(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    page = client.get(f"/admin/classes/{classroom.klass.id}/students")

    doc = parse(page.text)
    assert _enrolled(client, classroom.klass.id) == {
        str(s.profile_id) for s in classroom.klass.students
    }
    candidates = {
        el.get("data-candidate-id") for el in doc.find_all("label", {"data-candidate-id": True})
    }
    assert candidates == {str(classroom.outsider.profile_id)}

    searched = parse(
        client.get(
            f"/admin/classes/{classroom.klass.id}/students",
            query_string={"q": classroom.outsider.number},
        ).text
    )
    found = [
        el.get("data-candidate-id")
        for el in searched.find_all("label", {"data-candidate-id": True})
    ]
    assert found == [str(classroom.outsider.profile_id)]
    nothing = client.get(
        f"/admin/classes/{classroom.klass.id}/students", query_string={"q": "zz\x00"}
    )
    assert nothing.status_code == 200
    assert parse(nothing.text).find("label", {"data-candidate-id": True}) is None


def test_several_ticked_students_are_added_in_one_action(app, classroom, browser_as):
    extra = [make_student(app, with_token=False) for _ in range(2)]
    gone = make_student(app, with_token=False)
    deactivate_user(app, gone)
    client = browser_as(classroom.admin)

    added = client.post(
        f"/admin/classes/{classroom.klass.id}/students",
        data={
            "csrf_token": _token(client),
            "student_ids": [
                str(classroom.outsider.profile_id),
                *(str(s.profile_id) for s in extra),
            ],
        },
    )

    assert added.status_code == 302
    followed = client.get(added.headers["Location"])
    assert "3 student(s) added" in followed.text and "6 enrolled" in followed.text
    assert _enrolled(client, classroom.klass.id) == {
        str(s.profile_id) for s in [*classroom.klass.students, classroom.outsider, *extra]
    }
    assert parse(followed.text).find("label", {"data-candidate-id": str(gone.profile_id)}) is None


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([], TICK_STUDENTS),
        (["not-a-uuid"], UNKNOWN_STUDENT),
        (["00000000-0000-4000-8000-000000000000"], UNKNOWN_STUDENT),
    ],
)
def test_adding_nobody_or_unknown_students_is_refused(app, classroom, browser_as, ids, message):
    client = browser_as(classroom.admin)

    refused = client.post(
        f"/admin/classes/{classroom.klass.id}/students",
        data={
            "csrf_token": _token(client),
            "student_ids": [str(classroom.outsider.profile_id), *ids],
        }
        if ids
        else {"csrf_token": _token(client)},
    )

    assert refused.status_code == 400
    assert parse(refused.text).one("p", {"id": "enrol-problem"}).text == message
    assert len(_enrolled(client, classroom.klass.id)) == 3


def test_removing_a_student_asks_first_and_keeps_their_records(app, classroom, browser_as):
    student = classroom.klass.students[0]
    session_id = make_session(app, classroom.klass)
    mark(app, classroom.klass, session_id, student, "PRESENT")
    client = browser_as(classroom.admin)
    remove = f"/admin/classes/{classroom.klass.id}/students/{student.profile_id}/remove"
    listed = parse(client.get(f"/admin/classes/{classroom.klass.id}/students").text)
    row = listed.one("tr", {"data-enrolled-id": str(student.profile_id)})
    assert row.one("a", {"role": "button"}).get("href") == remove

    confirm = client.get(remove)
    assert confirm.status_code == 200
    assert "records are kept" in confirm.text and "1 record in this class" in confirm.text
    assert len(_enrolled(client, classroom.klass.id)) == 3  # asking changed nothing

    done = client.post(remove, data={"csrf_token": csrf_from(confirm.text)})

    assert done.status_code == 302
    assert "attendance records are kept" in client.get(done.headers["Location"]).text
    assert str(student.profile_id) not in _enrolled(client, classroom.klass.id)
    assert stored_attendance(app, session_id) == {student.profile_id: "PRESENT"}
    assert client.get(remove).status_code == 404
    assert client.post(remove, data={"csrf_token": _token(client)}).status_code == 404
