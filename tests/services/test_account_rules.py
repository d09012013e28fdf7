"""Account rules in the service layer (the pages, the API and the CLI all go through them):
superusers are changed only by superusers, password changes need the actor's own password,
deactivation ends API tokens for good, names and emails are one line of bounded length."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from attendance_app.extensions import db
from attendance_app.models import ApiToken, Role, User
from attendance_app.services.errors import Forbidden, Invalid
from attendance_app.services.school import people, signin, structure, tokens
from attendance_app.services.school.people import WRONG_CURRENT_PASSWORD
from attendance_app.shapes import CONTROL_CHARACTERS, too_long
from tests.factories import (
    PASSWORD,
    actor,
    make_admin,
    make_superuser,
    make_teacher,
)

NEW = "a-brand-new-password"


def _stored(person) -> User:
    db.session.remove()
    return db.session.get(User, person.user_id)


# --- superusers --------------------------------------------------------------------------


def test_an_admin_cannot_edit_deactivate_or_reset_a_superuser(app, ctx):
    admin, superuser = make_admin(app), make_superuser(app)
    before = _stored(superuser).password_hash

    with pytest.raises(Forbidden):
        people.update_user(
            actor=actor(admin.user_id),
            user_id=superuser.user_id,
            email="mine@school.test",
            first_name="Taken",
            last_name="Over",
        )
    with pytest.raises(Forbidden):
        people.set_active(actor=actor(admin.user_id), user_id=superuser.user_id, active=False)
    with pytest.raises(Forbidden):
        people.set_password(
            actor=actor(admin.user_id),
            user_id=superuser.user_id,
            password=NEW,
            actor_password=PASSWORD,
        )

    stored = _stored(superuser)
    assert (stored.email, stored.is_active) == (superuser.email, True)
    assert stored.password_hash == before


def test_a_superuser_may_change_another_superuser(app, ctx):
    boss, other = make_superuser(app), make_superuser(app)

    people.set_password(
        actor=actor(boss.user_id), user_id=other.user_id, password=NEW, actor_password=PASSWORD
    )
    people.set_active(actor=actor(boss.user_id), user_id=other.user_id, active=False)

    assert _stored(other).is_active is False
    assert people.authenticate(other.email, NEW) is None  # deactivated
    people.set_active(actor=actor(boss.user_id), user_id=other.user_id, active=True)
    assert people.authenticate(other.email, NEW) is not None


def test_an_admin_still_manages_ordinary_admins_and_teachers(app, ctx):
    admin, other_admin, teacher = make_admin(app), make_admin(app), make_teacher(app)

    for person in (other_admin, teacher):
        people.set_password(
            actor=actor(admin.user_id),
            user_id=person.user_id,
            password=NEW,
            actor_password=PASSWORD,
        )

    assert people.authenticate(teacher.email, NEW) is not None
    assert people.authenticate(other_admin.email, NEW) is not None


# --- confirming one's own password --------------------------------------------------------


def test_resetting_someone_elses_password_needs_the_admins_own(app, ctx):
    admin, teacher = make_admin(app), make_teacher(app)

    with pytest.raises(Invalid) as refused:
        people.set_password(
            actor=actor(admin.user_id),
            user_id=teacher.user_id,
            password=NEW,
            actor_password="not-my-password",
        )

    assert (refused.value.field, refused.value.message) == (
        "current_password",
        WRONG_CURRENT_PASSWORD,
    )
    assert people.authenticate(teacher.email, PASSWORD) is not None


@pytest.mark.parametrize("role", [Role.STUDENT, Role.TEACHER, Role.ADMIN])
def test_anyone_changes_their_own_password_with_the_current_one(app, ctx, role):
    from tests.factories import make_person

    person = make_person(app, role)

    with pytest.raises(Invalid) as refused:
        people.change_password(
            actor=actor(person.user_id), current_password="wrong-one", new_password=NEW
        )
    assert refused.value.message == WRONG_CURRENT_PASSWORD
    before = _stored(person).session_version

    user = people.change_password(
        actor=actor(person.user_id), current_password=PASSWORD, new_password=NEW
    )

    assert user.session_version == before + 1  # every other login ends
    assert people.authenticate(person.email, PASSWORD) is None
    assert people.authenticate(person.email, NEW) is not None
    assert tokens.user_for_token(person.token) is None


# --- tokens on deactivation ----------------------------------------------------------------


def test_deactivation_revokes_tokens_and_reactivation_does_not_revive_them(app, ctx):
    admin, teacher = make_admin(app), make_teacher(app)
    assert tokens.user_for_token(teacher.token) is not None

    people.set_active(actor=actor(admin.user_id), user_id=teacher.user_id, active=False)
    people.set_active(actor=actor(admin.user_id), user_id=teacher.user_id, active=True)

    assert tokens.user_for_token(teacher.token) is None
    revoked = db.session.scalars(
        select(ApiToken.revoked_at).where(ApiToken.user_id == teacher.user_id)
    ).all()
    assert revoked and all(at is not None for at in revoked)


def test_a_token_expires_after_api_token_days(app, ctx, monkeypatch):
    teacher = make_teacher(app)
    monkeypatch.setitem(app.config, "API_TOKEN_DAYS", -1)  # issued already past its expiry

    issued = tokens.issue_token(email=teacher.email, password=PASSWORD)

    assert tokens.user_for_token(issued.token) is None
    assert tokens.user_for_token(teacher.token) is not None  # 30 days: still good


# --- names and emails ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "Ada\r\nBcc: all@school.test", CONTROL_CHARACTERS),
        ("last_name", "Love\tlace", CONTROL_CHARACTERS),
        ("email", "ada@school.test\nx", CONTROL_CHARACTERS),
        ("first_name", "A" * 151, too_long(150)),
        ("email", "a" * 250 + "@x.io", too_long(254)),
    ],
)
def test_people_get_one_line_names_and_emails_of_bounded_length(app, ctx, field, value, message):
    admin = make_admin(app)
    fields = {"email": "ada@school.test", "first_name": "Ada", "last_name": "Lovelace"}

    with pytest.raises(Invalid) as refused:
        people.create_user(
            actor=actor(admin.user_id),
            password=PASSWORD,
            role=Role.TEACHER,
            **{**fields, field: value},
        )

    assert (refused.value.field, refused.value.message) == (field, message)


def test_class_names_are_one_line(app, ctx):
    from tests.factories import make_class

    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=0)

    with pytest.raises(Invalid) as refused:
        structure.update_class(
            actor=actor(admin.user_id),
            class_id=klass.id,
            subject_id=klass.subject_id,
            teacher_id=klass.teacher.profile_id,
            name="Maths\r\n7A",
        )

    assert (refused.value.field, refused.value.message) == ("name", CONTROL_CHARACTERS)


# --- hashes -------------------------------------------------------------------------------


def test_a_login_redoes_a_hash_made_with_older_parameters(app, ctx):
    admin = make_admin(app)
    old_hash = generate_password_hash("older-password", "pbkdf2:sha256:500")
    user = people.create_user(
        actor=actor(admin.user_id),
        email="old@school.test",
        password="older-password",
        password_hash=old_hash,
        first_name="Old",
        last_name="Hash",
        role=Role.TEACHER,
    )
    db.session.remove()

    signin.check_password(
        email="old@school.test", password="older-password", address=None, channel="API"
    )

    stored = db.session.get(User, user.id, populate_existing=True).password_hash
    assert stored.startswith(app.config["PASSWORD_HASH_METHOD"] + "$")
    assert people.authenticate("old@school.test", "older-password") is not None


# --- two-factor set-up ---------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "not base32!", "ABCDEFGH"])
def test_turning_two_factor_on_without_a_usable_secret_is_refused_not_a_crash(app, ctx, secret):
    # The secret comes from the browser session: gone after a new login, or made up.
    from attendance_app.services.school import two_factor

    teacher = make_teacher(app)

    with pytest.raises(Invalid) as err:
        two_factor.enable(actor=actor(teacher.user_id), secret=secret, code="123456")

    assert err.value.message == two_factor.SET_UP_AGAIN
    assert _stored(teacher).totp_secret is None


# --- the security log --------------------------------------------------------------------


def test_account_changes_are_logged_as_key_value_lines_without_secrets(app, ctx, caplog):
    import pyotp

    from attendance_app.services.school import two_factor

    caplog.set_level("INFO", logger="attendance.security")
    admin, teacher = make_admin(app), make_teacher(app)
    issued = tokens.issue_token(email=teacher.email, password=PASSWORD)
    people.set_password(
        actor=actor(admin.user_id), user_id=teacher.user_id, password=NEW, actor_password=PASSWORD
    )
    people.set_active(actor=actor(admin.user_id), user_id=teacher.user_id, active=False)
    people.set_active(actor=actor(admin.user_id), user_id=teacher.user_id, active=True)
    secret = two_factor.new_secret()
    enabled = two_factor.enable(
        actor=actor(admin.user_id), secret=secret, code=pyotp.TOTP(secret).now()
    )

    lines = [r.getMessage() for r in caplog.records if r.name == "attendance.security"]
    events = [line.split()[0] for line in lines]
    for event in (
        "event=token_issued",
        "event=password_reset",
        "event=token_revoked",
        "event=deactivated",
        "event=activated",
        "event=2fa_enabled",
    ):
        assert event in events, lines
    assert f"user={teacher.user_id}" in lines[events.index("event=password_reset")]
    secrets = [PASSWORD, NEW, issued.token, teacher.token, secret, *enabled.recovery_codes]
    assert not [line for line in lines if any(s in line for s in secrets)]


def test_a_crafted_email_cannot_forge_a_log_line(app, ctx, caplog):
    caplog.set_level("INFO", logger="attendance.security")

    with pytest.raises(Exception):  # noqa: B017 - Unauthenticated; the line is what matters
        signin.check_password(
            email='x@y.z event=login user=admin"',
            password="guess",
            address="198.51.100.4",
            channel="API",
        )

    (line,) = [r.getMessage() for r in caplog.records if r.name == "attendance.security"]
    assert line.startswith("event=login_failed email=")
    assert 'email="x@y.z event=login user=admin\\""' in line
