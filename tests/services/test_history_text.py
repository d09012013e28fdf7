"""The API's history reads its records as the body's text (``student_history_text``), the
history page as Python values (``student_history``): the same records, statistics and
cursors, page after page, whatever the start time looks like."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from attendance_app.extensions import db
from attendance_app.models import AbsenceReason, Channel, ClassSession
from attendance_app.models.base import iso
from attendance_app.services.marking import excuses
from attendance_app.services.reporting.history import (
    HistoryFilters,
    HistoryText,
    student_history,
    student_history_text,
)
from tests.factories import actor, make_admin, make_class, make_session, make_teacher, mark


@pytest.fixture
def varied_history(app):
    """One student's records in two teachers' classes: starts with and without microseconds,
    two sessions starting at the same instant, an excused absence and a session whose start
    was cleared. Returns (admin, the first teacher, the student)."""
    admin = make_admin(app)
    tina, hal = make_teacher(app), make_teacher(app)
    math = make_class(app, admin=admin, teacher=tina, students=2)
    ann = math.students[0]
    hist = make_class(app, admin=admin, teacher=hal, students=[ann])
    start = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    starts = [start, start + timedelta(hours=2, microseconds=250), start + timedelta(days=1)]
    starts.append(starts[-1])  # the same instant again
    for i, at in enumerate(starts):
        klass = (math, hist)[i % 2]
        session_id = make_session(app, klass, start_at=at)
        record = mark(app, klass, session_id, ann, ("ABSENT", "LATE", "PRESENT")[i % 3], at=at)
        if i == 0:
            with app.app_context():
                excuses.excuse_absence(
                    actor=actor(admin.user_id),
                    attendance_id=record,
                    reason=AbsenceReason.ILLNESS,
                    channel=Channel.API,
                )
                db.session.remove()
    undated = make_session(app, math, start_at=start + timedelta(days=3))
    mark(app, math, undated, ann, "ABSENT")
    with app.app_context():
        db.session.execute(
            update(ClassSession).where(ClassSession.id == undated).values(start_time=None)
        )
        db.session.commit()
        db.session.remove()
    return admin, tina, ann


def as_text(record) -> tuple:
    """A page's record (Python values) as the API's text row."""
    return (
        record.id,
        record.class_name,
        record.subject_code,
        iso(record.start_time),
        record.status.value,
        iso(record.marked_at),
        record.absence_reason.value if record.absence_reason else None,
    )


@pytest.mark.parametrize("limit", [1, 2, 3, 1000])
@pytest.mark.parametrize("reader", ["admin", "teacher"])
def test_the_api_s_text_history_is_the_page_s_history_page_after_page(
    app, ctx, varied_history, limit, reader
):
    admin, tina, ann = varied_history
    who = actor((admin if reader == "admin" else tina).user_id)
    cursor, pages = None, 0
    while True:
        typed = student_history(actor=who, student_id=ann.profile_id, limit=limit, cursor=cursor)
        text = student_history_text(
            actor=who, student_id=ann.profile_id, limit=limit, cursor=cursor
        )
        assert [tuple(row) for row in text.records] == [as_text(r) for r in typed.records]
        assert text.statistics == typed.statistics
        assert text.student == typed.student
        assert text.next_cursor == typed.next_cursor
        pages += 1
        cursor = text.next_cursor
        if cursor is None:
            break
    records = 5 if reader == "admin" else 3
    assert pages == -(-records // limit)


def test_a_text_row_s_cursor_is_the_typed_row_s(app, ctx, varied_history):
    admin, _, ann = varied_history
    who = actor(admin.user_id)
    typed = student_history(actor=who, student_id=ann.profile_id).records
    text = student_history_text(actor=who, student_id=ann.profile_id).records
    assert [HistoryText._make(row).cursor() for row in text] == [row.cursor() for row in typed]
    assert typed[-1].start_time is None  # the undated one is among them, last


def test_filters_give_the_same_records_as_text(app, ctx, varied_history):
    admin, tina, ann = varied_history
    for who in (actor(admin.user_id), actor(tina.user_id)):
        filters = HistoryFilters(date_from=datetime(2026, 1, 11).date())
        typed = student_history(actor=who, student_id=ann.profile_id, filters=filters)
        text = student_history_text(actor=who, student_id=ann.profile_id, filters=filters)
        assert [tuple(row) for row in text.records] == [as_text(r) for r in typed.records]
        assert text.statistics == typed.statistics
