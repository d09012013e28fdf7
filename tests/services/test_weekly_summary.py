"""Each teacher's weekly summary: their classes' week in a few lines, sent once per week."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import Notification, NotificationKind
from attendance_app.services.notifying.weekly import send_weekly_summaries, week_bounds
from tests.factories import make_admin, make_class, make_session, run_sessions

MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
SUNDAY = date(2026, 11, 22)


def summaries(app, person) -> list[Notification]:
    with app.app_context():
        rows = db.session.scalars(
            select(Notification).where(
                Notification.recipient_id == person.user_id,
                Notification.kind == NotificationKind.WEEKLY,
            )
        ).all()
        db.session.remove()
    return list(rows)


def send(app, week_ending: date = SUNDAY) -> int:
    with app.app_context():
        sent = send_weekly_summaries(week_ending=week_ending)
        db.session.remove()
    return sent


def test_the_week_is_the_seven_utc_days_ending_on_the_given_day():
    assert week_bounds(SUNDAY) == (
        datetime(2026, 11, 16, tzinfo=UTC),
        datetime(2026, 11, 23, tzinfo=UTC),
    )


def test_a_teacher_gets_their_classes_sessions_rates_and_students_at_risk(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2, name="Maths 9A")
    ana, ben = klass.students
    # Last week: Ana misses three in a row (over the alert line); Ben always comes.
    before = [{ana: "PRESENT", ben: "PRESENT"}] * 7
    run_sessions(app, klass, before, first_start=MONDAY - timedelta(days=10), end=True)
    week = [{ana: "ABSENT", ben: "PRESENT"}] * 3 + [{ben: "PRESENT"}]  # the last: Ana unmarked
    run_sessions(app, klass, week, first_start=MONDAY, end=True)
    make_session(app, klass, start=False)  # scheduled, not held: not counted

    assert send(app) == 1

    [summary] = summaries(app, klass.teacher)
    assert summary.title == "Your week, 16 Nov – 22 Nov 2026: 4 sessions, 1 student at risk"
    lines = summary.body.splitlines()
    # Rates 50, 50, 50 and 50 (Ben of two, Ana unmarked in the last): mean 50.0.
    assert lines[0] == "Maths 9A: 4 sessions, 50.0% attendance, 1 ended with students unmarked."
    assert lines[1].startswith(f"  - {ana.full_name}: ")
    assert "3 absences in a row" in lines[1]


def test_a_class_without_sessions_says_so(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1, name="Art 7C")

    send(app)

    [summary] = summaries(app, klass.teacher)
    assert summary.body == "Art 7C: no sessions this week."


def test_running_it_again_for_the_same_week_sends_nothing_new(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)

    assert send(app) == 1
    assert send(app) == 0
    assert len(summaries(app, klass.teacher)) == 1
    assert send(app, SUNDAY + timedelta(days=7)) == 1  # next week's is new


def test_admins_and_students_get_no_weekly_summary(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)

    send(app)

    assert summaries(app, admin) == []
    assert summaries(app, klass.students[0]) == []


def test_the_schedule_is_a_weekday_and_a_utc_time_or_off():
    from datetime import time

    from attendance_app.services.notifying.weekly import parse_schedule

    assert parse_schedule("monday 06:00") == (0, time(6, 0))
    assert parse_schedule(" Sunday 18:30 ") == (6, time(18, 30))
    assert parse_schedule("off") is None
    for bad in ("", "monday", "someday 06:00", "monday 25:00", "monday 06:00 extra"):
        with pytest.raises(ValueError, match="WEEKLY_SUMMARY must be like 'monday 06:00'"):
            parse_schedule(bad)


@pytest.mark.parametrize(
    ("now", "week_ending"),
    [
        # Monday 06:00 is the moment: just before it, the week before last is the latest due.
        (datetime(2026, 11, 23, 5, 59, tzinfo=UTC), date(2026, 11, 15)),
        (datetime(2026, 11, 23, 6, 0, tzinfo=UTC), date(2026, 11, 22)),
        (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), date(2026, 11, 22)),
        (datetime(2026, 11, 29, 23, 59, tzinfo=UTC), date(2026, 11, 22)),
        (datetime(2026, 11, 30, 6, 0, tzinfo=UTC), date(2026, 11, 29)),
    ],
)
def test_the_week_due_is_the_one_ending_the_day_before_the_latest_scheduled_moment(
    now, week_ending
):
    from datetime import time

    from attendance_app.services.notifying.weekly import last_due_week

    assert last_due_week(now, (0, time(6, 0))) == week_ending


def test_the_serving_process_sends_the_week_last_due_and_nothing_the_second_time(app):
    from datetime import time

    from attendance_app.services.notifying.weekly import send_due_summaries

    klass = make_class(app, admin=make_admin(app), students=1)
    run_sessions(app, klass, [{klass.students[0]: "PRESENT"}], first_start=MONDAY, end=True)
    tuesday_after = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

    with app.app_context():
        first = send_due_summaries((0, time(6, 0)), now=tuesday_after)
        again = send_due_summaries((0, time(6, 0)), now=tuesday_after)
        db.session.remove()

    assert (first, again) == (1, 0)
    [summary] = summaries(app, klass.teacher)
    assert summary.title.startswith("Your week, 16 Nov – 22 Nov 2026")
