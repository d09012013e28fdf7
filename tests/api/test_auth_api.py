"""POST/DELETE /api/auth/token/, token schemes, hashed storage and CSRF for cookie writes."""

from __future__ import annotations

import hashlib

import pytest
from flask import session as flask_session
from flask_wtf.csrf import generate_csrf
from sqlalchemy import text

from attendance_app.extensions import db
from attendance_app.services.school import browser_sessions
from tests.factories import PASSWORD, deactivate_user, make_admin, make_student, make_teacher

TOKEN_URL = "/api/auth/token/"
NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
BAD_CREDENTIALS = {"detail": "Invalid email or password."}


def obtain(client, email: str, password: str = PASSWORD):
    return client.post(TOKEN_URL, json={"email": email, "password": password})


def whoami(client, authorization: str | None):
    """A GET that any authenticated user may make."""
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.get("/api/subjects/", headers=headers)


# --- obtaining a token ----------------------------------------------------------------------


def test_valid_credentials_get_a_token_and_the_users_public_fields(app, client):
    teacher = make_teacher(app, first_name="Tina", last_name="Lee")

    resp = obtain(client, teacher.email)

    assert resp.status_code == 200, resp.json
    assert set(resp.json) == {"token", "user"}
    assert isinstance(resp.json["token"], str) and len(resp.json["token"]) >= 20
    assert resp.json["user"] == {
        "id": str(teacher.user_id),
        "email": teacher.email,
        "first_name": "Tina",
        "last_name": "Lee",
        "role": "TEACHER",
    }


def test_the_issued_token_authenticates_api_requests(app, client):
    student = make_student(app)
    token = obtain(client, student.email).json["token"]

    assert whoami(client, f"Bearer {token}").status_code == 200


def test_each_login_issues_a_different_token(app, client):
    admin = make_admin(app)

    first = obtain(client, admin.email).json["token"]
    second = obtain(client, admin.email).json["token"]

    assert first != second


@pytest.mark.parametrize("spelling", [str.upper, str.title, lambda e: f"  {e.upper()}  "])
def test_email_is_matched_case_insensitively(app, client, spelling):
    teacher = make_teacher(app, email="mixed.Case@School.test")

    resp = obtain(client, spelling(teacher.email))

    assert resp.status_code == 200, resp.json
    assert resp.json["user"]["email"] == "mixed.case@school.test"


def test_wrong_password_is_refused_with_the_generic_message(app, client):
    teacher = make_teacher(app)

    resp = obtain(client, teacher.email, "not-the-password")

    assert resp.status_code == 401
    assert resp.json == BAD_CREDENTIALS


def test_password_is_case_sensitive(app, client):
    teacher = make_teacher(app)

    resp = obtain(client, teacher.email, PASSWORD.upper())

    assert resp.status_code == 401
    assert resp.json == BAD_CREDENTIALS


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(app, client):
    make_teacher(app)

    resp = obtain(client, "nobody@school.test")

    assert resp.status_code == 401
    assert resp.json == BAD_CREDENTIALS


def test_a_failed_login_creates_no_token(app, client):
    teacher = make_teacher(app, with_token=False)

    obtain(client, teacher.email, "wrong-password")

    with app.app_context():
        assert db.session.execute(text("SELECT COUNT(*) FROM api_tokens")).scalar() == 0


def test_an_inactive_user_cannot_obtain_a_token(app, client):
    teacher = make_teacher(app)
    deactivate_user(app, teacher)

    resp = obtain(client, teacher.email)

    assert resp.status_code == 401
    assert resp.json == BAD_CREDENTIALS


def test_an_inactive_users_existing_token_stops_working(app, client):
    teacher = make_teacher(app)
    assert whoami(client, f"Bearer {teacher.token}").status_code == 200

    deactivate_user(app, teacher)

    resp = whoami(client, f"Bearer {teacher.token}")
    assert resp.status_code == 401
    assert resp.json == NOT_AUTHENTICATED


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"email": ["This field is required."], "password": ["This field is required."]}),
        ({"password": PASSWORD}, {"email": ["This field is required."]}),
        ({"email": "a@school.test"}, {"password": ["This field is required."]}),
        ({"email": None, "password": PASSWORD}, {"email": ["This field may not be null."]}),
        ({"email": "", "password": PASSWORD}, {"email": ["This field may not be blank."]}),
    ],
)
def test_missing_or_empty_credentials_are_field_errors(app, client, body, errors):
    resp = client.post(TOKEN_URL, json=body)

    assert resp.status_code == 400
    assert resp.json == errors


