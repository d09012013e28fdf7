"""One scope, one number: wherever a page shows a figure it says its scope (this class, your
classes, all classes, this period), and two pages showing the same scope show the same number,
because one service computes it (services.reporting.analytics; the JSON API reads the same)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import (
    ClassInfo,
    Person,
    make_admin,
    make_class,
    make_student,
    make_teacher,
    run_sessions,
)
from tests.web.conftest import parse

STATUS = {"P": "PRESENT", "A": "ABSENT", "L": "LATE"}
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


@dataclass(frozen=True)
class KnownFigures:
    admin: Person
    tina: Person  # teaches MATH and ART
    hal: Person  # teaches HIST
    hana: Person  # in all three
    math: ClassInfo
    art: ClassInfo
    hist: ClassInfo


def _run(app, klass: ClassInfo, patterns: dict[Person, str], first_day: int) -> None:
    plan = [
        {s: STATUS[p[i]] for s, p in patterns.items()}
        for i in range(len(next(iter(patterns.values()))))
    ]
    run_sessions(app, klass, plan, first_start=START + timedelta(days=first_day), end=True)


@pytest.fixture
def known_figures(app) -> KnownFigures:
    """MATH (Tina, days 0–9): Hana 80.0 (medium), Kai 60.0 (high, over the alert line), Lea
    two absences in a row (medium, not over the alert line), Max all present. ART (Tina, days
    10–14): Hana all present. HIST (Hal, days 15–19): Hana 40.0. Hana overall: 15 of 20."""
    admin = make_admin(app)
    tina = make_teacher(app, first_name="Tina", last_name="Lee")
    hal = make_teacher(app, first_name="Hal", last_name="Ng")
    hana = make_student(app, first_name="Hana", last_name="Ito")
    kai, lea, maxi = (
        make_student(app, first_name=n, last_name="Test") for n in ("Kai", "Lea", "Max")
    )
    math = make_class(
        app, admin=admin, teacher=tina, students=[hana, kai, lea, maxi], subject_code="MATH"
    )
    art = make_class(app, admin=admin, teacher=tina, students=[hana], subject_code="ART")
    hist = make_class(app, admin=admin, teacher=hal, students=[hana], subject_code="HIST")
    _run(
        app,
        math,
        {hana: "PPAPPPAPPP", kai: "AAAAPPPPPP", lea: "PPPPPPPPAA", maxi: "PPPPPPPPPP"},
        0,
    )
    _run(app, art, {hana: "PPPPP"}, 10)
    _run(app, hist, {hana: "PAAPA"}, 15)
    return KnownFigures(admin, tina, hal, hana, math, art, hist)


def _class_row(html: str, class_id) -> dict[str, str]:
    """A student page's figures in one class (its "In each class" row)."""
    row = parse(html).one("section", {"id": "classes"}).one("tr", {"data-class-id": str(class_id)})
    return {el.get("data-cell"): el.text for el in row.find_all(attrs={"data-cell": True})}


def _overall(html: str) -> dict[str, str]:
    panel = parse(html).one("section", {"id": "figures"})
    return {
        "scope": panel.one(attrs={"data-figures-scope": True}).text,
        "attendance_rate": panel.one(attrs={"data-figure": "attendance_rate"}).text,
        "risk_level": panel.one(attrs={"data-risk": True}).get("data-risk"),
    }


def test_a_teachers_home_counts_at_risk_what_the_class_analytics_lists(
    known_figures, browser_as, api_as
):
    home = parse(browser_as(known_figures.tina).get("/").text)
    analytics = parse(
        browser_as(known_figures.tina).get(f"/classes/{known_figures.math.id}/analytics").text
    )
    api = api_as(known_figures.tina).get(f"/api/analytics/classes/{known_figures.math.id}/").json

    link = home.one("a", {"href": f"/classes/{known_figures.math.id}/analytics"})
    assert link.get("data-at-risk") == "3"
    assert link.text == "3 at risk"
    assert analytics.one(attrs={"data-class-figure": "at_risk"}).text == "3"
    assert len(analytics.one("section", {"id": "at-risk"}).find_all("li")) == 3
    assert len(api["at_risk"]) == 3
    # Each says its scope.
    assert "in that class, over all its lessons" in home.text
    assert "Figures of this class only" in analytics.one(attrs={"data-scope": True}).text


