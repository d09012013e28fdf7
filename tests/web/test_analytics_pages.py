"""The analytics in the pages: a student's figures on their history page and a class's
analytics page (/classes/<id>/analytics), on data built through the services."""

from __future__ import annotations

import json
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
    unenroll,
)
from tests.web.conftest import parse

STATUS = {"P": "PRESENT", "A": "ABSENT", "L": "LATE"}

#: Ten MATH sessions, oldest first: one letter per session for each student.
MATH = {
    "Seventy": "AAAPPPPPPP",  # 70.0: not below 70, below 85 → medium; improving
    "Three": "PPPPPPPAAA",  # 70.0 and 3 absences in a row → high; declining
    "Quarter": "LLLPPPPPPP",  # late 30.0 → medium
    "Late": "LLPPPPPPPP",  # late 20.0, exactly the edge: not above → low
    "Perfect": "PPPPPPPPPP",  # low
}
#: Session rates: 4 of 5 attended in sessions 1–3 and 8–10, everyone in 4–7.
SESSION_RATES = [80.0, 80.0, 80.0, 100.0, 100.0, 100.0, 100.0, 80.0, 80.0, 80.0]
#: The contract's order: high, medium (lowest rate first), low (by name).
ORDER = ["Three", "Seventy", "Quarter", "Late", "Perfect"]


def day(n: int) -> datetime:
    return datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(days=n)


@dataclass(frozen=True)
class World:
    admin: Person
    tina: Person  # teaches MATH
    hal: Person  # teaches HIST
    math: ClassInfo
    hist: ClassInfo
    people: dict[str, Person]  # MATH's students by last name
    mia: Person  # in HIST only

    def history(self, last_name: str) -> str:
        return f"/students/{self.people[last_name].profile_id}/history"

    def analytics(self, klass: ClassInfo) -> str:
        return f"/classes/{klass.id}/analytics"


def run(app, klass: ClassInfo, patterns: dict[Person, str], first_start: datetime) -> None:
    """One ended session per letter, oldest first, each student marked with their letter."""
    length = max(len(p) for p in patterns.values())
    plan = [{s: STATUS[p[i]] for s, p in patterns.items()} for i in range(length)]
    run_sessions(app, klass, plan, first_start=first_start, end=True)


@pytest.fixture
def world(app) -> World:
    """Tina's MATH (five students at the risk edges, ten sessions); Hal's HIST, later, where
    Seventy was absent three times and Mia present."""
    admin = make_admin(app)
    tina = make_teacher(app, first_name="Tina", last_name="Lee")
    hal = make_teacher(app, first_name="Hal", last_name="Ng")
    people = {
        last: make_student(app, first_name=f"{last[0]}a", last_name=last, with_token=False)
        for last in MATH
    }
    mia = make_student(app, first_name="Mia", last_name="Roe", with_token=False)
    math = make_class(
        app, admin=admin, teacher=tina, students=list(people.values()), subject_code="MATH"
    )
    hist = make_class(
        app, admin=admin, teacher=hal, students=[people["Seventy"], mia], subject_code="HIST"
    )
    run(app, math, {people[last]: p for last, p in MATH.items()}, day(0))
    run(app, hist, {people["Seventy"]: "AAA", mia: "PPP"}, day(20))
    return World(admin, tina, hal, math, hist, people, mia)


def panel(html: str) -> dict[str, str]:
    """The history page's figures panel: each ``data-figure`` element's text, and the reasons
    of its risk level by kind."""
    doc = parse(html).one("section", {"id": "figures"})
    found = {el.get("data-figure"): el.text for el in doc.find_all(attrs={"data-figure": True})}
    found["trend_value"] = doc.one(attrs={"data-trend": True}).get("data-trend")
    found["reasons"] = {
        el.get("data-reason"): el.text for el in doc.find_all(attrs={"data-reason": True})
    }
    return found


# --- the student history page ----------------------------------------------------------------


def test_a_teacher_sees_a_students_figures_in_their_classes_only(world, browser_as):
    response = browser_as(world.tina).get(world.history("Seventy"))

    assert response.status_code == 200
    assert panel(response.text) == {
        "attendance_rate": "70.0",
        "attended": "7",
        "total_sessions": "10",
        "late_rate": "0.0",
        "consecutive_absences": "0",
        "trend": "↑ Going up",
        "trend_value": "improving",
        "risk_level": "Medium risk",
        "reasons": {"rate": "Sa came to 70.0% of lessons; the school checks in below 85%."},
    }
    scope = parse(response.text).one(attrs={"data-figures-scope": True})
    assert scope.text == "in your classes"


