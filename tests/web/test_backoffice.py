"""The admin's back office: people (create, deactivate, reactivate) and the CSV import of
students and enrolments (preview writes nothing; the import is all or nothing)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from attendance_app.extensions import db
from attendance_app.models import Enrollment, Student, User
from attendance_app.services.school import people
from attendance_app.services.school.people import CANNOT_DEACTIVATE_SELF, EMAIL_TAKEN
from attendance_app.services.school.student_import import COLUMNS
from tests.factories import PASSWORD, make_class
from tests.web.conftest import csrf_from, login_as, parse

HEADER = ",".join(COLUMNS)


def _token(client) -> str:
    return csrf_from(client.get("/", follow_redirects=True).text)


def _counts(app) -> tuple[int, int]:
    """(students, enrolments) in the database."""
    with app.app_context():
        students = db.session.scalar(select(func.count()).select_from(Student))
        enrolments = db.session.scalar(select(func.count()).select_from(Enrollment))
        db.session.remove()
    return students, enrolments


def _enrolled_numbers(app, class_id) -> set[str]:
    with app.app_context():
        numbers = set(
            db.session.scalars(
                select(Student.student_number)
                .join(Enrollment, Enrollment.student_id == Student.id)
                .where(Enrollment.class_id == class_id)
            )
        )
        db.session.remove()
    return numbers


def _upload(client, text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/admin/import/preview",
        data={"csrf_token": _token(client), "file": (io.BytesIO(data), "students.csv")},
        content_type="multipart/form-data",
    )


def _errors(html: str) -> dict[int, list[str]]:
    """Every problem the page lists, by line."""
    found: dict[int, list[str]] = {}
    table = parse(html).find("table", {"data-import": "errors"})
    for row in table.find_all("tr", {"data-line": True}) if table else []:
        cells = row.find_all("td")
        found.setdefault(int(row.get("data-line")), []).append(cells[1].text)
    return found


def _ready(html: str) -> list[int]:
    """The lines the page shows as ready to import."""
    table = parse(html).find("table", {"data-import": "rows"})
    return (
        [int(r.get("data-line")) for r in table.find_all("tr", {"data-line": True})]
        if table
        else []
    )


def _confirm(client, preview_html: str):
    page = parse(preview_html)
    content = page.one("input", {"name": "content"}).get("value")
    return client.post(
        "/admin/import", data={"csrf_token": csrf_from(preview_html), "content": content}
    )


# --- who may use it ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["teacher", "outsider"])
def test_teachers_and_students_are_refused_every_back_office_page(app, classroom, browser_as, who):
    client = browser_as(getattr(classroom, who))
    token = _token(client)
    assert "/admin/people" not in client.get("/", follow_redirects=True).text
    for url in ("/admin/people", "/admin/import", "/admin/import/template.csv"):
        assert client.get(url).status_code == 403, url
    assert client.get(f"/admin/people/{classroom.teacher.user_id}/deactivate").status_code == 403
    posts = {
        "/admin/people": {"email": "x@school.test", "first_name": "X", "last_name": "Y",
                          "role": "TEACHER", "password": PASSWORD},
        f"/admin/people/{classroom.teacher.user_id}/deactivate": {},
        f"/admin/people/{classroom.teacher.user_id}/reactivate": {},
        "/admin/import": {"content": f"{HEADER}\n"},
    }  # fmt: skip
    for url, data in posts.items():
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert login_as(app.test_client(), classroom.teacher).status_code == 302


def test_admins_see_the_nav_links_and_everyone_listed(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    home = client.get("/")
    assert 'href="/admin/people"' in home.text and 'href="/admin/import"' in home.text

    page = client.get("/admin/people")
    assert page.status_code == 200
    listed = {
        r.get("data-user-id") for r in parse(page.text).find_all("tr", {"data-user-id": True})
    }
    assert str(classroom.admin.user_id) in listed and str(classroom.outsider.user_id) in listed


def test_role_filter_and_search_narrow_the_list(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    def listed(**args) -> set[str]:
        page = client.get("/admin/people", query_string=args)
        assert page.status_code == 200
        return {
            r.get("data-user-id") for r in parse(page.text).find_all("tr", {"data-user-id": True})
        }

    students = listed(role="student")
    assert str(classroom.outsider.user_id) in students
    assert str(classroom.teacher.user_id) not in students
    adams = classroom.klass.students[0]
    assert listed(q="aDaMs") == {str(adams.user_id)}
    assert listed(q=adams.number.lower()) == {str(adams.user_id)}
    assert listed(q=classroom.teacher.email.upper()) == {str(classroom.teacher.user_id)}
    assert listed(q="%") == set()


# --- creating people -------------------------------------------------------------------------


def test_an_admin_creates_a_student_who_can_log_in(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    made = client.post(
        "/admin/people",
        data={
            "csrf_token": _token(client),
            "email": "New.Kid@School.test",
            "first_name": "New",
            "last_name": "Kid",
            "role": "STUDENT",
            "student_number": "S-NEW-1",
            "password": PASSWORD,
        },
        follow_redirects=True,
    )
    assert made.status_code == 200
    assert "New Kid (new.kid@school.test) was created." in made.text
    fresh = app.test_client()
    page = fresh.get("/login")
    response = fresh.post(
        "/login",
        data={"email": "new.kid@school.test", "password": PASSWORD,
              "csrf_token": csrf_from(page.text)},
    )  # fmt: skip
    assert response.status_code == 302


def test_a_duplicate_email_or_missing_number_is_shown_beside_the_field(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    base = {
        "csrf_token": _token(client),
        "first_name": "Dup",
        "last_name": "Licate",
        "password": PASSWORD,
    }
    duplicate = client.post(
        "/admin/people", data={**base, "email": classroom.teacher.email.upper(), "role": "TEACHER"}
    )
    assert duplicate.status_code == 400
    form = parse(duplicate.text).one("form", {"id": "new-person"})
    assert form.one("small", {"id": "email-error"}).text == EMAIL_TAKEN
    assert form.one("input", {"name": "first_name"}).get("value") == "Dup"

    no_number = client.post(
        "/admin/people", data={**base, "email": "fresh@school.test", "role": "STUDENT"}
    )
    assert no_number.status_code == 400
    assert parse(no_number.text).one("small", {"id": "student_number-error"}).text
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "fresh@school.test")) is None
        db.session.remove()


# --- deactivating and reactivating ---------------------------------------------------------------


def test_deactivating_ends_the_users_logins_and_refuses_new_ones(app, classroom, browser_as):
    teacher_client = browser_as(classroom.teacher)
    assert teacher_client.get("/").status_code == 200
    admin = browser_as(classroom.admin)

    confirm = admin.get(f"/admin/people/{classroom.teacher.user_id}/deactivate")
    assert confirm.status_code == 200
    assert parse(confirm.text).find("button", {"id": "person-deactivate"}) is not None
    done = admin.post(
        f"/admin/people/{classroom.teacher.user_id}/deactivate",
        data={"csrf_token": csrf_from(confirm.text)},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert "deactivated" in done.text
    row = parse(done.text).one("tr", {"data-user-id": str(classroom.teacher.user_id)})
    assert row.get("data-active") == "false"

    # The old login cookie no longer works, and a new login is refused.
    assert teacher_client.get("/").status_code == 302
    assert login_as(app.test_client(), classroom.teacher).status_code != 302

    admin.post(
        f"/admin/people/{classroom.teacher.user_id}/reactivate", data={"csrf_token": _token(admin)}
    )
    assert login_as(app.test_client(), classroom.teacher).status_code == 302


def test_an_admin_cannot_deactivate_themself(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    refused = client.post(
        f"/admin/people/{classroom.admin.user_id}/deactivate", data={"csrf_token": _token(client)}
    )
    assert refused.status_code == 400
    assert CANNOT_DEACTIVATE_SELF in refused.text
    assert client.get("/admin/people").status_code == 200


def test_deactivating_someone_with_records_keeps_them_and_their_records(app, classroom, browser_as):
    from tests.factories import make_session, mark, stored_attendance

    student = classroom.klass.students[0]
    session_id = make_session(app, classroom.klass)
    mark(app, classroom.klass, session_id, student, "PRESENT")
    client = browser_as(classroom.admin)
    client.post(f"/admin/people/{student.user_id}/deactivate", data={"csrf_token": _token(client)})
    assert stored_attendance(app, session_id) == {student.profile_id: "PRESENT"}
    with app.app_context():
        assert db.session.get(User, student.user_id).is_active is False
        db.session.remove()


# --- CSV import -------------------------------------------------------------------------------


@pytest.fixture
def classes(app, classroom):
    """Two classes named "Maths 7A" and "Art 7B" with no students."""
    maths = make_class(
        app, admin=classroom.admin, teacher=classroom.teacher, students=0, name="Maths 7A"
    )
    art = make_class(
        app, admin=classroom.admin, teacher=classroom.teacher, students=0, name="Art 7B"
    )
    return maths, art  # fmt: skip


def test_the_template_downloads_with_a_plain_example_in_one_of_the_schools_classes(
    app, classroom, browser_as, classes
):
    client = browser_as(classroom.admin)
    page = client.get("/admin/import")
    assert page.status_code == 200
    link = parse(page.text).one("a", {"id": "import-template"}).get("href")
    download = client.get(link)
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    lines = download.text.strip().splitlines()
    assert lines[0] == HEADER
    assert lines[1] == "EXAMPLE-1,Example,Student,example.student@example.invalid,Art 7B"
    assert len(lines) == 2


def test_the_templates_example_row_is_refused_if_left_in(app, classroom, browser_as, classes):
    client = browser_as(classroom.admin)
    template = client.get("/admin/import/template.csv").text

    page = _upload(client, template + "N1,Ann,One,ann@school.test,Maths 7A\r\n")

    assert page.status_code == 200  # the preview is the answer; it lists the problems
    assert _errors(page.text) == {
        2: ["This is the template's example row: replace it with a student, or delete it."]
    }
    assert _ready(page.text) == [3]


def test_the_preview_lists_every_problem_of_every_line_and_writes_nothing(
    app, classroom, browser_as, classes
):
    client = browser_as(classroom.admin)
    adams = classroom.klass.students[0]
    text = "\n".join(
        [
            HEADER,
            "N1,Ann,One,ann@school.test,Maths 7A",  # 2: fine
            "N2,,Two,not-an-email,Nowhere",  # 3: no first name, bad email, unknown class
            "N1,Ann,One,other@school.test,Art 7B",  # 4: N1 with another email
            "N3,Cy,Three,cy@school.test,Nowhere",  # 5: unknown class
            f"{adams.number},A,Dams,someone@school.test,Art 7B",  # 6: existing number
            "N1,Ann,One,ann@school.test,Maths 7A",  # 7: the same row again
            "N4,Short",  # 8: too few values
            "N5,Di,Five,di@school.test,Art 7B",  # 9: fine
            f"N6,{'E' * 151},,ann@school.test,",  # 10: too long, two missing, N1's email
        ]
    )
    before = _counts(app)

    page = _upload(client, text)

    assert page.status_code == 200
    errors = _errors(page.text)
    assert errors == {
        3: [
            "first_name is required.",
            "“not-an-email” is not an email address.",
            "There is no class named “Nowhere”.",
        ],
        4: ["Student number N1 is used with another email on line 2."],
        5: ["There is no class named “Nowhere”."],
        6: [
            f"Student number {adams.number} already belongs to {adams.email}; "
            "the file gives a different email."
        ],
        7: ["Student N1 is already listed for class “Maths 7A” on line 2."],
        8: ["Expected 5 values, found 2."],
        10: [
            "first_name is longer than 150 characters.",
            "last_name is required.",
            "class_name is required.",
            "Email ann@school.test is used with another student number on line 2.",
        ],
    }
    assert "12 problems on 7 lines — nothing was imported" in parse(page.text).text
    # The valid rows are previewed beside the problems, but nothing can be imported yet.
    assert _ready(page.text) == [2, 9]
    assert parse(page.text).find("button", {"id": "import-confirm"}) is None
    assert _counts(app) == before


def test_a_valid_file_previews_then_imports_students_and_enrolments(app, classroom, browser_as,
                                                                      classes):  # fmt: skip
    maths, art = classes
    adams = classroom.klass.students[0]
    client = browser_as(classroom.admin)
    text = "\ufeff" + "\r\n".join(
        [
            HEADER,
            "N1,Ann,One,Ann@School.test,Maths 7A",
            "N1,Ann,One,ann@school.test,art 7b",
            "N2,Bo,Two,bo@school.test,Art 7B",
            f"{adams.number},{adams.first_name},{adams.last_name},{adams.email},Maths 7A",
            "",
        ]
    )
    before = _counts(app)

    preview = _upload(client, text.encode("utf-8"))

    assert preview.status_code == 200, _errors(preview.text)
    assert parse(preview.text).one("button", {"id": "import-confirm"}).text == "Import 4 rows"
    assert "random password" in preview.text
    assert _counts(app) == before

    done = _confirm(client, preview.text)
    assert done.status_code == 302
    followed = client.get(done.headers["Location"])
    assert "2 new student(s), 1 existing, 4 new enrolment(s)" in followed.text
    assert _counts(app) == (before[0] + 2, before[1] + 4)
    assert _enrolled_numbers(app, maths.id) == {"N1", adams.number}
    assert _enrolled_numbers(app, art.id) == {"N1", "N2"}
    # New students have no usable password until it is reset.
    with app.app_context():
        ann = db.session.scalar(select(User).where(User.email == "ann@school.test"))
        assert ann.first_name == "Ann" and ann.student.student_number == "N1"
        assert people.authenticate("ann@school.test", ann.password_hash) is None
        db.session.remove()

    # The same file again creates nothing new.
    again = _confirm(client, _upload(client, text.encode("utf-8")).text)
    assert again.status_code == 302
    assert "0 new student(s), 3 existing, 0 new enrolment(s)" in client.get("/admin/import").text
    assert _counts(app) == (before[0] + 2, before[1] + 4)


def test_a_file_with_one_bad_row_imports_nothing(app, classroom, browser_as, classes):
    client = browser_as(classroom.admin)
    good = "\n".join([HEADER, "N1,Ann,One,ann@school.test,Maths 7A"])
    preview = _upload(client, good)
    assert preview.status_code == 200
    content = parse(preview.text).one("input", {"name": "content"}).get("value")
    before = _counts(app)

    # The file carried by the confirm step gains a bad row (or the database changed since).
    refused = client.post(
        "/admin/import",
        data={
            "csrf_token": csrf_from(preview.text),
            "content": content + "\nN2,Bo,Two,bo@school.test,No such class\n",
        },
    )

    assert refused.status_code == 400
    assert "nothing was imported" in refused.text
    assert set(_errors(refused.text)) == {3}
    assert _counts(app) == before


def test_uploads_that_are_not_utf8_csv_are_refused(app, classroom, browser_as, classes):
    client = browser_as(classroom.admin)
    latin1 = _upload(client, f"{HEADER}\nN1,Zoë,One,z@school.test,Maths 7A\n".encode("latin-1"))
    assert latin1.status_code == 400
    assert "not UTF-8" in latin1.text
    wrong_header = _upload(client, "number,name\nN1,Ann\n")
    assert set(_errors(wrong_header.text)) == {1}
    assert "must be the header" in wrong_header.text
