"""``@unit_of_work``: one transaction per call; a unique violation becomes the owner's 409."""

from __future__ import annotations

import pytest

from attendance_app.extensions import db
from attendance_app.models import Attendance, AttendanceStatus, Subject, utcnow
from attendance_app.services.errors import Conflict
from attendance_app.services.marking.attendance import ALREADY_MARKED
from attendance_app.services.transaction import CONFLICTING_DATA, unit_of_work
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