def test_an_admin_sees_the_figures_over_every_record_with_every_reason(world, browser_as):
    response = browser_as(world.admin).get(world.history("Seventy"))

    figures = panel(response.text)
    # 7 of 13 attended; HIST's three absences are the latest records.
    assert figures["attendance_rate"] == "53.85"
    assert figures["consecutive_absences"] == "3"
    assert figures["trend_value"] == "declining"
    assert figures["risk_level"] == "High risk"
    assert figures["reasons"] == {
        "rate": "Sa came to 53.85% of lessons; the school checks in below 70%.",
        "streak": "Sa missed 3 lessons in a row; the school checks in from 3 in a row.",
    }
    scope = parse(response.text).one(attrs={"data-figures-scope": True})
    assert scope.text == "across all their classes"


def test_a_student_sees_their_own_figures(app, world, browser_as):
    sol = make_student(app, first_name="Sol", last_name="Own")
    own = make_class(app, admin=world.admin, students=[sol], subject_code="OWN")
    run(app, own, {sol: "PPLAA"}, day(40))

    response = browser_as(sol).get(f"/students/{sol.profile_id}/history")

    assert response.status_code == 200
    figures = panel(response.text)
    assert (figures["attendance_rate"], figures["late_rate"]) == ("60.0", "20.0")
    assert figures["consecutive_absences"] == "2"
    assert figures["risk_level"] == "High risk"
    assert figures["reasons"] == {
        "rate": "You came to 60.0% of lessons; the school checks in below 70%."
    }
    assert parse(response.text).one(attrs={"data-figures-scope": True}).text == (
        "across all your classes"
    )


def test_a_late_rate_exactly_at_the_threshold_is_low_risk_with_no_threshold_crossed(
    world, browser_as
):
    figures = panel(browser_as(world.tina).get(world.history("Late")).text)

    assert figures["late_rate"] == "20.0"
    assert figures["risk_level"] == "Low risk"
    assert figures["reasons"] == {}


def test_a_late_rate_above_the_threshold_says_so(world, browser_as):
    figures = panel(browser_as(world.tina).get(world.history("Quarter")).text)

    assert figures["risk_level"] == "Medium risk"
    assert figures["reasons"] == {"late": "Qa was late to 30.0% of lessons, more than 20%."}


def test_the_trend_says_why_it_is_too_early_with_too_few_records(world, browser_as):
    doc = parse(browser_as(world.hal).get(world.history("Seventy")).text)

    section = doc.one("section", {"id": "figures"})
    assert section.one(attrs={"data-figure": "trend"}).text == "Too early to tell"
    assert "a trend needs 10 lessons (3 so far)" in section.text


def test_the_figures_ignore_the_history_filters(world, browser_as):
    response = browser_as(world.tina).get(
        world.history("Seventy"), query_string={"status": "ABSENT"}
    )

    assert panel(response.text)["attendance_rate"] == "70.0"


def test_a_teacher_sees_a_former_students_records_without_figures(app, world, browser_as):
    unenroll(app, world.math, world.people["Three"], admin=world.admin)

    response = browser_as(world.tina).get(world.history("Three"))

    assert response.status_code == 200
    doc = parse(response.text)
    assert doc.find("section", {"id": "figures"}) is None
    assert "enrolled in one of your classes" in doc.one("p", {"id": "no-figures"}).text
    assert len(doc.find_all("tr", {"data-record-id": True})) == 10


# --- the class analytics page ----------------------------------------------------------------


def _names(items) -> list[str]:
    """Last names from the page's student links ("First Last" or "Last, First")."""
    out = []
    for item in items:
        text = item.find("a").text
        out.append(text.split(",")[0] if "," in text else text.split()[-1])
    return out


def test_the_class_page_shows_the_mean_rate_and_each_sessions_rate(world, browser_as):
    response = browser_as(world.tina).get(world.analytics(world.math))

    assert response.status_code == 200
    doc = parse(response.text)
    figures = {
        el.get("data-class-figure"): el.text
        for el in doc.find_all(attrs={"data-class-figure": True})
    }
    assert figures == {"attendance_rate": "88.0", "sessions": "10", "students": "5", "at_risk": "3"}
    chart = json.loads(doc.one("canvas", {"id": "class-rate-chart"}).get("data-chart"))
    assert chart["rates"] == SESSION_RATES
    assert chart["labels"] == [day(i).strftime("%Y-%m-%d %H:%M") for i in range(10)]
    table = doc.one("table", {"class": "striped session-rates"})
    assert [td.text for td in table.find_all("td", {"data-cell": "rate"})] == [
        f"{r}%" for r in SESSION_RATES
    ]


