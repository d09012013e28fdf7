"""What the back office pages read (services/school/listings.py): people by page, a person's
classes, classes with counts, students to enrol, one enrolment; admins only."""

from __future__ import annotations

import uuid

import pytest

from attendance_app.extensions import db
from attendance_app.models import Role
from attendance_app.services.errors import Forbidden, NotFound
from attendance_app.services.school import listings
from attendance_app.services.school.structure import NOT_ENROLLED_HERE
from tests.factories import (
    actor,
    deactivate_user,
    make_admin,
    make_class,
    make_session,
    make_student,
    make_students,
    make_teacher,
    mark,
    unenroll,
)


def test_people_come_in_pages_in_name_order_with_a_total(app, ctx):
    admin = make_admin(app)
    make_students(app, 7)

    pages = [listings.page_users(actor=actor(admin.user_id), page=n, per_page=3) for n in (1, 2, 3)]

    assert [p.total for p in pages] == [8, 8, 8]
    assert [len(p.items) for p in pages] == [3, 3, 2]
    assert [(p.has_prev, p.has_next, p.pages) for p in pages] == [
        (False, True, 3),
        (True, True, 3),
        (True, False, 3),
    ]
    names = [(u.last_name, u.first_name) for p in pages for u in p.items]
    assert names == sorted(names)
    assert len({u.id for p in pages for u in p.items}) == 8


def test_a_page_past_the_last_shows_the_last_and_filters_apply_to_the_count(app, ctx):
    admin = make_admin(app)
    make_students(app, 4)
    make_teacher(app, last_name="Zeta")

    late = listings.page_users(actor=actor(admin.user_id), role=Role.STUDENT, page=99, per_page=3)
    found = listings.page_users(actor=actor(admin.user_id), query="zeta")
    impossible = listings.page_users(actor=actor(admin.user_id), query="a\x00b")

    assert (late.page, late.total, len(late.items)) == (2, 4, 1)
    assert [u.last_name for u in found.items] == ["Zeta"] and found.total == 1
    assert (impossible.total, impossible.items, impossible.pages) == (0, [], 1)


def test_a_teachers_classes_and_a_students_enrolments(app, ctx):
    admin = make_admin(app)
    teacher = make_teacher(app)
    student = make_student(app)
    maths = make_class(app, admin=admin, teacher=teacher, students=[student], name="B Maths")
    art = make_class(app, admin=admin, teacher=teacher, students=0, name="A Art")
    make_class(app, admin=admin, students=1, name="C Other")
    a = actor(admin.user_id)

    taught = listings.person_classes(actor=a, user=actor(teacher.user_id))
    enrolled = listings.person_classes(actor=a, user=actor(student.user_id))

    assert [c.id for c in taught] == [art.id, maths.id]
    assert [c.id for c in enrolled] == [maths.id]
    assert listings.person_classes(actor=a, user=a) == []


def test_classes_are_listed_with_their_enrolled_counts(app, ctx):
    admin = make_admin(app)
    full = make_class(app, admin=admin, students=2, name="A full")
    empty = make_class(app, admin=admin, students=0, name="B empty")

    rows = listings.class_rows(actor=actor(admin.user_id))
    subjects = listings.subject_rows(actor=actor(admin.user_id))

    assert [(r.school_class.id, r.enrolled) for r in rows] == [(full.id, 2), (empty.id, 0)]
    assert {(s.subject.id, s.classes) for s in subjects} == {
        (full.subject_id, 1),
        (empty.subject_id, 1),
    }


def test_students_to_enrol_are_the_active_ones_outside_the_class_matching_the_search(app, ctx):
    admin = make_admin(app)
    inside = make_student(app, last_name="Inside")
    klass = make_class(app, admin=admin, students=[inside])
    outside = make_student(app, last_name="Outside")
    gone = make_student(app, last_name="Outgone")
    deactivate_user(app, gone)

    everyone = listings.enrolment_candidates(actor=actor(admin.user_id), class_id=klass.id)
    searched = listings.enrolment_candidates(
        actor=actor(admin.user_id), class_id=klass.id, query="OUT"
    )
    capped = listings.enrolment_candidates(
        actor=actor(admin.user_id), class_id=klass.id, query="", limit=0
    )

    assert [s.id for s in everyone.students] == [outside.profile_id]
    assert [s.id for s in searched.students] == [outside.profile_id]
    assert capped.students == [] and capped.more is True
    assert everyone.more is False


def test_one_enrolment_counts_the_students_records_and_unknown_ones_are_not_found(app, ctx):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2)
    student, other = klass.students
    session_id = make_session(app, klass)
    mark(app, klass, session_id, student, "ABSENT")
    unenroll(app, klass, other, admin=admin)

    found = listings.enrolment_for(
        actor=actor(admin.user_id), class_id=klass.id, student_id=student.profile_id
    )

    assert (found.student.id, found.school_class.id, found.records) == (
        student.profile_id,
        klass.id,
        1,
    )
    with pytest.raises(NotFound) as not_enrolled:
        listings.enrolment_for(
            actor=actor(admin.user_id), class_id=klass.id, student_id=other.profile_id
        )
    assert not_enrolled.value.message == NOT_ENROLLED_HERE
    with pytest.raises(NotFound):
        listings.enrolment_for(
            actor=actor(admin.user_id), class_id=uuid.uuid4(), student_id=student.profile_id
        )


@pytest.mark.parametrize("who", ["teacher", "student"])
def test_only_admins_read_the_back_office(app, ctx, who):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    someone = actor((klass.teacher if who == "teacher" else klass.students[0]).user_id)
    student_id = klass.students[0].profile_id

    reads = [
        lambda: listings.page_users(actor=someone),
        lambda: listings.person_classes(actor=someone, user=someone),
        lambda: listings.class_rows(actor=someone),
        lambda: listings.subject_rows(actor=someone),
        lambda: listings.class_choices(actor=someone),
        lambda: listings.get_class_for_admin(actor=someone, class_id=klass.id),
        lambda: listings.enrolment_candidates(actor=someone, class_id=klass.id),
        lambda: listings.enrolment_for(actor=someone, class_id=klass.id, student_id=student_id),
    ]
    for read in reads:
        with pytest.raises(Forbidden):
            read()
    db.session.remove()