def test_obtaining_a_token_needs_no_authentication_or_csrf(app, client):
    teacher = make_teacher(app)

    # No Authorization header, no session cookie, no CSRF token.
    resp = client.post(TOKEN_URL, json={"email": teacher.email, "password": PASSWORD})

    assert resp.status_code == 200


# --- presenting a token ---------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer", "token"])
def test_bearer_and_token_schemes_are_both_accepted(app, client, scheme):
    teacher = make_teacher(app)

    assert whoami(client, f"{scheme} {teacher.token}").status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-a-real-token",
        "Basic dXNlcjpwYXNz",
        "{token}",
        "JWT {token}",
    ],
    ids=["none", "empty", "scheme-only", "scheme-space", "unknown", "basic", "bare", "jwt"],
)
def test_missing_or_bad_credentials_get_401(app, client, authorization):
    teacher = make_teacher(app)
    header = None if authorization is None else authorization.format(token=teacher.token)

    resp = whoami(client, header)

    assert resp.status_code == 401
    assert resp.json == NOT_AUTHENTICATED


def test_a_401_names_the_bearer_scheme(app, client):
    resp = whoami(client, "Bearer nope")

    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_of_another_character_case_is_refused(app, client):
    teacher = make_teacher(app)
    flipped = teacher.token.swapcase()
    assert flipped != teacher.token

    assert whoami(client, f"Bearer {flipped}").status_code == 401


# --- revoking -------------------------------------------------------------------------------


def test_revoking_answers_204_and_the_token_stops_working(app, client):
    teacher = make_teacher(app)
    token = obtain(client, teacher.email).json["token"]

    resp = client.delete(TOKEN_URL, headers={"Authorization": f"Bearer {token}"})

    assert resp.status_code == 204
    assert resp.data == b""
    after = whoami(client, f"Bearer {token}")
    assert after.status_code == 401
    assert after.json == NOT_AUTHENTICATED


def test_revoking_one_token_leaves_the_users_other_tokens_working(app, client):
    teacher = make_teacher(app)
    first = obtain(client, teacher.email).json["token"]
    second = obtain(client, teacher.email).json["token"]

    client.delete(TOKEN_URL, headers={"Authorization": f"Token {first}"})

    assert whoami(client, f"Bearer {first}").status_code == 401
    assert whoami(client, f"Bearer {second}").status_code == 200
    assert whoami(client, f"Bearer {teacher.token}").status_code == 200


def test_revoking_without_a_token_is_401(app, client):
    resp = client.delete(TOKEN_URL)

    assert resp.status_code == 401
    assert resp.json == NOT_AUTHENTICATED


def test_a_revoked_token_cannot_revoke_again(app, client):
    teacher = make_teacher(app)
    headers = {"Authorization": f"Bearer {teacher.token}"}
    assert client.delete(TOKEN_URL, headers=headers).status_code == 204

    resp = client.delete(TOKEN_URL, headers=headers)

    assert resp.status_code == 401


def test_revoking_does_not_log_the_user_out_of_new_logins(app, client):
    teacher = make_teacher(app)
    client.delete(TOKEN_URL, headers={"Authorization": f"Bearer {teacher.token}"})

    resp = obtain(client, teacher.email)

    assert resp.status_code == 200
    assert whoami(client, f"Bearer {resp.json['token']}").status_code == 200


# --- storage ---------------------------------------------------------------------------------


def test_tokens_are_stored_hashed_never_in_the_clear(app, client):
    teacher = make_teacher(app, with_token=False)
    token = obtain(client, teacher.email).json["token"]

    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM api_tokens")).mappings().all()
        db.session.remove()

    assert len(rows) == 1
    stored = [str(v) for v in rows[0].values() if v is not None]
    assert all(token not in value for value in stored)
    assert hashlib.sha256(token.encode()).hexdigest() in stored


# --- cookie (browser) authentication and CSRF ----------------------------------------------


def log_in_with_cookie(client, person) -> None:
    """Put Flask-Login's session into the test client, as a browser login would."""
    with client.session_transaction() as s:
        s["_user_id"] = f"{person.user_id}:1"
        s["_fresh"] = True
        with client.application.app_context():
            browser_sessions.start(s)


