"""The notes rules, decided once in the marking service for every edge: a note needs a mark,
2000 characters at most (refused, never cut), no NUL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import Attendance, AttendanceStatus, Channel
from attendance_app.services.errors import Invalid
from attendance_app.services.marking import attendance, bulk
from attendance_app.services.marking.attendance import MarkEntry
from tests.factories import actor, make_admin, make_class, make_session, mark, stored_attendance

TOO_LONG = "Ensure this field has no more than 2000 characters."
NUL = "Null characters are not allowed."


@pytest.fixture
def lesson(app):
    klass = make_class(app, admin=make_admin(app), students=2)
    return klass, make_session(app, klass)


def test_a_note_needs_a_mark(app, ctx, lesson):
    klass, session_id = lesson

    with pytest.raises(Invalid) as refused:
        attendance.set_note(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            student_id=klass.students[0].profile_id,
            notes="hello",
            channel=Channel.WEB,
        )

    assert (refused.value.field, refused.value.message) == (
        "notes",
        "Mark the student before adding a note.",
    )
    assert stored_attendance(app, session_id) == {}


@pytest.mark.parametrize(("text", "message"), [("a\x00b", NUL), ("x" * 2001, TOO_LONG)])
def test_set_note_refuses_what_cannot_be_stored_whole(app, ctx, lesson, text, message):
    klass, session_id = lesson
    mark(app, klass, session_id, klass.students[0], "PRESENT", notes="kept")

    with pytest.raises(Invalid) as refused:
        attendance.set_note(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            student_id=klass.students[0].profile_id,
            notes=text,
            channel=Channel.WEB,
        )

    assert (refused.value.field, refused.value.message) == ("notes", message)


def test_set_note_keeps_2000_characters_whole(app, ctx, lesson):
    klass, session_id = lesson
    mark(app, klass, session_id, klass.students[0], "PRESENT")

    result = attendance.set_note(
        actor=actor(klass.teacher.user_id),
        session_id=session_id,
        student_id=klass.students[0].profile_id,
        notes="n" * 2000,
        channel=Channel.WEB,
    )

    assert result.row.record.notes == "n" * 2000


def test_a_bulk_mark_names_each_overlong_note_by_index_and_writes_nothing(app, ctx, lesson):
    klass, session_id = lesson
    first, second = klass.students

    with pytest.raises(Invalid) as refused:
        bulk.mark_records(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            entries=[
                MarkEntry(first.profile_id, AttendanceStatus.PRESENT, "fine"),
                MarkEntry(second.profile_id, AttendanceStatus.LATE, "y" * 2001),
            ],
            channel=Channel.API,
        )

    assert refused.value.errors == {"1": {"notes": [TOO_LONG]}}
    assert stored_attendance(app, session_id) == {}


@pytest.mark.parametrize(
    "note",
    [
        "",
        '\tleading tab, "quotes", back\\slash, [brackets], {braces}',
        "Zoë 学生 🎒 \u2028 line\nbreak",
        "n" * 2000,
    ],
)
def test_a_bulk_mark_stores_each_note_and_late_time_exactly_as_given(app, lesson, note):
    klass, session_id = lesson
    first, second = klass.students
    with app.app_context():
        result = bulk.mark_records(
            actor=actor(klass.teacher.user_id),
            session_id=session_id,
            entries=[
                MarkEntry(first.profile_id, AttendanceStatus.LATE, note),
                MarkEntry(second.profile_id, AttendanceStatus.PRESENT, None),
            ],
            channel=Channel.API,
        )
        db.session.remove()

    with app.app_context():
        stored = {
            r.student_id: r
            for r in db.session.scalars(
                select(Attendance).where(Attendance.session_id == session_id)
            )
        }
        db.session.expunge_all()
        db.session.remove()
    late, present = stored[first.profile_id], stored[second.profile_id]
    assert [r.id for r in result.records] == [late.id, present.id]
    assert (late.status, late.notes, late.late_at) == (
        AttendanceStatus.LATE,
        note,
        late.marked_at,
    )
    assert (present.status, present.notes, present.late_at) == (AttendanceStatus.PRESENT, "", None)
