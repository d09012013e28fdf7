"""The contract's Security section for the token endpoint: throttling per account and per
address (shared with the login form), the same answer and work for every kind of wrong
login, two-factor codes, and what a token endpoint answers about them."""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager

import pyotp
import pytest

from attendance_app.extensions import db
from attendance_app.services.school import student_import, two_factor
from tests.factories import PASSWORD, actor, make_admin, make_class, make_teacher
from tests.web.conftest import csrf_from

TOKEN_URL = "/api/auth/token/"
BAD_CREDENTIALS = {"detail": "Invalid email or password."}
TOO_MANY = re.compile(r"^Too many failed attempts\. Try again in (\d+) seconds\.$")


def obtain(client, email: str, password: str = PASSWORD, **extra):
    return client.post(TOKEN_URL, json={"email": email, "password": password, **extra})


def assert_throttled(resp) -> int:
    assert resp.status_code == 429, resp.get_data(as_text=True)
    found = TOO_MANY.match(resp.json["detail"])
    assert found, resp.json
    seconds = int(found.group(1))
    assert 1 <= seconds <= 15 * 60
    assert resp.headers["Retry-After"] == str(seconds)
    return seconds


# --- per account ---------------------------------------------------------------------------


def test_ten_failures_lock_the_account_even_with_the_right_password(app, client):
    teacher = make_teacher(app)

    answers = [obtain(client, teacher.email, "wrong-password").status_code for _ in range(10)]
    locked = obtain(client, teacher.email)

    assert answers == [401] * 10
    assert list(locked.json) == ["detail"]
    assert_throttled(locked)


def test_a_locked_account_leaves_other_accounts_alone(app, client):
    locked, other = make_teacher(app), make_teacher(app)
    for _ in range(10):
        obtain(client, locked.email, "wrong-password")

    assert obtain(client, other.email).status_code == 200
    assert_throttled(obtain(client, locked.email.upper()))  # any case of the email


def test_successful_logins_never_count(app, client):
    teacher = make_teacher(app)

    for _ in range(12):
        assert obtain(client, teacher.email).status_code == 200
    for _ in range(9):
        obtain(client, teacher.email, "wrong-password")

    assert obtain(client, teacher.email).status_code == 200


def test_the_login_form_and_the_token_endpoint_count_together(app, client):
    teacher = make_teacher(app)
    for _ in range(5):
        obtain(client, teacher.email, "wrong-password")
    for _ in range(5):
        token = csrf_from(client.get("/login").text)
        form = {"email": teacher.email, "password": "wrong-password", "csrf_token": token}
        assert client.post("/login", data=form).status_code == 401

    assert_throttled(obtain(client, teacher.email))
    token = csrf_from(client.get("/login").text)
    page = client.post(
        "/login", data={"email": teacher.email, "password": PASSWORD, "csrf_token": token}
    )
    assert page.status_code == 429
    assert page.mimetype == "text/html"
    assert "Too many failed attempts. Try again in " in page.text
    assert int(page.headers["Retry-After"]) >= 1


# --- per address ---------------------------------------------------------------------------


def test_one_address_gets_fifty_failures_across_all_emails(app, client):
    teacher = make_teacher(app)
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.7"

    answers = {obtain(client, f"guess{i}@school.test", "x").status_code for i in range(50)}

    assert answers == {401}
    assert_throttled(obtain(client, teacher.email))  # the right password, a fresh account
    assert obtain(elsewhere, teacher.email).status_code == 200


# --- every wrong login looks the same --------------------------------------------------------


@contextmanager
def counting_hashes():
    """Count the password hashes computed (the tests hash with PBKDF2), by profiling calls
    into the hashlib C function: an observation, not a replacement."""
    calls: list[str] = []

    def profile(frame, event, arg):
        if event == "c_call" and getattr(arg, "__name__", "") == "pbkdf2_hmac":
            calls.append(arg.__name__)

    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(None)


def test_unknown_emails_wrong_passwords_and_imported_accounts_answer_alike(app, client):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=0)
    teacher = make_teacher(app)
    with app.app_context():
        csv_text = (
            "student_number,first_name,last_name,email,class_name\n"
            f"S900,Imported,Student,imported@school.test,{klass.name}\n"
        )
        student_import.apply_import(actor=actor(admin.user_id), text=csv_text)
        db.session.remove()
    obtain(client, "warm-up@school.test")  # the dummy hash is made once, up front

    answers = {}
    for name, email in [
        ("unknown", "nobody@school.test"),
        ("wrong password", teacher.email),
        ("imported", "imported@school.test"),
    ]:
        with counting_hashes() as hashes:
            resp = obtain(client, email, "not-the-password")
        answers[name] = (resp.status_code, resp.json, len(hashes))

    assert list(answers.values()) == [(401, BAD_CREDENTIALS, 1)] * 3, answers


