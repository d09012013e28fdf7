"""Signing in and one's own account in pages: a fresh session at login and logout, browser
sessions that end (idle, absolute), the self-service password page, two-factor set-up and
its login step, REQUIRE_ADMIN_2FA, and superusers' accounts in the back office."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from attendance_app.services.school.browser_sessions import (
    SEEN_KEY,
    SEEN_RESOLUTION,
    SIGNED_IN_KEY,
)
from tests.factories import PASSWORD, make_superuser
from tests.web.conftest import csrf_from, login_as, parse


def _post_form(client, url: str, page_url: str, **data):
    token = csrf_from(client.get(page_url, follow_redirects=True).text)
    return client.post(url, data={"csrf_token": token, **data})


# --- the session itself --------------------------------------------------------------------


def test_logging_in_starts_a_fresh_session(app, classroom, client):
    page = client.get("/login")
    anonymous_token = csrf_from(page.text)
    with client.session_transaction() as s:
        s["planted"] = "by someone else"

    assert login_as(client, classroom.teacher).status_code == 302

    with client.session_transaction() as s:
        assert "planted" not in s
        assert s.get("csrf_token") != anonymous_token_raw(app, anonymous_token)


def anonymous_token_raw(app, signed: str) -> str:
    """The raw session value a page's signed CSRF token carries."""
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").loads(signed)


def test_logging_out_clears_the_whole_session(app, classroom, browser_as):
    client = browser_as(classroom.teacher)
    with client.session_transaction() as s:
        s["left_over"] = "x"

    assert _post_form(client, "/logout", "/").status_code == 302

    with client.session_transaction() as s:
        assert set(s) <= {"_flashes"}


def test_a_session_idle_too_long_ends(app, classroom, browser_as):
    client = browser_as(classroom.teacher)
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    with client.session_transaction() as s:
        s[SEEN_KEY] -= idle + 1

    resp = client.get("/")

    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert "Your session has ended" in client.get(resp.headers["Location"]).text


def test_requests_keep_a_session_alive_but_not_past_twelve_hours(app, classroom, browser_as):
    client = browser_as(classroom.teacher)
    with client.session_transaction() as s:
        s[SEEN_KEY] -= 3600  # an hour idle: still alive, and this request renews it
    assert client.get("/").status_code == 200
    with client.session_transaction() as s:
        assert time.time() - s[SEEN_KEY] < 60
        s[SIGNED_IN_KEY] -= 12 * 3600  # signed in twelve hours ago

    resp = client.get("/")

    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_the_cookie_is_sent_again_only_when_the_last_request_time_moves_on(
    app, classroom, browser_as
):
    client = browser_as(classroom.teacher)
    client.get("/")

    unchanged = client.get("/")
    with client.session_transaction() as s:
        s[SEEN_KEY] -= SEEN_RESOLUTION  # the last request counted is now old enough to move on
    renewed = client.get("/")

    assert unchanged.status_code == 200 and "Set-Cookie" not in unchanged.headers
    cookie = renewed.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "Expires=" in cookie
    with client.session_transaction() as s:
        assert time.time() - s[SEEN_KEY] < 60


def test_the_cookie_lives_no_longer_than_the_session(app, classroom, client):
    resp = login_as(client, classroom.teacher)

    cookie = resp.headers["Set-Cookie"]
    assert "Expires=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- one's own password -------------------------------------------------------------------


@pytest.mark.parametrize("who", ["teacher", "outsider", "admin"])
def test_anyone_changes_their_own_password(app, classroom, browser_as, who):
    person = getattr(classroom, who)
    client = browser_as(person)
    elsewhere = browser_as(person)

    wrong = _post_form(
        client,
        "/account/password",
        "/account/password",
        current_password="not-it",
        password="a-new-password",
    )
    done = _post_form(
        client,
        "/account/password",
        "/account/password",
        current_password=PASSWORD,
        password="a-new-password",
    )

    assert wrong.status_code == 400
    assert parse(wrong.text).one("small", {"id": "current_password-error"}).text == (
        "This is not your current password."
    )
    assert done.status_code == 302
    # This browser stays in: its home answers (a student's home is their history page).
    home = client.get("/")
    assert home.status_code == (302 if who == "outsider" else 200)
    assert "/login" not in home.headers.get("Location", "")
    assert client.get("/account/password").status_code == 200
    assert elsewhere.get("/account/password").status_code == 302  # the others end


def test_every_page_links_to_ones_account(app, classroom, browser_as):
    page = browser_as(classroom.outsider).get("/", follow_redirects=True).text

    assert 'href="/account/password"' in page


# --- two-factor sign-in in pages --------------------------------------------------------------


def _turn_on_in_pages(client) -> tuple[pyotp.TOTP, list[str]]:
    page = client.get("/account/two-factor").text
    html = parse(page)
    secret = html.one("code", {"data-totp-secret": True}).text
    assert "<svg" in page  # the QR code, drawn on the server, inline
    totp = pyotp.TOTP(secret)
    resp = client.post(
        "/account/two-factor", data={"csrf_token": csrf_from(page), "code": totp.now()}
    )
    assert resp.status_code == 200, resp.text
    codes = [c.text for c in parse(resp.text).find_all("code", {"data-recovery-code": True})]
    return totp, codes


