"""``@unit_of_work``: one transaction per call; a unique violation becomes the owner's 409;
a read asked for in it is made just before its commit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import Attendance, AttendanceStatus, Subject, utcnow
from attendance_app.services.errors import Conflict, Invalid
from attendance_app.services.marking.attendance import ALREADY_MARKED
from attendance_app.services.transaction import CONFLICTING_DATA, read_at_commit, unit_of_work
from tests.factories import make_admin, make_class, make_session, mark


def test_a_second_record_that_slips_past_the_check_is_rule_2s_409(app, ctx):
    """Two marks racing past the service's own check: the database's unique constraint
    decides, and the loser hears rule 2's message, not a 500."""
    klass = make_class(app, admin=make_admin(app), students=1)
    session_id = make_session(app, klass)
    mark(app, klass, session_id, klass.students[0], "PRESENT")

    @unit_of_work
    def insert_twice() -> None:
        db.session.add(
            Attendance(
                session_id=session_id,
                student_id=klass.students[0].profile_id,
                status=AttendanceStatus.ABSENT,
                marked_at=utcnow(),
            )
        )
        db.session.flush()

    with pytest.raises(Conflict) as refused:
        insert_twice()

    assert refused.value.message == ALREADY_MARKED
    assert refused.value.field == "non_field_errors"
    assert db.session.query(Attendance).count() == 1


def test_another_unique_violation_is_a_plain_conflict(app, ctx):
    @unit_of_work
    def two_subjects_one_code() -> None:
        db.session.add_all([Subject(code="DUP1", name="One"), Subject(code="DUP1", name="Two")])
        db.session.flush()

    with pytest.raises(Conflict) as refused:
        two_subjects_one_code()

    assert refused.value.message == CONFLICTING_DATA
    assert db.session.query(Subject).filter_by(code="DUP1").count() == 0


def _subject_codes() -> list[str]:
    return sorted(db.session.scalars(select(Subject.code)))


def test_a_read_at_commit_sees_every_write_of_the_unit_and_answers_after_the_commit(app, ctx):
    @unit_of_work
    def add_two_subjects():
        db.session.add(Subject(code="RAC1", name="One"))
        answer = read_at_commit(_subject_codes)
        db.session.add(Subject(code="RAC2", name="Two"))  # after the read was asked for
        return answer

    answer = add_two_subjects()

    assert answer() == ["RAC1", "RAC2"]


def test_a_read_at_commit_has_no_answer_when_the_unit_rolls_back(app, ctx):
    @unit_of_work
    def add_then_fail():
        db.session.add(Subject(code="RAC3", name="Three"))
        answers.append(read_at_commit(_subject_codes))
        raise Invalid("no")

    answers: list = []
    with pytest.raises(Invalid):
        add_then_fail()

    assert answers[0]() is None
    assert _subject_codes() == []


def test_a_failing_read_at_commit_does_not_undo_the_change(app, ctx):
    def failing_read():
        raise ValueError("a bug in a read")

    @unit_of_work
    def add_one():
        db.session.add(Subject(code="RAC4", name="Four"))
        return read_at_commit(failing_read)

    answer = add_one()

    assert answer() is None
    assert _subject_codes() == ["RAC4"]