def test_failures_and_lockouts_are_logged_without_the_password(app, client, caplog):
    teacher = make_teacher(app)
    caplog.set_level("INFO", logger="attendance.security")

    for _ in range(10):
        obtain(client, teacher.email, "s3cret-guess")
    obtain(client, teacher.email)

    lines = [r.getMessage() for r in caplog.records if r.name == "attendance.security"]
    assert sum("event=login_failed" in line for line in lines) == 10
    assert any(line.startswith("event=lockout scope=account") for line in lines)
    assert f"email={teacher.email}" in lines[0] and "address=127.0.0.1" in lines[0]
    assert not any("s3cret" in line or PASSWORD in line for line in lines)


# --- two-factor sign-in --------------------------------------------------------------------


def turn_on_two_factor(app, person) -> tuple[pyotp.TOTP, list[str]]:
    """Set up 2FA for ``person`` as the set-up page does; their app and recovery codes."""
    secret = two_factor.new_secret()
    totp = pyotp.TOTP(secret)
    with app.app_context():
        enabled = two_factor.enable(actor=actor(person.user_id), secret=secret, code=totp.now())
        db.session.remove()
    return totp, enabled.recovery_codes


def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step (the current one was used to turn 2FA on)."""
    import time

    return totp.at(time.time() + totp.interval)


def test_with_two_factor_on_the_token_endpoint_needs_the_code(app, client):
    teacher = make_teacher(app)
    totp, _ = turn_on_two_factor(app, teacher)

    missing = obtain(client, teacher.email)
    wrong = obtain(client, teacher.email, otp="000000" if totp.now() != "000000" else "111111")
    right = obtain(client, teacher.email, otp=next_code(totp))

    assert (missing.status_code, missing.json) == (
        401,
        {"detail": "Two-factor code required.", "otp_required": True},
    )
    assert (wrong.status_code, wrong.json) == (401, {"detail": "Invalid two-factor code."})
    assert right.status_code == 200, right.json


def test_a_code_is_accepted_once(app, client):
    teacher = make_teacher(app)
    totp, _ = turn_on_two_factor(app, teacher)
    code = next_code(totp)

    assert obtain(client, teacher.email, otp=code).status_code == 200
    replay = obtain(client, teacher.email, otp=code)

    assert (replay.status_code, replay.json) == (401, {"detail": "Invalid two-factor code."})


def test_a_recovery_code_stands_in_for_the_code_once(app, client):
    teacher = make_teacher(app)
    _, codes = turn_on_two_factor(app, teacher)

    assert len(codes) == 10 and len(set(codes)) == 10
    assert obtain(client, teacher.email, otp=codes[3]).status_code == 200
    assert obtain(client, teacher.email, otp=codes[3].upper()).status_code == 401
    assert obtain(client, teacher.email, otp=codes[4]).status_code == 200


def test_wrong_codes_count_as_failed_logins(app, client):
    teacher = make_teacher(app)
    totp, _ = turn_on_two_factor(app, teacher)
    for _ in range(10):
        assert obtain(client, teacher.email, otp="12345x").status_code == 401

    assert_throttled(obtain(client, teacher.email, otp=next_code(totp)))


def test_a_wrong_password_with_a_code_is_still_a_bad_password(app, client):
    teacher = make_teacher(app)
    totp, _ = turn_on_two_factor(app, teacher)

    resp = obtain(client, teacher.email, "wrong-password", otp=next_code(totp))

    assert (resp.status_code, resp.json) == (401, BAD_CREDENTIALS)


def test_admins_without_two_factor_get_no_token_when_it_is_required(app, client, monkeypatch):
    admin, teacher, secured = make_admin(app), make_teacher(app), make_admin(app)
    totp, _ = turn_on_two_factor(app, secured)
    monkeypatch.setitem(app.config, "REQUIRE_ADMIN_2FA", True)

    refused = obtain(client, admin.email)

    assert refused.status_code == 403
    assert "two-factor" in refused.json["detail"]
    assert obtain(client, teacher.email).status_code == 200  # required for admins only
    assert obtain(client, secured.email, otp=next_code(totp)).status_code == 200


def test_students_cannot_turn_on_two_factor(app, ctx):
    from attendance_app.services.errors import Forbidden
    from tests.factories import make_student

    student = make_student(app)
    secret = two_factor.new_secret()

    with pytest.raises(Forbidden):
        two_factor.enable(
            actor=actor(student.user_id), secret=secret, code=pyotp.TOTP(secret).now()
        )


def test_only_digests_of_recovery_codes_are_stored(app, ctx):
    from sqlalchemy import select

    from attendance_app.models import RecoveryCode

    teacher = make_teacher(app)
    _, codes = turn_on_two_factor(app, teacher)

    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & set(stored)
    assert all(len(h) == 64 for h in stored)
