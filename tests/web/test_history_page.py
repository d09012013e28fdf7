"""/students/<id>/history: statistics, records, filters and the chart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import (
    ClassInfo,
    Person,
    end_session,
    make_admin,
    make_class,
    make_session,
    make_student,
    make_teacher,
    mark,
)
from tests.web.conftest import parse

# (subject, session date, status) of the student's records, oldest first.
LESSONS = [
    ("MATH101", "2025-01-05", "PRESENT"),
    ("HIST201", "2025-01-06", "PRESENT"),
    ("MATH101", "2025-01-12", "ABSENT"),
    ("HIST201", "2025-01-13", "PRESENT"),
    ("MATH101", "2025-01-19", "LATE"),
]


@dataclass(frozen=True)
class History:
    student: Person
    math_teacher: Person
    hist_teacher: Person
    admin: Person
    classes: dict[str, ClassInfo]

    @property
    def url(self) -> str:
        return f"/students/{self.student.profile_id}/history"


@pytest.fixture
def history(app) -> History:
    """One student in two subjects with five records, each lesson at 09:00 UTC; LATE 7 min in."""
    admin = make_admin(app)
    student = make_student(app, first_name="Hana", last_name="Ito")
    math_teacher, hist_teacher = make_teacher(app), make_teacher(app)
    classes = {
        "MATH101": make_class(
            app, admin=admin, teacher=math_teacher, students=[student], subject_code="MATH101"
        ),
        "HIST201": make_class(
            app, admin=admin, teacher=hist_teacher, students=[student], subject_code="HIST201"
        ),
    }
    for code, day, status in LESSONS:
        start = datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)
        klass = classes[code]
        session_id = make_session(app, klass, start_at=start)
        mark(app, klass, session_id, student, status, at=start + timedelta(minutes=7))
        end_session(app, klass, session_id, at=start + timedelta(minutes=50))
    return History(student, math_teacher, hist_teacher, admin, classes)


def _stats(doc) -> dict[str, str]:
    return {
        el.get("data-history-stat"): el.text
        for el in doc.find_all(attrs={"data-history-stat": True})
    }


def _rows(doc) -> list[list[str]]:
    table = doc.one("table", {"data-history-records": True})
    return [
        [td.text for td in tr.find_all("td")]
        for tr in table.find_all("tr", {"data-record-id": True})
    ]


def _chart(doc) -> dict:
    return json.loads(doc.one("canvas", {"id": "rate-chart"}).get("data-chart"))


def test_history_shows_statistics_over_all_records(history, browser_as):
    response = browser_as(history.student).get(history.url)

    assert response.status_code == 200
    doc = parse(response.text)
    assert _stats(doc) == {
        "total_sessions": "5",
        "present": "3",
        "absent": "1",
        "late": "1",
        "attendance_rate": "80.0",
    }
    assert "Hana Ito" in doc.one("h1").text
    assert history.student.number in doc.text


def test_history_lists_the_records_newest_first(history, browser_as):
    doc = parse(browser_as(history.student).get(history.url).text)

    rows = _rows(doc)
    assert [(r[0], r[2]) for r in rows] == [(day, code) for code, day, _ in reversed(LESSONS)]
    assert [r[1] for r in rows] == [history.classes[code].name for code, _, _ in reversed(LESSONS)]
    assert [r[3].split()[0] for r in rows] == ["Late", "Present", "Absent", "Present", "Present"]
    assert rows[0][3] == "Late +7 min"


@pytest.mark.parametrize(
    ("query", "expected_days", "expected_stats"),
    [
        pytest.param(
            {"subject": "MATH101"},
            ["2025-01-19", "2025-01-12", "2025-01-05"],
            {"total_sessions": "3", "present": "1", "absent": "1", "late": "1"},
            id="subject",
        ),
        pytest.param(
            {"status": "PRESENT"},
            ["2025-01-13", "2025-01-06", "2025-01-05"],
            {"total_sessions": "3", "present": "3", "absent": "0", "late": "0"},
            id="status",
        ),
        pytest.param(
            {"date_from": "2025-01-06", "date_to": "2025-01-13"},
            ["2025-01-13", "2025-01-12", "2025-01-06"],
            {"total_sessions": "3", "present": "2", "absent": "1", "late": "0"},
            id="dates-inclusive",
        ),
        pytest.param(
            {"date_to": "2025-01-05"},
            ["2025-01-05"],
            {"total_sessions": "1", "present": "1", "absent": "0", "late": "0"},
            id="date-to-only",
        ),
        pytest.param(
            {"subject": "HIST201", "status": "ABSENT"},
            [],
            {"total_sessions": "0", "present": "0", "absent": "0", "late": "0"},
            id="nothing-matches",
        ),
    ],
)
def test_filters_narrow_the_records_and_the_statistics(
    history, browser_as, query, expected_days, expected_stats
):
    query = dict(query)
    if "subject" in query:
        query["subject_id"] = str(history.classes[query.pop("subject")].subject_id)

    response = browser_as(history.student).get(history.url, query_string=query)

    assert response.status_code == 200
    doc = parse(response.text)
    found = _stats(doc)
    assert {k: found[k] for k in expected_stats} == expected_stats
    if expected_days:
        assert [r[0] for r in _rows(doc)] == expected_days
    else:
        assert doc.find("table", {"data-history-records": True}) is None
        assert "No records match these filters." in doc.text
        assert doc.find("canvas") is None


def test_the_filter_form_keeps_the_chosen_values(history, browser_as):
    math = history.classes["MATH101"]

    doc = parse(
        browser_as(history.student)
        .get(
            history.url,
            query_string={
                "subject_id": str(math.subject_id),
                "status": "LATE",
                "date_from": "2025-01-01",
            },
        )
        .text
    )

    form = doc.one("form", {"class": "history-filters"})
    assert form.one("option", {"value": str(math.subject_id)}).has("selected")
    assert form.one("option", {"value": "LATE"}).has("selected")
    assert form.one("input", {"name": "date_from"}).get("value") == "2025-01-01"
    assert form.one("input", {"name": "date_to"}).get("value") == ""


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"date_from": "2025-02-30"},
            "From: “2025-02-30” is not a date (use YYYY-MM-DD), so it is not applied.",
        ),
        (
            {"date_to": "13/01/2025"},
            "To: “13/01/2025” is not a date (use YYYY-MM-DD), so it is not applied.",
        ),
    ],
)
def test_a_bad_date_shows_a_message_and_the_unfiltered_history(history, browser_as, query, message):
    response = browser_as(history.student).get(history.url, query_string=query)

    assert response.status_code == 200
    doc = parse(response.text)
    assert message in [p.text for p in doc.find_all("p", {"role": "alert"})]
    assert _stats(doc)["total_sessions"] == "5"
    assert len(_rows(doc)) == 5


def test_the_chart_carries_each_subjects_cumulative_rate_as_json(history, browser_as):
    doc = parse(browser_as(history.student).get(history.url).text)

    chart = _chart(doc)

    series = {s["label"]: s["data"] for s in chart["series"]}
    assert series == {
        "MATH101": [
            {"x": "2025-01-05 09:00", "y": 100.0},
            {"x": "2025-01-12 09:00", "y": 50.0},
            {"x": "2025-01-19 09:00", "y": 66.67},
        ],
        "HIST201": [
            {"x": "2025-01-06 09:00", "y": 100.0},
            {"x": "2025-01-13 09:00", "y": 100.0},
        ],
    }


def test_two_lessons_on_one_day_are_two_points_of_the_chart(app, browser_as):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1, subject_code="MATH101")
    student = klass.students[0]
    morning = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
    for start, status in ((morning, "PRESENT"), (morning + timedelta(hours=5), "ABSENT")):
        session_id = make_session(app, klass, start_at=start)
        mark(app, klass, session_id, student, status, at=start)

    page = browser_as(student).get(f"/students/{student.profile_id}/history")

    [series] = _chart(parse(page.text))["series"]
    assert series["data"] == [
        {"x": "2025-02-03 09:00", "y": 100.0},
        {"x": "2025-02-03 14:00", "y": 50.0},
    ]


def test_the_chart_follows_the_filters(history, browser_as):
    math = history.classes["MATH101"]

    doc = parse(
        browser_as(history.student)
        .get(history.url, query_string={"subject_id": str(math.subject_id)})
        .text
    )

    assert [s["label"] for s in _chart(doc)["series"]] == ["MATH101"]


def test_a_teacher_sees_only_the_records_of_classes_they_teach(history, browser_as):
    doc = parse(browser_as(history.math_teacher).get(history.url).text)

    assert {r[2] for r in _rows(doc)} == {"MATH101"}
    assert _stats(doc)["total_sessions"] == "3"
    assert [s["label"] for s in _chart(doc)["series"]] == ["MATH101"]


def test_an_admin_sees_every_record(history, browser_as):
    doc = parse(browser_as(history.admin).get(history.url).text)

    assert _stats(doc)["total_sessions"] == "5"
    assert {r[2] for r in _rows(doc)} == {"MATH101", "HIST201"}


def test_a_student_without_records_sees_an_empty_history(app, history, browser_as):
    newcomer = make_student(app)

    response = browser_as(newcomer).get(f"/students/{newcomer.profile_id}/history")

    assert response.status_code == 200
    doc = parse(response.text)
    assert _stats(doc) == {
        "total_sessions": "0",
        "present": "0",
        "absent": "0",
        "late": "0",
        "attendance_rate": "0.0",
    }
    assert "No records match these filters." in doc.text
    assert doc.find("canvas") is None


def test_the_student_nav_links_to_their_own_history(history, browser_as):
    doc = parse(browser_as(history.student).get(history.url).text)

    assert doc.find("a", {"href": history.url}) is not None


def test_the_students_own_csv_download_leaves_out_the_teachers_private_notes(app, browser_as):
    """A safeguarding remark on the roster must not reach the student through their page."""
    admin, teacher = make_admin(app), make_teacher(app)
    student = make_student(app, first_name="Mia", last_name="Cole")
    klass = make_class(app, admin=admin, teacher=teacher, students=[student])
    session_id = make_session(app, klass)
    mark(app, klass, session_id, student, "LATE", notes="Concern: bruise on arm, told DSL")
    client = browser_as(student)
    doc = parse(client.get(f"/students/{student.profile_id}/history").text)

    csv_link = doc.one("a", {"id": "history-csv"}).get("href")
    body = client.get(csv_link).get_data(as_text=True)

    header, row = body.splitlines()
    assert header.endswith(",notes,excused,absence_reason")
    assert row.split(",")[7] == "LATE"
    assert row.endswith(",,false,")  # no notes for the student; not excused
    assert "bruise" not in body


def test_filtering_by_a_status_says_what_is_shown_and_gives_no_rate(history, browser_as):
    doc = parse(
        browser_as(history.student).get(history.url, query_string={"status": "ABSENT"}).text
    )

    assert doc.one(attrs={"data-history-shown": True}).text == "Showing 1 lesson marked absent."
    assert "attendance_rate" not in _stats(doc)
    assert "figures at the top count every lesson" in doc.one(attrs={"data-status-note": True}).text


def test_a_date_or_subject_filter_gives_the_rate_of_the_lessons_shown(history, browser_as):
    math = history.classes["MATH101"]
    doc = parse(
        browser_as(history.student)
        .get(
            history.url,
            query_string={"subject_id": str(math.subject_id), "date_from": "2025-01-10"},
        )
        .text
    )

    assert doc.one(attrs={"data-history-shown": True}).text == (
        "Showing 2 lessons in MATH101 from 10 Jan 2025."
    )
    assert _stats(doc)["attendance_rate"] == "50.0"
    assert "Came to these" in doc.one("dl", {"class": "stat-grid"}).text


def test_the_csv_download_carries_the_pages_filters(history, browser_as):
    math = history.classes["MATH101"]
    query = {"subject_id": str(math.subject_id), "status": "LATE", "date_to": "2025-01-31"}
    doc = parse(browser_as(history.student).get(history.url, query_string=query).text)

    link = doc.one("a", {"id": "history-csv"}).get("href")

    assert parse_qs(urlsplit(link).query) == {
        "student_id": [str(history.student.profile_id)],
        **{key: [value] for key, value in query.items()},
    }


def test_a_period_that_ends_before_it_starts_says_so(history, browser_as):
    doc = parse(
        browser_as(history.student)
        .get(history.url, query_string={"date_from": "2025-02-01", "date_to": "2025-01-01"})
        .text
    )

    alerts = [p.text for p in doc.find_all("p", {"role": "alert"})]
    assert alerts == ["The start of the period must not be after its end."]
    assert "No lessons are listed until the dates are fixed." in doc.text
    assert doc.find(attrs={"data-history-stat": True}) is None


def test_the_student_reads_plain_words_about_their_level_and_whom_to_talk_to(app, browser_as):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1, subject_code="MATH101")
    student = klass.students[0]
    for n, status in enumerate("PPPPPAAAAA"):
        start = datetime(2025, 3, 3, 9, tzinfo=UTC) + timedelta(days=n)
        session_id = make_session(app, klass, start_at=start)
        mark(app, klass, session_id, student, {"P": "PRESENT", "A": "ABSENT"}[status], at=start)

    doc = parse(browser_as(student).get(f"/students/{student.profile_id}/history").text)

    figures = doc.one("section", {"id": "figures"})
    assert figures.one(attrs={"data-risk": True}).get("data-risk") == "high"
    assert [li.text for li in figures.find_all("li", {"data-reason": True})] == [
        "You came to 50.0% of lessons; the school checks in below 70%.",
        "You missed 5 lessons in a row; the school checks in from 3 in a row.",
    ]
    assert "not a telling-off" in figures.text
    assert figures.one(attrs={"data-who-to-talk-to": True}).text == (
        "Talk to your teacher or the school office: they are there to help. "
        "Parents and carers can contact the school office too."
    )
    assert "Going down: you came to 0 of the last 5 lessons, and 5 of the 5 before." in (
        figures.text
    )
    # No statistician's words.
    for jargon in ("points", "records", "threshold", "rate is below"):
        assert jargon not in figures.text