def test_the_at_risk_students_show_their_badge_reason_and_history_link(world, browser_as):
    doc = parse(browser_as(world.tina).get(world.analytics(world.math)).text)

    items = doc.one("section", {"id": "at-risk"}).find_all("li")
    assert _names(items) == ["Three", "Seventy", "Quarter"]
    shown = [
        (
            item.one(attrs={"data-figure": "risk_level"}).text,
            item.one(attrs={"data-figure": "risk_reason"}).text,
            item.find("a").get("href"),
        )
        for item in items
    ]
    assert shown == [
        ("High risk", "3 absences in a row (at least 3)", world.history("Three")),
        ("Medium risk", "attendance rate 70.0% is below 85%", world.history("Seventy")),
        ("Medium risk", "late rate 30.0% is above 20%", world.history("Quarter")),
    ]


def test_the_most_late_list_names_the_most_late_first(world, browser_as):
    doc = parse(browser_as(world.tina).get(world.analytics(world.math)).text)

    items = doc.one("section", {"id": "most-late"}).find_all("li")
    assert _names(items) == ["Quarter", "Late"]
    assert [i.one(attrs={"data-figure": "late"}).text for i in items] == ["3", "2"]


def test_the_student_table_is_ordered_as_the_api_orders_students(world, browser_as, api_as):
    doc = parse(browser_as(world.tina).get(world.analytics(world.math)).text)
    api = api_as(world.tina).get(f"/api/analytics/classes/{world.math.id}/").json

    rows = doc.one("table", {"class": "striped class-students"}).find_all("tr", {"data-risk": True})
    assert [r.get("data-student-id") for r in rows] == [s["student"]["id"] for s in api["students"]]
    assert _names(rows) == ORDER
    by_id = {s["student"]["id"]: s for s in api["students"]}
    for row in rows:
        expected = by_id[row.get("data-student-id")]
        cells = {td.get("data-cell"): td.text for td in row.find_all("td", {"data-cell": True})}
        assert cells == {
            "total_sessions": str(expected["total_sessions"]),
            "present": str(expected["present"]),
            "absent": str(expected["absent"]),
            "late": str(expected["late"]),
            "attendance_rate": f"{expected['attendance_rate']}%",
            "late_rate": f"{expected['late_rate']}%",
            "consecutive_absences": str(expected["consecutive_absences"]),
        }
        assert row.get("data-risk") == expected["risk_level"]
        assert row.one(attrs={"data-figure": "trend"}).get("data-trend") == expected["trend"]


def test_a_students_figures_on_the_class_page_count_that_class_only(world, browser_as):
    doc = parse(browser_as(world.admin).get(world.analytics(world.math)).text)

    row = doc.one("tr", {"data-student-id": str(world.people["Seventy"].profile_id)})
    assert row.one("td", {"data-cell": "attendance_rate"}).text == "70.0%"
    assert row.one("td", {"data-cell": "total_sessions"}).text == "10"


def test_a_teachers_class_page_lists_only_that_classs_students(world, browser_as):
    doc = parse(browser_as(world.hal).get(world.analytics(world.hist)).text)

    rows = doc.one("table", {"class": "striped class-students"}).find_all("tr", {"data-risk": True})
    assert {r.get("data-student-id") for r in rows} == {
        str(world.people["Seventy"].profile_id),
        str(world.mia.profile_id),
    }


def test_a_class_without_started_sessions_shows_empty_figures(app, world, browser_as):
    fresh = make_class(app, admin=world.admin, teacher=world.tina, students=2)

    response = browser_as(world.tina).get(world.analytics(fresh))

    assert response.status_code == 200
    doc = parse(response.text)
    assert doc.one(attrs={"data-class-figure": "attendance_rate"}).text == "0.0"
    assert doc.find("canvas") is None
    assert "No session of this class has started yet." in doc.text
    assert "No student of this class is at risk." in doc.text


def test_the_class_page_links_to_its_analytics(world, browser_as):
    doc = parse(browser_as(world.tina).get(f"/classes/{world.math.id}").text)

    assert doc.one("a", {"id": "class-analytics"}).get("href") == world.analytics(world.math)


def test_another_teacher_is_refused_the_class_analytics(world, browser_as):
    response = browser_as(world.hal).get(world.analytics(world.math))

    assert response.status_code == 403
    assert parse(response.text).find("table", {"class": "striped class-students"}) is None


def test_a_student_is_refused_the_analytics_of_their_own_class(world, browser_as):
    response = browser_as(world.mia).get(world.analytics(world.hist))

    assert response.status_code == 403


@pytest.mark.parametrize("class_id", ["0b9a5f3e-52f1-4c8e-9d0e-2f6a1c7b8e90", "not-a-uuid", "123"])
def test_an_unknown_or_malformed_class_id_is_not_found(world, browser_as, class_id):
    response = browser_as(world.admin).get(f"/classes/{class_id}/analytics")

    assert response.status_code == 404


def test_the_class_analytics_need_a_login(client, world):
    response = client.get(world.analytics(world.math))

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
