"""Each roster tile remembers the student: their last five sessions of this class and how
often they were absent this term, for the whole roster in one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attendance_app.extensions import db
from attendance_app.models import AttendanceStatus as S
from attendance_app.services.marking.roster import MiniHistory, mini_histories, tile
from attendance_app.services.marking.sessions import load_session
from tests.factories import end_session, make_admin, make_class, make_session, mark


def test_the_tile_shows_the_last_five_sessions_oldest_first_and_term_absences(app, ctx):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2)
    student, other = klass.students
    history = [S.PRESENT, S.PRESENT, S.ABSENT, S.LATE, S.ABSENT, S.ABSENT]
    start = datetime.now(UTC) - timedelta(days=10)
    for i, status in enumerate(history):
        at = start + timedelta(days=i)
        sid = make_session(app, klass, start_at=at)
        mark(app, klass, sid, student, status, at=at + timedelta(minutes=3))
        end_session(app, klass, sid, at=at + timedelta(minutes=50))
    today = make_session(app, klass)

    found = mini_histories(load_session(today))

    assert found[student.profile_id].recent == history[-5:]
    assert found[student.profile_id].absences_this_term == 3
    assert other.profile_id not in found  # never marked: nothing to remember
    db.session.remove()


def test_mini_histories_take_two_queries_for_any_class_size(app, ctx, count_queries):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=12)
    past = make_session(app, klass)
    for student in klass.students:
        mark(app, klass, past, student, S.ABSENT)
    today = make_session(app, klass)
    session = load_session(today)
    with count_queries() as counter:
        found = mini_histories(session)
    assert counter.count == 2  # the window over past sessions, and the class's alerts
    assert len(found) == 12


def test_a_student_over_the_alert_line_carries_the_reason_to_their_tile(app, ctx):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2)
    at_risk, fine = klass.students
    for day in range(3):
        sid = make_session(app, klass, start_at=datetime(2026, 9, 7 + day, 9, tzinfo=UTC))
        mark(app, klass, sid, at_risk, S.ABSENT)
        mark(app, klass, sid, fine, S.PRESENT)
    today = make_session(app, klass)

    found = mini_histories(load_session(today))

    assert found[at_risk.profile_id].alert == (
        "attendance rate 0.0% is below 70%; 3 absences in a row (at least 3)"
    )
    assert found[fine.profile_id].alert == ""
    db.session.remove()


def test_a_tile_read_gives_each_student_the_history_the_roster_gives(app, ctx):
    """The tap's answer reads the history in its own statement (``roster.tile``): the same
    five newest sessions, term absences and alert as the page's ``mini_histories``, with
    sessions before the term and after this one left out, and nothing for a new student."""
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=4)
    long, at_risk, once, new = klass.students
    now = datetime.now(UTC)
    old = make_session(app, klass, start_at=now - timedelta(days=200))  # before the term
    mark(app, klass, old, long, S.ABSENT)
    history = [S.ABSENT, S.PRESENT, S.LATE, S.ABSENT, S.PRESENT, S.ABSENT, S.LATE]
    for i, status in enumerate(history):
        sid = make_session(app, klass, start_at=now - timedelta(days=20 - i))
        mark(app, klass, sid, long, status)
        mark(app, klass, sid, at_risk, S.ABSENT)
        if i == 3:
            mark(app, klass, sid, once, S.LATE)
    today = make_session(app, klass, start_at=now - timedelta(hours=1))
    later = make_session(app, klass, start_at=now + timedelta(days=1))  # after this one
    mark(app, klass, later, long, S.ABSENT)

    session = load_session(today)
    pages = mini_histories(session)
    tiles = {s.profile_id: tile(session, s.profile_id) for s in klass.students}

    assert pages[long.profile_id].recent == history[-5:]
    assert pages[long.profile_id].absences_this_term == 3
    assert pages[at_risk.profile_id].alert != ""
    for student in (long, at_risk, once):
        assert tiles[student.profile_id].history == pages[student.profile_id]
    assert new.profile_id not in pages
    assert tiles[new.profile_id].history == MiniHistory([], 0, "")
    db.session.remove()
