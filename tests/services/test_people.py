"""Editing people (services/school/people.py): names, email, student number and a new password, by
admins only; the same uniqueness messages as creation."""

from __future__ import annotations

import uuid

import pytest

from attendance_app.extensions import db
from attendance_app.models import Role, User
from attendance_app.services.errors import Forbidden, Invalid, NotFound
from attendance_app.services.school import people
from attendance_app.services.school.people import (
    EMAIL_TAKEN,
    PASSWORD_TOO_SHORT,
    STUDENT_NUMBER_REQUIRED,
    STUDENT_NUMBER_TAKEN,
)
from tests.factories import PASSWORD, actor, make_admin, make_student, make_teacher


def _update(admin, person, **changes) -> User:
    fields = {
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "student_number": person.number,
        **changes,
    }
    return people.update_user(actor=actor(admin.user_id), user_id=person.user_id, **fields)


def _stored(person) -> User:
    db.session.remove()
    return db.session.get(User, person.user_id)


def test_an_admin_changes_names_email_and_student_number(app, ctx):
    admin, student = make_admin(app), make_student(app)

    _update(
        admin,
        student,
        email="  New.Address@School.TEST ",
        first_name=" Ada ",
        last_name="Lovelace ",
        student_number=" S-9 ",
    )

    stored = _stored(student)
    assert (stored.email, stored.first_name, stored.last_name) == (
        "new.address@school.test",
        "Ada",
        "Lovelace",
    )
    assert stored.student.student_number == "S-9"
    assert stored.role == Role.STUDENT
    assert people.authenticate("new.address@school.test", PASSWORD) is not None


def test_keeping_ones_own_email_and_number_is_not_a_duplicate(app, ctx):
    admin, student = make_admin(app), make_student(app)

    _update(admin, student, email=student.email.upper(), first_name="Renamed")

    assert _stored(student).first_name == "Renamed"


def test_an_email_of_someone_else_in_any_case_is_refused_with_the_creation_message(app, ctx):
    admin, teacher, other = make_admin(app), make_teacher(app), make_teacher(app)

    with pytest.raises(Invalid) as refused:
        _update(admin, teacher, email=other.email.upper())

    assert (refused.value.field, refused.value.message) == ("email", EMAIL_TAKEN)
    assert _stored(teacher).email == teacher.email


def test_a_student_number_of_another_student_is_refused_with_the_creation_message(app, ctx):
    admin, student, other = make_admin(app), make_student(app), make_student(app)

    with pytest.raises(Invalid) as refused:
        _update(admin, student, student_number=other.number, first_name="Changed")

    assert (refused.value.field, refused.value.message) == ("student_id", STUDENT_NUMBER_TAKEN)
    stored = _stored(student)
    assert (stored.first_name, stored.student.student_number) == (
        student.first_name,
        student.number,
    )


def test_a_student_keeps_a_student_number(app, ctx):
    admin, student = make_admin(app), make_student(app)

    with pytest.raises(Invalid) as refused:
        _update(admin, student, student_number="   ")

    assert (refused.value.field, refused.value.message) == ("student_id", STUDENT_NUMBER_REQUIRED)


def test_a_student_number_given_for_a_teacher_is_ignored(app, ctx):
    admin, teacher = make_admin(app), make_teacher(app)

    _update(admin, teacher, student_number="S-1", last_name="Kept")

    stored = _stored(teacher)
    assert stored.last_name == "Kept" and stored.student is None and stored.teacher is not None


@pytest.mark.parametrize("who", ["teacher", "student"])
def test_only_admins_edit_people(app, ctx, who):
    target = make_student(app)
    someone = make_teacher(app) if who == "teacher" else make_student(app)

    with pytest.raises(Forbidden):
        _update(someone, target, first_name="Hacked")
    with pytest.raises(Forbidden):
        people.set_password(
            actor=actor(someone.user_id),
            user_id=target.user_id,
            password="long-enough-1",
            actor_password=PASSWORD,
        )

    assert _stored(target).first_name == target.first_name


def test_editing_an_unknown_person_is_not_found(app, ctx):
    admin = make_admin(app)
    nobody = uuid.uuid4()

    with pytest.raises(NotFound):
        people.update_user(
            actor=actor(admin.user_id),
            user_id=nobody,
            email="x@school.test",
            first_name="X",
            last_name="Y",
        )
    with pytest.raises(NotFound):
        people.set_password(
            actor=actor(admin.user_id),
            user_id=nobody,
            password="x" * 9,
            actor_password=PASSWORD,
        )


def test_a_new_password_replaces_the_old_and_ends_every_login(app, ctx):
    admin, teacher = make_admin(app), make_teacher(app)
    before = _stored(teacher).session_version

    user = people.set_password(
        actor=actor(admin.user_id),
        user_id=teacher.user_id,
        password="brand-new-pass",
        actor_password=PASSWORD,
    )

    assert user.session_version == before + 1
    assert people.authenticate(teacher.email, PASSWORD) is None
    assert people.authenticate(teacher.email, "brand-new-pass") is not None
    assert _stored(teacher).session_version == before + 1


def test_a_new_password_revokes_the_api_tokens_the_old_one_bought(app, api_as):
    admin, teacher = make_admin(app), make_teacher(app)
    assert api_as(teacher).get("/api/classes/").status_code == 200

    with app.app_context():
        people.set_password(
            actor=actor(admin.user_id),
            user_id=teacher.user_id,
            password="brand-new-pass",
            actor_password=PASSWORD,
        )
        db.session.remove()

    assert api_as(teacher).get("/api/classes/").status_code == 401
    assert api_as(admin).get("/api/classes/").status_code == 200  # nobody else's


def test_a_new_password_shorter_than_creation_allows_is_refused(app, ctx):
    admin, teacher = make_admin(app), make_teacher(app)

    with pytest.raises(Invalid) as refused:
        people.set_password(
            actor=actor(admin.user_id),
            user_id=teacher.user_id,
            password="short",
            actor_password=PASSWORD,
        )

    assert (refused.value.field, refused.value.message) == ("password", PASSWORD_TOO_SHORT)
    assert people.authenticate(teacher.email, PASSWORD) is not None
