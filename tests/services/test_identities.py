"""Who is calling (services/school/identities.py): the user's row is read on every request,
only the entity built from it is kept per process, and only for that very row. So a
revocation, an expiry, a deactivation, a new password or a sign-out everywhere, made by
another process with no code of ours, is refused on the very next request."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from sqlalchemy import inspect, select

from attendance_app.extensions import db
from attendance_app.models import ApiToken, User, utcnow
from attendance_app.services.school import identities, people, tokens
from tests.factories import (
    PASSWORD,
    actor,
    make_admin,
    make_class,
    make_session,
    make_student,
    make_teacher,
    mark,
)
from tests.web.conftest import login_as


def other_process_runs(app, sql: str, **params: str) -> None:
    """``sql`` committed by another process on the same database, with no code of ours."""
    script = (
        "import json, sys; from sqlalchemy import create_engine, text\n"
        "engine = create_engine(sys.argv[1])\n"
        "with engine.begin() as conn: conn.execute(text(sys.argv[2]), json.loads(sys.argv[3]))\n"
    )
    database = app.config["SQLALCHEMY_DATABASE_URI"]
    command = [sys.executable, "-c", script, database, sql, json.dumps(params)]
    subprocess.run(command, check=True, timeout=60)


def selects(statements: list[str]) -> int:
    """How many of ``statements`` are reads (SQLite's BEGIN is counted apart)."""
    return sum(statement.lstrip().startswith("SELECT") for statement in statements)


def kept_for(app, user_id):
    """The entity this process keeps for ``user_id``, or None."""
    with app.app_context():
        found = identities._kept().users.get(user_id)
    return found[1] if found is not None else None


def token_reads(app) -> int:
    """The statements a lookup of a token just found valid reads, on the same connection with
    no write since: none on SQLite (the data version is free there: ``tokens._Seen``), the
    row again on PostgreSQL."""
    return 0 if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else 1


def test_a_known_token_gives_each_request_its_own_user(app, ctx, count_queries):
    teacher = make_teacher(app)
    first = tokens.user_for_token(teacher.token)
    db.session.expunge_all()  # as a new request's session would be, on the same connection

    with count_queries() as queries:
        again = tokens.user_for_token(teacher.token)
        teacher_id, name = again.teacher.id, again.full_name

    assert selects(queries.statements) == token_reads(app)  # the profile comes with the row
    assert again is not first and again in db.session
    assert (again.id, teacher_id, again.student) == (teacher.user_id, teacher.profile_id, None)
    assert name == f"{teacher.first_name} {teacher.last_name}"
    kept = kept_for(app, teacher.user_id)
    assert kept is not None and inspect(kept).detached  # never in any request's session


def test_a_known_token_is_read_again_after_any_write(app, ctx, count_queries):
    teacher, other = make_teacher(app), make_teacher(app)
    tokens.user_for_token(teacher.token)
    db.session.remove()
    other_process_runs(app, "UPDATE users SET first_name = 'Else' WHERE email = :e", e=other.email)

    with count_queries() as queries:
        assert tokens.user_for_token(teacher.token).id == teacher.user_id

    assert selects(queries.statements) == 1


def test_a_students_profile_comes_with_the_row(app, ctx, count_queries):
    student = make_student(app)
    tokens.user_for_token(student.token)
    db.session.expunge_all()

    with count_queries() as queries:
        user = tokens.user_for_token(student.token)
        number = user.student.student_number

    assert selects(queries.statements) == token_reads(app)
    assert (user.student.id, number, user.teacher) == (student.profile_id, student.number, None)
    assert user.student.user is user


def test_a_user_already_in_the_session_is_the_one_returned(app, ctx):
    teacher = make_teacher(app)
    loaded = db.session.get(User, teacher.user_id)

    assert tokens.user_for_token(teacher.token) is loaded
    assert people.load_user_for_login(loaded.get_id()) is loaded


#: The token's owner, in SQL.
OWNER = "(SELECT id FROM users WHERE email = :e)"
NOW, LONG_AGO = "CURRENT_TIMESTAMP", "'2000-01-01 00:00:00'"
CHANGES = {
    "token revoked": f"UPDATE api_tokens SET revoked_at = {NOW} WHERE user_id = {OWNER}",
    "token expired": f"UPDATE api_tokens SET expires_at = {LONG_AGO} WHERE user_id = {OWNER}",
    "account deactivated": "UPDATE users SET is_active = false WHERE email = :e",
    "token deleted": f"DELETE FROM api_tokens WHERE user_id = {OWNER}",
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_token_is_refused_on_the_next_request_after_another_process_ends_it(app, api_as, change):
    teacher = make_teacher(app)
    api = api_as(teacher)
    assert [api.get("/api/classes/").status_code for _ in range(2)] == [200, 200]
    assert kept_for(app, teacher.user_id) is not None

    other_process_runs(app, CHANGES[change], e=teacher.email)

    refused = api.get("/api/classes/")
    assert refused.status_code == 401
    assert refused.get_json() == {"detail": "Authentication credentials were not provided."}


def test_a_token_is_refused_on_the_next_request_after_revocation_deactivation_or_new_password(
    app, api_as
):
    admin = make_admin(app)
    revoked, deactivated, new_password = make_teacher(app), make_teacher(app), make_teacher(app)
    for person in (revoked, deactivated, new_password):
        assert api_as(person).get("/api/classes/").status_code == 200
        assert api_as(person).get("/api/classes/").status_code == 200  # now kept

    with app.app_context():
        tokens.revoke_token(raw=revoked.token)
        people.set_active(actor=actor(admin.user_id), user_id=deactivated.user_id, active=False)
        people.change_password(
            actor=actor(new_password.user_id), current_password=PASSWORD, new_password="x" * 12
        )

    for person in (revoked, deactivated, new_password):
        assert api_as(person).get("/api/classes/").status_code == 401


def test_a_kept_token_is_refused_once_its_expiry_passes_with_no_write_meanwhile(
    app, api_as, monkeypatch
):
    teacher = make_teacher(app)
    monkeypatch.setitem(app.config, "API_TOKEN_DAYS", 3 / 86_400)  # valid for three seconds
    with app.app_context():
        issued = tokens.issue_token(email=teacher.email, password=PASSWORD)
        expires_at = db.session.scalar(
            select(ApiToken.expires_at)
            .where(ApiToken.user_id == teacher.user_id)
            .order_by(ApiToken.expires_at)
        )
        db.session.remove()
    api = api_as(issued.token)
    # Enough requests for every pooled connection to have found it valid (SQLite keeps the
    # answer per connection): the refusal below is the kept answer's own.
    assert {api.get("/api/classes/").status_code for _ in range(12)} == {200}
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            digest = tokens._digest(issued.token)
            assert any(kept == digest for _, kept in tokens._seen().tokens)

    while utcnow() <= expires_at:  # the clock moves on; nothing is written meanwhile
        time.sleep(0.05)

    refused = api.get("/api/classes/")
    assert refused.status_code == 401
    assert refused.get_json() == {"detail": "Authentication credentials were not provided."}
    assert api_as(teacher).get("/api/classes/").status_code == 200  # 30 days: still good


@pytest.mark.parametrize("path", ["session", "student"])
def test_the_views_read_by_a_kept_token_refuse_it_at_once_after_revocation(app, api_as, path):
    student, admin, teacher = make_student(app), make_admin(app), make_teacher(app)
    klass = make_class(app, admin=admin, teacher=teacher, students=[student])
    session_id = make_session(app, klass)
    mark(app, klass, session_id, student, "LATE")
    url = (
        f"/api/attendance/session/{session_id}/"
        if path == "session"
        else f"/api/attendance/student/{student.profile_id}/"
    )
    api = api_as(teacher)
    first, again = api.get(url), api.get(url)
    assert first.status_code == again.status_code == 200 and first.data == again.data
    kept = kept_for(app, teacher.user_id)
    assert kept is not None and inspect(kept).detached  # read by the view, never attached

    assert api.delete("/api/auth/token/").status_code == 204

    assert api.get(url).status_code == 401
    assert api_as(admin).get(url).data == first.data


def test_a_change_to_the_row_by_another_process_is_seen_on_the_next_lookup(app, ctx):
    teacher = make_teacher(app)
    assert tokens.user_for_token(teacher.token).first_name == teacher.first_name
    db.session.remove()

    other_process_runs(
        app, "UPDATE users SET first_name = 'Renamed' WHERE email = :e", e=teacher.email
    )

    assert tokens.user_for_token(teacher.token).first_name == "Renamed"


LOGIN_CHANGES = {
    "signed out everywhere": (
        "UPDATE users SET session_version = session_version + 1 WHERE email = :e"
    ),
    "account deactivated": "UPDATE users SET is_active = false WHERE email = :e",
}


@pytest.mark.parametrize("change", LOGIN_CHANGES, ids=list(LOGIN_CHANGES))
def test_a_login_cookie_is_refused_on_the_next_request_after_another_process_ends_it(
    app, client, change
):
    teacher = make_teacher(app)
    assert login_as(client, teacher).status_code == 302
    assert [client.get("/").status_code for _ in range(2)] == [200, 200]
    assert kept_for(app, teacher.user_id) is not None

    other_process_runs(app, LOGIN_CHANGES[change], e=teacher.email)

    refused = client.get("/")
    assert refused.status_code == 302 and refused.location.startswith("/login")
