"""Editing the school's structure (services/school/structure.py): a subject's code and name,
a class's name, subject and teacher; admins only."""

from __future__ import annotations

import uuid

import pytest

from attendance_app.extensions import db
from attendance_app.models import SchoolClass, Subject
from attendance_app.services.errors import Forbidden, Invalid, NotFound
from attendance_app.services.school import structure
from attendance_app.services.school.structure import SUBJECT_CODE_TAKEN, invalid_pk
from tests.factories import (
    actor,
    make_admin,
    make_class,
    make_session,
    make_student,
    make_teacher,
    mark,
    stored_attendance,
)


def _subject(subject_id) -> Subject:
    db.session.remove()
    return db.session.get(Subject, subject_id)


def _class(class_id) -> SchoolClass:
    db.session.remove()
    return db.session.get(SchoolClass, class_id)


def test_an_admin_changes_a_subjects_code_and_name(app, ctx):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=0)

    structure.update_subject(
        actor=actor(admin.user_id), subject_id=klass.subject_id, code=" MATH7 ", name=" Maths "
    )

    stored = _subject(klass.subject_id)
    assert (stored.code, stored.name) == ("MATH7", "Maths")


def test_a_subject_keeps_its_own_code_in_another_case(app, ctx):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=0)

    structure.update_subject(
        actor=actor(admin.user_id),
        subject_id=klass.subject_id,
        code=klass.subject_code.lower(),
        name="Renamed",
    )

    assert _subject(klass.subject_id).code == klass.subject_code.lower()


def test_a_code_of_another_subject_in_any_case_is_refused(app, ctx):
    admin = make_admin(app)
    first = make_class(app, admin=admin, students=0)
    second = make_class(app, admin=admin, students=0)

    with pytest.raises(Invalid) as refused:
        structure.update_subject(
            actor=actor(admin.user_id),
            subject_id=second.subject_id,
            code=first.subject_code.lower(),
            name="Clash",
        )

    assert (refused.value.field, refused.value.message) == ("code", SUBJECT_CODE_TAKEN)
    assert _subject(second.subject_id).code == second.subject_code


def test_an_unknown_subject_is_not_found(app, ctx):
    admin = make_admin(app)
    with pytest.raises(NotFound):
        structure.update_subject(
            actor=actor(admin.user_id), subject_id=uuid.uuid4(), code="X", name="Y"
        )
    with pytest.raises(NotFound):
        structure.get_subject_for(actor=actor(admin.user_id), subject_id=uuid.uuid4())


def test_a_class_moves_to_another_subject_and_teacher_with_its_records(app, ctx):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    other = make_class(app, admin=admin, students=0)
    new_teacher = make_teacher(app)
    session_id = make_session(app, klass)
    mark(app, klass, session_id, klass.students[0], "LATE")

    moved = structure.update_class(
        actor=actor(admin.user_id),
        class_id=klass.id,
        subject_id=other.subject_id,
        teacher_id=new_teacher.profile_id,
        name=" 8B Maths ",
    )

    assert moved.subject.id == other.subject_id and moved.teacher.id == new_teacher.profile_id
    stored = _class(klass.id)
    assert (stored.name, stored.subject_id, stored.teacher_id) == (
        "8B Maths",
        other.subject_id,
        new_teacher.profile_id,
    )
    assert stored_attendance(app, session_id) == {klass.students[0].profile_id: "LATE"}
    assert structure.enrolled_count(klass.id) == 1


def test_a_class_refuses_an_unknown_subject_or_teacher(app, ctx):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=0)
    student = make_student(app)
    nowhere = uuid.uuid4()

    with pytest.raises(Invalid) as no_subject:
        structure.update_class(
            actor=actor(admin.user_id),
            class_id=klass.id,
            subject_id=nowhere,
            teacher_id=klass.teacher.profile_id,
            name="X",
        )
    with pytest.raises(Invalid) as not_a_teacher:
        structure.update_class(
            actor=actor(admin.user_id),
            class_id=klass.id,
            subject_id=klass.subject_id,
            teacher_id=student.profile_id,
            name="X",
        )

    assert (no_subject.value.field, no_subject.value.message) == ("subject_id", invalid_pk(nowhere))
    assert not_a_teacher.value.field == "teacher_id"
    assert _class(klass.id).name == klass.name
    with pytest.raises(NotFound):
        structure.update_class(
            actor=actor(admin.user_id),
            class_id=uuid.uuid4(),
            subject_id=klass.subject_id,
            teacher_id=klass.teacher.profile_id,
            name="X",
        )


@pytest.mark.parametrize("who", ["teacher", "student"])
def test_only_admins_edit_subjects_and_classes(app, ctx, who):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    # The class's own teacher is refused too: the structure is the admins'.
    someone = klass.teacher if who == "teacher" else klass.students[0]

    with pytest.raises(Forbidden):
        structure.update_subject(
            actor=actor(someone.user_id), subject_id=klass.subject_id, code="HACK", name="H"
        )
    with pytest.raises(Forbidden):
        structure.update_class(
            actor=actor(someone.user_id),
            class_id=klass.id,
            subject_id=klass.subject_id,
            teacher_id=klass.teacher.profile_id,
            name="Hacked",
        )
    with pytest.raises(Forbidden):
        structure.get_subject_for(actor=actor(someone.user_id), subject_id=klass.subject_id)

    assert _class(klass.id).name == klass.name
    assert _subject(klass.subject_id).code == klass.subject_code
