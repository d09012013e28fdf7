"""/login and /logout through the real form, with CSRF on."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import PASSWORD, deactivate_user, make_session
from tests.web.conftest import csrf_from, login_as, parse

INVALID = "Invalid email or password."


def _is_logged_in(client) -> bool:
    response = client.get("/")
    return not (response.status_code == 302 and "/login" in response.headers["Location"])


def test_login_page_has_email_and_password_inputs_and_a_csrf_token(client):
    response = client.get("/login")

    assert response.status_code == 200
    doc = parse(response.text)
    form = doc.one("form", {"method": "post"})
    assert form.one("input", {"name": "email"}).get("type") == "email"
    assert form.one("input", {"name": "password"}).get("type") == "password"
    hidden = form.one("input", {"name": "csrf_token"})
    assert hidden.get("type") == "hidden" and hidden.get("value")
    assert doc.one("meta", {"name": "csrf-token"}).get("content")


def test_good_credentials_log_in_and_go_home(client, classroom):
    response = login_as(client, classroom.teacher)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert classroom.teacher.full_name in home.text


def test_email_is_matched_case_insensitively(client, classroom):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": classroom.teacher.email.upper(),
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
    )

    assert response.status_code == 302
    assert _is_logged_in(client)


def test_login_goes_back_to_a_same_site_next_path(app, client, classroom):
    session_id = make_session(app, classroom.klass)
    target = f"/sessions/{session_id}"

    response = login_as(client, classroom.teacher, next_url=target)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == target
    assert client.get(target).status_code == 200


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example",
        "//evil.example",
        "//evil.example/sessions",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example/path",
    ],
)
def test_login_never_redirects_off_site_and_goes_home_instead(client, classroom, next_url):
    response = login_as(client, classroom.teacher, next_url=next_url)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost")
    assert location.path == "/"
    assert _is_logged_in(client)


def test_wrong_password_shows_a_clear_message_and_does_not_log_in(client, classroom):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": classroom.teacher.email,
            "password": "not-the-password",
            "csrf_token": csrf_from(page.text),
        },
    )

    assert response.status_code == 401
    assert INVALID in response.text
    # The form is shown again with the email kept, the password not.
    doc = parse(response.text)
    assert doc.one("input", {"name": "email"}).get("value") == classroom.teacher.email
    assert not doc.one("input", {"name": "password"}).get("value")
    assert not _is_logged_in(client)


def test_unknown_email_gets_the_same_message_as_a_wrong_password(client):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": "nobody@school.test",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
    )

    assert response.status_code == 401
    assert INVALID in response.text
    assert not _is_logged_in(client)


def test_an_inactive_user_cannot_log_in(app, client, classroom):
    deactivate_user(app, classroom.teacher)

    response = login_as(client, classroom.teacher)

    assert response.status_code == 401
    assert INVALID in response.text
    assert not _is_logged_in(client)


def test_login_with_missing_fields_shows_the_form_again(client):
    page = client.get("/login")
    response = client.post("/login", data={"csrf_token": csrf_from(page.text)})

    assert response.status_code == 400
    doc = parse(response.text)
    assert doc.find("input", {"name": "email", "aria-invalid": "true"}) is not None
    assert doc.find("input", {"name": "password", "aria-invalid": "true"}) is not None
    assert not _is_logged_in(client)


def test_login_post_without_the_csrf_token_is_refused(client, classroom):
    client.get("/login")
    response = client.post("/login", data={"email": classroom.teacher.email, "password": PASSWORD})

    assert response.status_code == 400
    assert not _is_logged_in(client)


def test_login_post_with_a_forged_csrf_token_is_refused(client, classroom):
    client.get("/login")
    response = client.post(
        "/login",
        data={"email": classroom.teacher.email, "password": PASSWORD, "csrf_token": "forged"},
    )

    assert response.status_code == 400
    assert not _is_logged_in(client)


def test_a_csrf_token_from_another_browser_is_refused(app, client, classroom):
    other = app.test_client()
    token = csrf_from(other.get("/login").text)
    client.get("/login")

    response = client.post(
        "/login",
        data={"email": classroom.teacher.email, "password": PASSWORD, "csrf_token": token},
    )

    assert response.status_code == 400
    assert not _is_logged_in(client)


def test_the_login_page_sends_a_logged_in_user_home(client, classroom):
    login_as(client, classroom.teacher)

    response = client.get("/login")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"


def test_logout_is_post_only(client, classroom):
    login_as(client, classroom.teacher)

    response = client.get("/logout")

    assert response.status_code == 405
    assert _is_logged_in(client)


def test_logout_without_the_csrf_token_is_refused(client, classroom):
    login_as(client, classroom.teacher)

    response = client.post("/logout")

    assert response.status_code == 400
    assert _is_logged_in(client)


def test_logout_with_the_csrf_token_logs_out(client, classroom):
    login_as(client, classroom.teacher)
    home = client.get("/")
    doc = parse(home.text)
    form = doc.one("form", {"action": "/logout"})
    token = form.one("input", {"name": "csrf_token"}).get("value")

    response = client.post("/logout", data={"csrf_token": token})

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert not _is_logged_in(client)
    assert "You have been logged out." in client.get("/login").text


def _paths(app, classroom) -> dict[str, str]:
    session_id = make_session(app, classroom.klass)
    student = classroom.klass.students[0]
    return {
        "home": "/",
        "class": f"/classes/{classroom.klass.id}",
        "roster": f"/sessions/{session_id}",
        "grid": f"/sessions/{session_id}/grid",
        "end": f"/sessions/{session_id}/end",
        "history": f"/students/{student.profile_id}/history",
    }


@pytest.mark.parametrize("page", ["home", "class", "roster", "grid", "end", "history"])
def test_pages_need_login_and_redirect_to_login_with_next(app, client, classroom, page):
    path = _paths(app, classroom)[page]

    response = client.get(path)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]


def test_after_the_login_redirect_the_user_lands_on_the_page_they_asked_for(app, client, classroom):
    path = _paths(app, classroom)["roster"]
    location = urlsplit(client.get(path).headers["Location"])
    next_url = parse_qs(location.query)["next"][0]

    response = login_as(client, classroom.teacher, next_url=next_url)

    assert urlsplit(response.headers["Location"]).path == path


def test_an_email_with_a_nul_byte_is_just_invalid_credentials(client):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": "a\x00b@school.test",
            "password": "x\x00",
            "csrf_token": csrf_from(page.text),
        },
    )

    assert response.status_code == 401
    assert INVALID in response.text
