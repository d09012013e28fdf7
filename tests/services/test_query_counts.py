"""Query budgets (R9): the hot endpoints run as many SQL statements for 500 students as for 5.

Each test builds a small and a large class and counts every statement the database driver
executes during one request (authentication, BEGIN/COMMIT included). A loop over students
that touches the database would make the large class's count grow with its size.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy.exc import InvalidRequestError

from attendance_app.extensions import db
from attendance_app.models import Attendance
from tests.factories import ClassInfo, make_admin, make_class, make_session, make_students, mark

SMALL, LARGE = 5, 500


def class_of(app, size: int) -> ClassInfo:
    return make_class(app, admin=make_admin(app), students=make_students(app, size))


def statements_for(
    app, count_queries, size: int, request: Callable[[object, ClassInfo, uuid.UUID], object]
) -> list[str]:
    """The statements one ``request(client, klass, session_id)`` runs for a class of ``size``."""
    klass = class_of(app, size)
    session_id = make_session(app, klass)
    client = app.test_client()
    setup = getattr(request, "setup", None)
    if setup is not None:
        setup(client, klass, session_id)
    with count_queries() as counter:
        request(client, klass, session_id)
    return counter.statements


def assert_same_count(small: list[str], large: list[str]) -> None:
    assert len(small) == len(large), (
        f"{len(small)} statements for {SMALL} students but {len(large)} for {LARGE}:\n"
        + "\n---\n".join(s[:200] for s in large)
    )


def auth(klass: ClassInfo) -> dict:
    return {"Authorization": f"Bearer {klass.teacher.token}"}


def initialise(client, klass: ClassInfo, session_id: uuid.UUID) -> None:
    response = client.post(
        "/api/attendance/bulk-mark/", json={"session_id": str(session_id)}, headers=auth(klass)
    )
    assert response.status_code == 201, response.json
    assert response.json["count"] == len(klass.students)


def mark_all(client, klass: ClassInfo, session_id: uuid.UUID) -> None:
    statuses = ["PRESENT", "ABSENT", "LATE"]
    records = [
        {"student_id": str(s.profile_id), "status": statuses[i % 3], "notes": f"n{i}"}
        for i, s in enumerate(klass.students)
    ]
    response = client.post(
        "/api/attendance/mark/",
        json={"session_id": str(session_id), "records": records},
        headers=auth(klass),
    )
    assert response.status_code == 201, response.json
    assert response.json["count"] == len(klass.students)


def view_session(client, klass: ClassInfo, session_id: uuid.UUID) -> None:
    response = client.get(f"/api/attendance/session/{session_id}/", headers=auth(klass))
    assert response.status_code == 200, response.json
    assert len(response.json["records"]) == len(klass.students)
    assert response.json["statistics"]["total_enrolled"] == len(klass.students)


view_session.setup = mark_all  # the view is measured with every student marked


def test_viewing_a_session_runs_the_same_statements_for_500_students_as_for_5(app, count_queries):
    small = statements_for(app, count_queries, SMALL, view_session)
    large = statements_for(app, count_queries, LARGE, view_session)
    assert_same_count(small, large)


def test_bulk_marking_every_student_runs_the_same_statements_for_500_as_for_5(app, count_queries):
    small = statements_for(app, count_queries, SMALL, mark_all)
    large = statements_for(app, count_queries, LARGE, mark_all)
    assert_same_count(small, large)


def test_initialising_a_session_runs_the_same_statements_for_500_students_as_for_5(
    app, count_queries
):
    small = statements_for(app, count_queries, SMALL, initialise)
    large = statements_for(app, count_queries, LARGE, initialise)
    assert_same_count(small, large)


@pytest.mark.parametrize("relationship", ["student", "session", "marked_by"])
def test_an_unloaded_attendance_relationship_raises_instead_of_lazy_loading(app, ctx, relationship):
    klass = class_of(app, 1)
    session_id = make_session(app, klass)
    record_id = mark(app, klass, session_id, klass.students[0], "PRESENT")
    record = db.session.get(Attendance, record_id)

    with pytest.raises(InvalidRequestError, match="lazy='raise'"):
        getattr(record, relationship)


def mark_one(client, klass: ClassInfo, session_id: uuid.UUID) -> str:
    response = client.post(
        "/api/attendance/mark/",
        json={
            "session_id": str(session_id),
            "student_id": str(klass.students[0].profile_id),
            "status": "ABSENT",
        },
        headers=auth(klass),
    )
    assert response.status_code == 201, response.json
    return response.json["attendance"]["id"]


def mark_first(client, klass: ClassInfo, session_id: uuid.UUID) -> None:
    client.record_id = mark_one(client, klass, session_id)


def patch_one(client, klass: ClassInfo, session_id: uuid.UUID) -> None:
    response = client.patch(
        f"/api/attendance/{client.record_id}/", json={"status": "LATE"}, headers=auth(klass)
    )
    assert response.status_code == 200, response.json


patch_one.setup = mark_first


def mark_first_late(client, klass: ClassInfo, session_id: uuid.UUID) -> None:
    client.record_id = mark(client.application, klass, session_id, klass.students[0], "LATE")


def patch_late_to_present(client, klass: ClassInfo, session_id: uuid.UUID) -> None:
    """A correction that cannot cross the alert line: the alert check is skipped."""
    response = client.patch(
        f"/api/attendance/{client.record_id}/", json={"status": "PRESENT"}, headers=auth(klass)
    )
    assert response.status_code == 200, response.json


patch_late_to_present.setup = mark_first_late


@pytest.mark.parametrize(
    ("request_fn", "budget"),
    # Were 6, 7 and 6: the session's read is its live_seq bump (an UPDATE … RETURNING).
    [(mark_one, 5), (patch_one, 6), (patch_late_to_present, 5)],
    ids=["mark", "patch", "patch-late-to-present"],
)
def test_a_single_mark_and_a_correction_run_a_fixed_small_number_of_statements(
    app, count_queries, request_fn, budget
):
    # SQLite sends its BEGINs as statements, PostgreSQL's driver does not: left out.
    statements = [
        s
        for s in statements_for(app, count_queries, SMALL, request_fn)
        if not s.startswith("BEGIN")
    ]
    if app_dialect(app) == "postgresql":
        # A first mark's record and audit row are one statement (a data-modifying CTE), and
        # so are a correction's update and audit row.
        budget -= 1
    if request_fn is not mark_one and app_dialect(app) == "sqlite":
        # A correction reads its session and record in one statement where no row lock is
        # needed; PostgreSQL locks the session, then reads the record (services' lock order).
        budget -= 1
    assert len(statements) == budget, "\n---\n".join(s[:300] for s in statements)


def app_dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def history_statements(app, count_queries, lessons: int, who: str) -> list[str]:
    """The statements (BEGINs left out) of one student's history, with a record in each of
    ``lessons`` sessions of one class, as its teacher, an admin or the student."""
    admin = make_admin(app)
    students = make_students(app, 2)
    klass = make_class(app, admin=admin, students=students)
    for lesson in range(lessons):
        mark(app, klass, make_session(app, klass), students[0], ("PRESENT", "LATE")[lesson % 2])
    token = {"teacher": klass.teacher.token, "admin": admin.token}[who]
    client = app.test_client()
    url = f"/api/attendance/student/{students[0].profile_id}/"
    with count_queries() as counter:
        response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.json
    assert len(response.json["records"]) == lessons
    return [s for s in counter.statements if not s.startswith("BEGIN")]


@pytest.mark.parametrize("who", ["teacher", "admin"])
def test_a_student_s_history_runs_three_statements_however_long_it_is(app, count_queries, who):
    # The token's user; the student, the teacher's permission and the counts in one row; the
    # page. Were five for a teacher (the student's entity, the permission and the counts one
    # each) and four for an admin.
    short = history_statements(app, count_queries, 1, who)
    long = history_statements(app, count_queries, 30, who)
    assert len(short) == len(long) == 3, "\n---\n".join(s[:300] for s in long)
