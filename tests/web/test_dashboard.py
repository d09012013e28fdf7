"""The admin dashboard (/ for admins): every figure against its definition, on data built
through the services, on a fixed past period (two ISO weeks of March 2025) plus sessions
running now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from attendance_app.extensions import db
from attendance_app.models import AttendanceStatus, utcnow
from attendance_app.services.errors import Forbidden
from attendance_app.services.reporting.dashboard import school_dashboard
from attendance_app.services.reporting.history import PERIOD_REVERSED
from tests.factories import (
    ClassInfo,
    Person,
    actor,
    make_admin,
    make_class,
    make_session,
    make_student,
    make_students,
    make_teacher,
    mark,
    run_sessions,
)
from tests.web.conftest import parse

P, A, L = AttendanceStatus.PRESENT, AttendanceStatus.ABSENT, AttendanceStatus.LATE
PERIOD = {"date_from": date(2025, 3, 3), "date_to": date(2025, 3, 16)}  # ISO weeks 10 and 11


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class World:
    admin: Person
    alpha: Person  # teacher, last name Alpha
    beta: Person  # teacher, last name Beta
    maths: ClassInfo  # Alpha's: s1 Adams, s2 Baker, s3 Carter, s4 Dunn
    physics: ClassInfo  # Beta's: t1 Evans, t2 Fox
    empty: ClassInfo  # Beta's, no session in the period
    s1_before: object = None
    ended: dict = None
    active: dict = None


def one(app, klass, marks, start, *, end=True):
    """One session of ``klass`` started at ``start``, marked a minute later, ended an hour later."""
    return run_sessions(app, klass, [marks], first_start=start, end=end)[0]


@pytest.fixture
def world(app) -> World:
    admin = make_admin(app)
    alpha = make_teacher(app, first_name="Ann", last_name="Alpha")
    beta = make_teacher(app, first_name="Bob", last_name="Beta")
    s = [
        make_student(app, first_name="Sam", last_name=name, with_token=False)
        for name in ("Adams", "Baker", "Carter", "Dunn")
    ]
    t = [
        make_student(app, first_name="Tia", last_name=name, with_token=False)
        for name in ("Evans", "Fox")
    ]
    maths = make_class(app, admin=admin, teacher=alpha, students=s, subject_code="MATH")
    physics = make_class(app, admin=admin, teacher=beta, students=t, subject_code="PHYS")
    empty = make_class(app, admin=admin, teacher=beta, students=2, subject_code="ART")
    s1, s2, s3, s4 = s
    t1, t2 = t
    w = World(admin, alpha, beta, maths, physics, empty)
    # Outside the period, just before and just after it: all absent (they would change
    # every rate, and put Adams at risk, if they counted).
    one(app, maths, {x: A for x in s}, datetime(2025, 3, 2, 23, 58, tzinfo=UTC))
    one(app, maths, {x: A for x in s}, datetime(2025, 3, 17, 0, 0, tzinfo=UTC))
    w.ended = {
        # week 10: 3 records, 2 attended; Dunn unmarked
        "m1": one(app, maths, {s1: P, s2: L, s3: A}, at(3)),
        # week 10: 2 records, 2 attended
        "p1": one(app, physics, {t1: P, t2: P}, at(5, 10)),
        # week 11: 4 records, 2 attended; fully marked
        "m2": one(app, maths, {s1: P, s2: P, s3: A, s4: A}, at(10)),
        # week 11: 1 record, 0 attended; Fox unmarked
        "p2": one(app, physics, {t1: A}, at(12)),
        # week 11, the period's last hour: 1 record, 1 attended; 3 unmarked
        "m3": one(app, maths, {s1: P}, datetime(2025, 3, 16, 23, 0, tzinfo=UTC)),
    }
    now = utcnow()
    w.active = {
        # running 30 minutes with one marked: not flagged
        "maths": make_session(app, maths, start_at=now - timedelta(minutes=30)),
        # running 14 minutes, nobody marked: not flagged yet
        "physics": make_session(app, physics, start_at=now - timedelta(minutes=14)),
        # running 20 minutes, nobody marked: flagged
        "empty": make_session(app, empty, start_at=now - timedelta(minutes=20)),
    }
    mark(app, maths, w.active["maths"], s1, P)
    return w


def load(app, person, **period):
    with app.app_context():
        result = school_dashboard(actor=actor(person.user_id), **(period or PERIOD))
        # Read what lazy attributes the assertions need while the session is open.
        for a in result.active:
            _ = a.teacher_name
        for r in result.at_risk:
            _ = r.student.user.last_name
        db.session.remove()
    return result


def test_roll_board_lists_active_sessions_with_progress_and_the_15_minute_flag(app, world):
    d = load(app, world.admin)

    by_id = {a.session.id: a for a in d.active}
    assert set(by_id) == set(world.active.values())
    maths, physics, empty = (by_id[world.active[k]] for k in ("maths", "physics", "empty"))
    assert (maths.statistics.marked, maths.statistics.total_enrolled) == (1, 4)
    assert maths.statistics.attendance_rate == 25.0
    assert (physics.statistics.marked, physics.statistics.total_enrolled) == (0, 2)
    assert (empty.statistics.marked, empty.statistics.total_enrolled) == (0, 2)
    assert [maths.minutes, physics.minutes, empty.minutes] == [30, 14, 20]
    assert [maths.quiet, physics.quiet, empty.quiet] == [False, False, True]
    # Longest running first.
    assert [a.session.id for a in d.active] == [
        world.active["maths"],
        world.active["empty"],
        world.active["physics"],
    ]
    assert maths.teacher_name == "Ann Alpha"


def test_not_taken_lists_ended_sessions_with_unmarked_students_by_teacher(app, world):
    d = load(app, world.admin)

    assert [g.teacher_name for g in d.not_taken] == ["Ann Alpha", "Bob Beta"]
    alpha, beta = d.not_taken
    # Newest first; m2 was fully marked; the sessions outside the period are left out
    # (though all their students were marked, they would not count anyway).
    assert [(n.session_id, n.unmarked, n.enrolled) for n in alpha.sessions] == [
        (world.ended["m3"], 3, 4),
        (world.ended["m1"], 1, 4),
    ]
    assert alpha.unmarked == 4
    assert [(n.session_id, n.unmarked) for n in beta.sessions] == [(world.ended["p2"], 1)]


def test_rates_per_subject_class_and_teacher_over_the_period(app, world):
    d = load(app, world.admin)

    def table(rows):
        return {r.label: (r.records, r.attended, r.attendance_rate) for r in rows}

    # MATH: m1 3 records (2 attended) + m2 4 (2) + m3 1 (1) = 8 records, 5 attended.
    # PHYS: p1 2 (2) + p2 1 (0) = 3 records, 2 attended. ART: nothing in the period.
    assert table(d.subjects) == {
        "MATH": (8, 5, 62.5),
        "PHYS": (3, 2, 66.67),
        "ART": (0, 0, None),
    }
    assert table(d.classes) == {
        world.maths.name: (8, 5, 62.5),
        world.physics.name: (3, 2, 66.67),
        world.empty.name: (0, 0, None),
    }
    assert table(d.teachers) == {"Ann Alpha": (8, 5, 62.5), "Bob Beta": (3, 2, 66.67)}


def test_period_boundaries_are_whole_utc_days_of_the_session_start(app, world):
    # Only the session at 2025-03-02 23:58 (all 4 absent) and m1 (3 records, 2 attended).
    d = load(app, world.admin, date_from=date(2025, 3, 2), date_to=date(2025, 3, 3))
    assert {r.label: (r.records, r.attended) for r in d.subjects}["MATH"] == (7, 2)
    # Only the session at 2025-03-17 00:00 (4 absent).
    d = load(app, world.admin, date_from=date(2025, 3, 17), date_to=date(2025, 3, 17))
    assert {r.label: (r.records, r.attended) for r in d.subjects}["MATH"] == (4, 0)
    assert d.not_taken == []


def test_weekly_trend_buckets_records_by_iso_week(app, world):
    d = load(app, world.admin)

    # W10 (3–9 March): m1 3 records (2) + p1 2 (2) = 5, 4 → 80.0
    # W11 (10–16 March): m2 4 (2) + p2 1 (0) + m3 1 (1) = 6, 3 → 50.0
    assert [(w.week, w.monday, w.records, w.attended, w.attendance_rate) for w in d.weeks] == [
        ("2025-W10", date(2025, 3, 3), 5, 4, 80.0),
        ("2025-W11", date(2025, 3, 10), 6, 3, 50.0),
    ]
    assert d.chart() == {
        "labels": ["2025-W10", "2025-W11"],
        "rates": [80.0, 50.0],
        "records": [5, 6],
    }


def test_students_at_risk_high_first_with_reasons(app, world):
    d = load(app, world.admin)

    _s1, s2, s3, s4 = world.maths.students
    t1, _t2 = world.physics.students
    # Carter: A, A → 0%; Dunn: A → 0% (ties by last name); Evans: P, A → 50%;
    # Baker: L, P → 100% but late rate 50% → medium. Adams (3 × P in the period; absent
    # in both sessions outside it) and Fox (P) are low.
    assert [(r.student.id, r.figures.risk_level) for r in d.at_risk] == [
        (s3.profile_id, "high"),
        (s4.profile_id, "high"),
        (t1.profile_id, "high"),
        (s2.profile_id, "medium"),
    ]
    reasons = [r.figures.risk_reason for r in d.at_risk]
    assert reasons == [
        "attendance rate 0.0% is below 70%",
        "attendance rate 0.0% is below 70%",
        "attendance rate 50.0% is below 70%",
        "late rate 50.0% is above 20%",
    ]


def test_dashboard_page_shows_the_figures_with_links(app, world, browser_as):
    response = browser_as(world.admin).get(
        "/", query_string={"date_from": "2025-03-03", "date_to": "2025-03-16"}
    )

    assert response.status_code == 200
    doc = parse(response.text)
    board = doc.one("section", {"id": "roll-board"})
    rows = {tr.get("data-session-id"): tr for tr in board.find_all("tr", {"data-session-id": True})}
    assert set(rows) == {str(s) for s in world.active.values()}
    maths = rows[str(world.active["maths"])]
    progress = maths.one("progress")
    assert (progress.get("value"), progress.get("max")) == ("1", "4")
    assert maths.one(attrs={"data-board": "marked"}).text == "1"
    assert maths.find("a", {"href": f"/sessions/{world.active['maths']}"}) is not None
    assert maths.one(attrs={"data-board": "flag"}).has("hidden")
    empty = rows[str(world.active["empty"])]
    flag = empty.one(attrs={"data-board": "flag"})
    assert not flag.has("hidden")
    assert flag.text == "started 20 min ago, 0 marked"

    not_taken = doc.one("section", {"id": "not-taken"})
    item = not_taken.one("li", {"data-session-id": str(world.ended["m3"])})
    assert "ended with 3 unmarked" in item.text
    assert item.find("a", {"href": f"/sessions/{world.ended['m3']}"}) is not None

    subjects = doc.one("table", {"data-rates": "subject"})
    rates = {tr.find("td").text.split()[0]: tr.one(attrs={"data-cell": "rate"}).text
             for tr in subjects.find("tbody").find_all("tr")}  # fmt: skip
    assert rates == {"ART": "—", "MATH": "62.5%", "PHYS": "66.67%"}
    classes = doc.one("table", {"data-rates": "class"})
    assert classes.find("a", {"href": f"/classes/{world.maths.id}"}) is not None

    canvas = doc.one("canvas", {"id": "trend-chart"})
    assert '"2025-W10"' in canvas.get("data-chart")

    risk = doc.one("section", {"id": "at-risk"})
    items = risk.find_all("li")
    carter = world.maths.students[2]
    assert items[0].get("data-student-id") == str(carter.profile_id)
    assert items[0].find("a", {"href": f"/students/{carter.profile_id}/history"}) is not None
    assert "attendance rate 0.0% is below 70%" in items[0].text


def test_board_partial_is_the_roll_board_alone(app, world, browser_as):
    response = browser_as(world.admin).get("/dashboard/board", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "<html" not in response.text
    doc = parse(response.text)
    assert (
        len(doc.one("section", {"id": "roll-board"}).find_all("tr", {"data-session-id": True})) == 3
    )


# --- who, and bad input ----------------------------------------------------------------------


def test_only_admins_get_the_dashboard(app, world, browser_as):
    teacher_home = browser_as(world.alpha).get("/")
    assert teacher_home.status_code == 200
    assert parse(teacher_home.text).find("section", {"id": "roll-board"}) is None
    assert "<h1>Today</h1>" in teacher_home.text

    student = world.maths.students[0]
    response = browser_as(student).get("/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/students/{student.profile_id}/history"

    assert browser_as(world.alpha).get("/dashboard/board").status_code == 403
    with app.app_context(), pytest.raises(Forbidden):
        school_dashboard(actor=actor(world.alpha.user_id), **PERIOD)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_from": "2025-13-01"}, "Date from: use YYYY-MM-DD."),
        ({"date_to": "soon"}, "Date to: use YYYY-MM-DD."),
        ({"date_from": "2025-03-16", "date_to": "2025-03-03"}, PERIOD_REVERSED),
    ],
)
def test_a_bad_period_says_so_and_shows_the_last_30_days(app, world, browser_as, query, message):
    response = browser_as(world.admin).get("/", query_string=query)

    assert response.status_code == 200
    assert message in response.text
    today = utcnow().date()
    doc = parse(response.text)
    assert doc.one("input", {"name": "date_to"}).get("value") == today.isoformat()
    if "date_to" in query and "date_from" not in query:
        return
    assert (
        doc.one("input", {"name": "date_from"}).get("value")
        == (today - timedelta(days=29)).isoformat()
    )


def test_default_period_is_the_last_30_days(app, world, browser_as):
    doc = parse(browser_as(world.admin).get("/").text)

    today = utcnow().date()
    assert (
        doc.one("input", {"name": "date_from"}).get("value")
        == (today - timedelta(days=29)).isoformat()
    )
    assert doc.one("input", {"name": "date_to"}).get("value") == today.isoformat()


# --- constant query count --------------------------------------------------------------------


def _school_of(app, admin: Person, size: int) -> None:
    """Two classes of ``size`` students: an active session each (half marked), and two
    ended sessions each in the default period (some unmarked, some absent)."""
    now = utcnow()
    for _ in range(2):
        students = make_students(app, size)
        klass = make_class(app, admin=admin, students=students)
        plan = [
            {s: (A if i % 3 == 0 else P) for i, s in enumerate(students[1:])},
            {s: (L if i % 2 else A) for i, s in enumerate(students)},
        ]
        run_sessions(app, klass, plan, first_start=now - timedelta(days=3), end=True)
        active = make_session(app, klass, start_at=now - timedelta(minutes=20))
        for s in students[: size // 2]:
            mark(app, klass, active, s, P)


def _empty(app) -> None:
    """Delete every row (as the conftest does after each test), to measure a second school."""
    from sqlalchemy import text

    with app.app_context(), db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))


def test_the_dashboard_runs_the_same_queries_for_5_and_40_students(app, count_queries, browser_as):
    def statements(size: int) -> int:
        _empty(app)
        admin = make_admin(app)
        client = browser_as(admin)
        _school_of(app, admin, size)
        client.get("/")  # warm up
        with count_queries() as q:
            response = client.get("/")
        assert response.status_code == 200
        assert response.text.count("data-session-id") >= 2
        return q.count

    assert statements(5) == statements(40)