def _next(totp: pyotp.TOTP) -> str:
    return totp.at(time.time() + totp.interval)


def test_a_teacher_turns_on_two_factor_and_then_logs_in_with_a_code(app, classroom, browser_as):
    totp, codes = _turn_on_in_pages(browser_as(classroom.teacher))
    assert len(codes) == 10

    client = app.test_client()
    first = login_as(client, classroom.teacher)
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/code")
    assert client.get("/").status_code == 302  # not logged in yet
    wrong = _post_form(client, "/login/code", "/login/code", otp="000000")
    right = _post_form(client, "/login/code", "/login/code", otp=_next(totp))

    assert wrong.status_code == 401 and "Invalid two-factor code." in wrong.text
    assert right.status_code == 302
    assert client.get("/").status_code == 200
    again = client.get("/account/two-factor").text
    assert 'data-two-factor="on"' in again and "data-recovery-code" not in again  # shown once


def test_a_recovery_code_logs_in_once(app, classroom, browser_as):
    _, codes = _turn_on_in_pages(browser_as(classroom.teacher))

    once, twice = app.test_client(), app.test_client()
    login_as(once, classroom.teacher)
    login_as(twice, classroom.teacher)

    assert _post_form(once, "/login/code", "/login/code", otp=codes[0]).status_code == 302
    assert _post_form(twice, "/login/code", "/login/code", otp=codes[0]).status_code == 401


def test_turning_two_factor_off_needs_a_current_code(app, classroom, browser_as):
    client = browser_as(classroom.teacher)
    totp, _ = _turn_on_in_pages(client)

    refused = _post_form(client, "/account/two-factor/off", "/account/two-factor", code="123")
    assert refused.status_code == 400
    assert 'data-two-factor="on"' in client.get("/account/two-factor").text

    done = _post_form(client, "/account/two-factor/off", "/account/two-factor", code=_next(totp))
    assert done.status_code == 302
    assert login_as(app.test_client(), classroom.teacher).headers["Location"] == "/"


def test_students_are_offered_no_two_factor(app, classroom, browser_as):
    page = browser_as(classroom.outsider).get("/account/two-factor")

    assert page.status_code == 200
    assert "data-totp-secret" not in page.text
    assert "for staff accounts" in page.text


def test_required_two_factor_sends_an_admin_to_set_it_up(app, classroom, browser_as, monkeypatch):
    monkeypatch.setitem(app.config, "REQUIRE_ADMIN_2FA", True)
    client = app.test_client()

    first = login_as(client, classroom.admin)
    elsewhere = client.get("/admin/people")

    assert first.headers["Location"].endswith("/account/two-factor")
    assert elsewhere.status_code == 302
    assert elsewhere.headers["Location"].endswith("/account/two-factor")
    _turn_on_in_pages(client)
    assert client.get("/admin/people").status_code == 200
    assert browser_as(classroom.teacher).get("/").status_code == 200  # teachers: optional


def test_the_two_factor_page_passes_the_content_security_policy(app, classroom, browser_as):
    resp = browser_as(classroom.teacher).get("/account/two-factor")

    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert not re.search(r"<script(?![^>]*\bsrc=)", resp.text)  # no inline script
    assert "style=" not in resp.text.split("<svg", 1)[1].split("</svg>", 1)[0]


# --- superusers in the back office -----------------------------------------------------------


def test_an_admins_pages_cannot_change_a_superuser(app, classroom, browser_as):
    superuser = make_superuser(app)
    client = browser_as(classroom.admin)
    url = f"/admin/people/{superuser.user_id}"

    page = client.get(url)
    token = csrf_from(page.text)
    saved = client.post(
        url,
        data={
            "csrf_token": token,
            "email": "taken@school.test",
            "first_name": "Taken",
            "last_name": "Over",
        },
    )
    reset = client.post(
        url + "/password",
        data={"csrf_token": token, "password": "taken-over-1", "current_password": PASSWORD},
    )
    deactivate = client.post(url + "/deactivate", data={"csrf_token": token})

    assert page.status_code == 200 and 'id="person-password"' not in page.text
    assert (saved.status_code, reset.status_code, deactivate.status_code) == (403, 403, 403)
    assert client.get(url + "/deactivate").status_code == 403
    assert login_as(app.test_client(), superuser).status_code == 302


def test_resetting_a_password_in_pages_needs_the_admins_own(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    url = f"/admin/people/{classroom.teacher.user_id}"

    refused = _post_form(
        client, url + "/password", url, password="new-password-1", current_password="nope"
    )

    assert refused.status_code == 400
    assert parse(refused.text).one("small", {"id": "current_password-error"}).text == (
        "This is not your current password."
    )
    assert login_as(app.test_client(), classroom.teacher).status_code == 302
