"""The CSV import's optional guardian columns: all or nothing as the rest of the file, every
problem of every line listed, a guardian listed before kept (a file imported twice adds no
one twice)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from attendance_app.extensions import db
from attendance_app.models import Guardian, Student
from attendance_app.services.school.student_import import COLUMNS, GUARDIAN_COLUMNS
from tests.factories import add_guardian, make_class
from tests.web.test_backoffice import _confirm, _errors, _ready, _upload

HEADER = ",".join(COLUMNS + GUARDIAN_COLUMNS)


@pytest.fixture
def classes(app, classroom):
    """Two classes named "Maths 7A" and "Art 7B" with no students."""
    maths = make_class(
        app, admin=classroom.admin, teacher=classroom.teacher, students=0, name="Maths 7A"
    )
    art = make_class(
        app, admin=classroom.admin, teacher=classroom.teacher, students=0, name="Art 7B"
    )
    return maths, art


def _guardians(app) -> dict[str, set[tuple[str, str, str, bool]]]:
    """{student number: {(name, email, relationship, notify)}}."""
    with app.app_context():
        found: dict[str, set] = {}
        for number, g in db.session.execute(
            select(Student.student_number, Guardian).join(
                Guardian, Guardian.student_id == Student.id
            )
        ):
            found.setdefault(number, set()).add((g.name, g.email, g.relationship, g.notify))
        db.session.remove()
    return found


def _count(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Guardian))
        db.session.remove()
    return n


def test_guardian_columns_import_guardians_with_the_students(app, classroom, browser_as, classes):
    adams = classroom.klass.students[0]
    add_guardian(app, adams, admin=classroom.admin, name="Al Adams", email="al@home.test")
    client = browser_as(classroom.admin)
    text = "\n".join(
        [
            HEADER,
            "N1,Ann,One,ann@school.test,Maths 7A,Mary One,Mary@Home.test,Mother",
            "N1,Ann,One,ann@school.test,Art 7B,Mary One,mary@home.test,Mother",  # same guardian
            "N2,Bo,Two,bo@school.test,Art 7B,,,",  # no guardian
            f"{adams.number},{adams.first_name},{adams.last_name},{adams.email},Maths 7A,"
            "Al Adams,al@home.test,Father",  # listed before: kept
        ]
    )

    preview = _upload(client, text)
    assert _errors(preview.text) == {}
    assert "Mary One" in preview.text
    done = _confirm(client, preview.text)

    assert done.status_code == 302
    assert "1 new guardian(s)" in client.get(done.headers["Location"]).text
    found = _guardians(app)
    assert found["N1"] == {("Mary One", "mary@home.test", "Mother", True)}
    assert "N2" not in found
    assert len(found[adams.number]) == 1
    again = _confirm(client, _upload(client, text).text)
    assert again.status_code == 302
    assert _count(app) == 2


def test_every_guardian_problem_of_every_line_is_listed_and_nothing_is_imported(
    app, classroom, browser_as, classes
):
    client = browser_as(classroom.admin)
    text = "\n".join(
        [
            HEADER,
            "N1,Ann,One,ann@school.test,Maths 7A,Mary One,mary@home.test,Mother",  # 2: fine
            "N2,Bo,Two,bo@school.test,Art 7B,Tom Two,,",  # 3: email and relationship missing
            "N3,Cy,Three,cy@school.test,Art 7B,Pat,not-an-email,Carer",  # 4: bad email
            # 5-6: a line break in a quoted value (the row is reported at its last line)
            'N4,Di,Four,di@school.test,Art 7B,"Pat\nX",p@home.test,Carer',
            "N1,Ann,One,ann@school.test,Art 7B,Maria One,mary@home.test,Mother",  # 7: clash
            "N5,Ed,Five,ed@school.test,Art 7B,Pat",  # 8: too few values
        ]
    )

    page = _upload(client, text)

    assert _errors(page.text) == {
        3: [
            "A guardian needs guardian_name, guardian_email and guardian_relationship;"
            " guardian_email is missing.",
            "A guardian needs guardian_name, guardian_email and guardian_relationship;"
            " guardian_relationship is missing.",
        ],
        4: ["“not-an-email” is not an email address."],
        6: ["guardian_name: Line breaks and other control characters are not allowed."],
        7: ["Guardian mary@home.test of student N1 has another name on line 2."],
        8: ["Expected 8 values, found 6."],
    }
    assert _ready(page.text) == [2]
    refused = client.post(
        "/admin/import",
        data={
            "csrf_token": _token_of(page.text),
            "content": text,
        },
    )
    assert refused.status_code == 400
    assert _count(app) == 0


def test_a_header_with_only_some_guardian_columns_is_refused(app, classroom, browser_as, classes):
    client = browser_as(classroom.admin)
    header = ",".join(COLUMNS + GUARDIAN_COLUMNS[:1])

    page = _upload(client, header + "\nN1,Ann,One,ann@school.test,Maths 7A,Mary\n")

    assert _errors(page.text) == {
        1: [
            "The first line must be the header: student_number,first_name,last_name,email,"
            "class_name (optionally followed by guardian_name,guardian_email,"
            "guardian_relationship)."
        ]
    }


def _token_of(html: str) -> str:
    from tests.web.conftest import csrf_from

    return csrf_from(html)