def test_a_students_figures_in_one_class_are_the_same_on_every_page(
    known_figures, browser_as, api_as
):
    hana = known_figures.hana
    history = f"/students/{hana.profile_id}/history"
    pages = {
        "her own page": _class_row(browser_as(hana).get(history).text, known_figures.math.id),
        "her page, as her teacher": _class_row(
            browser_as(known_figures.tina).get(history).text, known_figures.math.id
        ),
        "her page, as an admin": _class_row(
            browser_as(known_figures.admin).get(history).text, known_figures.math.id
        ),
    }
    analytics = parse(
        browser_as(known_figures.tina).get(f"/classes/{known_figures.math.id}/analytics").text
    )
    row = analytics.one("table", {"class": "striped class-students"}).one(
        "tr", {"data-student-id": str(hana.profile_id)}
    )
    api = (
        api_as(known_figures.tina)
        .get(
            f"/api/analytics/students/{hana.profile_id}/",
            query_string={"class_id": known_figures.math.id},
        )
        .json
    )

    expected = {
        "total_sessions": "10",
        "attendance_rate": "80.0%",
        "late": "0",
        "consecutive_absences": "0",
        "risk_level": "Medium",
    }
    for name, found in pages.items():
        assert found == expected, name
    assert row.one("td", {"data-cell": "attendance_rate"}).text == "80.0%"
    assert row.get("data-risk") == "medium"
    assert (api["attendance_rate"], api["risk_level"], api["total_sessions"]) == (
        80.0,
        "medium",
        10,
    )


def test_a_students_overall_figures_say_their_scope_and_match_the_api(
    known_figures, browser_as, api_as
):
    hana = known_figures.hana
    history = f"/students/{hana.profile_id}/history"

    own = _overall(browser_as(hana).get(history).text)
    teacher = _overall(browser_as(known_figures.tina).get(history).text)
    admin = _overall(browser_as(known_figures.admin).get(history).text)
    path = f"/api/analytics/students/{hana.profile_id}/"
    own_api = api_as(hana).get(path).json
    teacher_api = api_as(known_figures.tina).get(path).json

    # All her classes: 15 of 20 (her own page and an admin's view of it).
    assert own == {
        "scope": "across all your classes",
        "attendance_rate": "75.0",
        "risk_level": "medium",
    }
    assert admin == {**own, "scope": "across all their classes"}
    assert (own_api["attendance_rate"], own_api["risk_level"]) == (75.0, "medium")
    # Her teacher's classes only (MATH and ART): 13 of 15.
    assert teacher == {"scope": "in your classes", "attendance_rate": "86.67", "risk_level": "low"}
    assert (teacher_api["attendance_rate"], teacher_api["risk_level"]) == (86.67, "low")


def test_the_dashboard_over_a_period_holding_every_lesson_agrees_with_her_page(
    known_figures, browser_as
):
    dashboard = parse(
        browser_as(known_figures.admin)
        .get("/", query_string={"date_from": "2026-01-01", "date_to": "2026-02-28"})
        .text
    )
    page = _overall(
        browser_as(known_figures.admin)
        .get(f"/students/{known_figures.hana.profile_id}/history")
        .text
    )

    entry = dashboard.one("section", {"id": "at-risk"}).one(
        "li", {"data-student-id": str(known_figures.hana.profile_id)}
    )
    assert entry.get("data-risk") == page["risk_level"] == "medium"
    assert f"{page['attendance_rate']}% over 20 sessions in this period" in entry.text
    scope = dashboard.one("section", {"id": "at-risk"}).one(attrs={"data-scope": True}).text
    assert "from 2026-01-01 to 2026-02-28, in all their classes" in scope