def csrf_token_for(app, client) -> str:
    """A valid X-CSRFToken for the client's session, made by Flask-WTF's generate_csrf."""
    with client.session_transaction() as client_session, app.test_request_context():
        flask_session.update(client_session)  # the request context shares the client's session
        token = generate_csrf()
        client_session["csrf_token"] = flask_session["csrf_token"]
    return token


SUBJECT = {"code": "CSRF101", "name": "Cookie Subject"}


def test_cookie_authenticated_reads_need_no_csrf_token(app, client):
    admin = make_admin(app)
    log_in_with_cookie(client, admin)

    resp = client.get("/api/users/")

    assert resp.status_code == 200, resp.json
    assert [u["email"] for u in resp.json] == [admin.email]


def test_cookie_authenticated_write_without_csrf_token_is_refused(app, client):
    admin = make_admin(app)
    log_in_with_cookie(client, admin)

    resp = client.post("/api/subjects/", json=SUBJECT)

    assert resp.status_code == 403
    assert set(resp.json) == {"detail"}
    assert "CSRF" in resp.json["detail"]
    assert client.get("/api/subjects/").json == []


def test_cookie_authenticated_write_with_a_forged_csrf_token_is_refused(app, client):
    admin = make_admin(app)
    log_in_with_cookie(client, admin)

    resp = client.post("/api/subjects/", json=SUBJECT, headers={"X-CSRFToken": "forged"})

    assert resp.status_code == 403
    assert "CSRF" in resp.json["detail"]


def test_cookie_authenticated_delete_without_csrf_token_is_refused(app, client):
    admin = make_admin(app)
    log_in_with_cookie(client, admin)

    resp = client.delete(TOKEN_URL)

    assert resp.status_code == 403


def test_cookie_authenticated_write_with_a_valid_csrf_token_succeeds(app, client):
    admin = make_admin(app)
    log_in_with_cookie(client, admin)
    token = csrf_token_for(app, client)

    resp = client.post("/api/subjects/", json=SUBJECT, headers={"X-CSRFToken": token})

    assert resp.status_code == 201, resp.json
    assert resp.json["code"] == "CSRF101"


def test_a_csrf_token_of_another_session_is_refused(app, client):
    admin = make_admin(app)
    other = app.test_client()
    log_in_with_cookie(other, admin)
    foreign = csrf_token_for(app, other)
    log_in_with_cookie(client, admin)
    csrf_token_for(app, client)  # this client has a CSRF secret of its own

    resp = client.post("/api/subjects/", json=SUBJECT, headers={"X-CSRFToken": foreign})

    assert resp.status_code == 403


def test_token_authenticated_writes_need_no_csrf_token(app, client):
    admin = make_admin(app)

    resp = client.post(
        "/api/subjects/", json=SUBJECT, headers={"Authorization": f"Bearer {admin.token}"}
    )

    assert resp.status_code == 201, resp.json


def test_a_token_wins_over_a_login_cookie_and_needs_no_csrf(app, client):
    admin = make_admin(app)
    teacher = make_teacher(app)
    log_in_with_cookie(client, teacher)

    resp = client.post(
        "/api/subjects/", json=SUBJECT, headers={"Authorization": f"Bearer {admin.token}"}
    )

    assert resp.status_code == 201, resp.json


def test_a_bad_token_is_401_even_with_a_valid_login_cookie(app, client):
    admin = make_admin(app)
    log_in_with_cookie(client, admin)

    resp = client.get("/api/users/", headers={"Authorization": "Bearer nope"})

    assert resp.status_code == 401


def test_a_login_cookie_of_an_old_session_version_is_not_authenticated(app, client):
    admin = make_admin(app)
    with client.session_transaction() as s:
        s["_user_id"] = f"{admin.user_id}:0"
        s["_fresh"] = True
        with client.application.app_context():
            browser_sessions.start(s)

    resp = client.get("/api/users/")

    assert resp.status_code == 401
    assert resp.json == NOT_AUTHENTICATED


def test_a_login_cookie_of_an_inactive_user_is_not_authenticated(app, client):
    admin = make_admin(app)
    log_in_with_cookie(client, admin)
    deactivate_user(app, admin)

    assert client.get("/api/users/").status_code == 401
