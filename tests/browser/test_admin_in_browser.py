"""An admin in a real browser: logging in, filtering the attendance records, importing a small
CSV of students and downloading the filtered export; and a class's analytics page."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import Enrollment, Student
from tests import factories
from tests.browser.conftest import NAMES, login, screenshot
from tests.factories import ClassInfo, Person

pytestmark = pytest.mark.browser

EXPORT_HEADER = (
    "date,start_time,class_name,subject_code,student_number,last_name,first_name,"
    "status,marked_at,marked_by,notes,excused,absence_reason"
)
STATUS = {"P": "PRESENT", "A": "ABSENT", "L": "LATE"}
#: MATH101's eight past sessions, one letter per session for each of NAMES's students.
MATH_PLAN = ["PPPPPPPP", "PAPPLPPA", "LLPLPPLP", "PPAAPAAA", "PPPPPPPL", "APPPPAPP"]
#: HIST201's three sessions, for the first three students.
HIST_PLAN = ["AAP", "PAP", "PPA"]


@dataclass(frozen=True)
class RecordedClasses:
    admin: Person
    math: ClassInfo
    hist: ClassInfo
    #: (start, student, status, record id) of each class's records, oldest session first.
    math_records: list[tuple[datetime, Person, str, object]]
    hist_records: list[tuple[datetime, Person, str, object]]


def start(n: int) -> datetime:
    return datetime(2026, 2, 2, 9, tzinfo=UTC) + timedelta(days=n)


def record_sessions(app, klass: ClassInfo, plan: list[str], first_day: int) -> list[tuple]:
    """One ENDED session per column of ``plan`` (a row per student); the records made."""
    made = []
    for i in range(len(plan[0])):
        at = start(first_day + i)
        session_id = factories.make_session(app, klass, start_at=at)
        marks = [
            (student, STATUS[row[i]]) for student, row in zip(klass.students, plan, strict=True)
        ]
        ids = factories.mark_many(app, klass, session_id, marks, at=at + timedelta(minutes=2))
        factories.end_session(app, klass, session_id, at=at + timedelta(minutes=50))
        made += [
            (at, student, status, rid) for (student, status), rid in zip(marks, ids, strict=True)
        ]
    return made


@pytest.fixture
def recorded_classes(app) -> RecordedClasses:
    """Ada Admin; MATH101 Section A (Grace Hopper) with every student of NAMES and HIST201
    Section B (Alan Turing) with the first three, each with ENDED sessions recorded as
    MATH_PLAN (from day 0) and HIST_PLAN (from day 10) say."""
    admin = factories.make_admin(app, first_name="Ada", last_name="Admin")
    grace = factories.make_teacher(app, first_name="Grace", last_name="Hopper")
    alan = factories.make_teacher(app, first_name="Alan", last_name="Turing")
    students = [
        factories.make_student(app, first_name=first, last_name=last, with_token=False)
        for first, last in NAMES
    ]
    math = factories.make_class(
        app, admin=admin, teacher=grace, students=students, subject_code="MATH101",
        name="MATH101 Section A",
    )  # fmt: skip
    hist = factories.make_class(
        app, admin=admin, teacher=alan, students=students[:3], subject_code="HIST201",
        name="HIST201 Section B",
    )  # fmt: skip
    return RecordedClasses(
        admin,
        math,
        hist,
        record_sessions(app, math, MATH_PLAN, 0),
        record_sessions(app, hist, HIST_PLAN, 10),
    )


def shown_records(page) -> list[tuple[str, str]]:
    """(record id, data-status) of each row of the records table."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('table.records-table tr[data-record-id]'))
              .map(tr => [tr.dataset.recordId, tr.dataset.status])"""
    )


def test_an_admin_filters_records_imports_students_and_downloads_the_export(
    app, recorded_classes, open_page, tmp_path
):
    page = open_page()
    login(page, recorded_classes.admin)

    # Filter: the ABSENT records of MATH101.
    page.goto("/admin/records")
    page.select_option('select[name="status"]', "ABSENT")
    page.select_option('select[name="class_id"]', str(recorded_classes.math.id))
    with page.expect_navigation():
        page.click('form.record-filters button[type="submit"]')
    absent_math = [r for r in recorded_classes.math_records if r[2] == "ABSENT"]
    rows = shown_records(page)
    assert sorted(map(tuple, rows)) == sorted((str(r[3]), "ABSENT") for r in absent_math)
    expect(page.locator("hgroup p")).to_have_text(f"{len(absent_math)} records")
    expect(page.locator("table.records-table")).not_to_contain_text("HIST201")
    screenshot(page, "admin-records")

    # Download the export of the same filter (the page's link carries it).
    with page.expect_download() as download:
        page.click("#records-csv")
    text = download.value.path().read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == EXPORT_HEADER
    exported = list(csv.DictReader(io.StringIO(text)))
    expected = sorted(absent_math, key=lambda r: (r[0], r[1].last_name, r[1].first_name))
    assert [(row["student_number"], row["start_time"][:16]) for row in exported] == [
        (r[1].number, r[0].isoformat()[:16]) for r in expected
    ]
    assert {(row["class_name"], row["status"]) for row in exported} == {
        ("MATH101 Section A", "ABSENT")
    }
    assert {row["marked_by"] for row in exported} == {"Grace Hopper"}

    # Import two new students into MATH101, in the format of the page's template.
    page.goto("/admin/import")
    with page.expect_download() as template:
        page.click("#import-template")
    header = template.value.path().read_text(encoding="utf-8").splitlines()[0]
    assert header == "student_number,first_name,last_name,email,class_name"
    upload = tmp_path / "students.csv"
    upload.write_text(
        header
        + "\r\nS90001,Noor,Rahman,noor.rahman@school.test,MATH101 Section A"
        + "\r\nS90002,Ole,Hansen,ole.hansen@school.test,MATH101 Section A\r\n",
        encoding="utf-8",
    )
    # Should the form post as a plain document: the fixture's CSP hook answers documents
    # through route.fetch(), which re-sends a POST without the file of a multipart body, so
    # the browser sends this one itself (the server's own CSP header still comes with it).
    page.route("**/admin/import/preview", lambda route: route.continue_())
    page.set_input_files('#import-upload input[name="file"]', str(upload))
    # The page swaps in the preview (htmx) or loads it (a plain form): wait for what it shows.
    page.click('#import-upload button[type="submit"]')
    preview = page.locator("table.import-preview tbody tr")
    expect(preview).to_have_count(2)
    expect(preview.nth(0)).to_contain_text("Noor Rahman")
    expect(preview.nth(1)).to_contain_text("S90002")
    expect(page.locator("#preview-heading")).to_contain_text("2 new students")
    page.click("#import-confirm")
    expect(page.locator("#flash")).to_contain_text("Imported 2 row(s): 2 new student(s)")

    with app.app_context():
        imported = db.session.scalars(
            select(Student).where(Student.student_number.in_(["S90001", "S90002"]))
        ).all()
        assert sorted(s.user.email for s in imported) == [
            "noor.rahman@school.test",
            "ole.hansen@school.test",
        ]
        enrolled = db.session.scalars(
            select(Enrollment.student_id).where(Enrollment.class_id == recorded_classes.math.id)
        ).all()
        assert {s.id for s in imported} <= set(enrolled)
        db.session.remove()
    page.goto(f"/classes/{recorded_classes.math.id}")
    expect(page.locator(".student-list")).to_contain_text("Rahman, Noor")
    expect(page.locator(".student-list")).to_contain_text("Hansen, Ole")


def test_an_admin_reads_a_classs_analytics_with_its_chart(recorded_classes, open_page):
    page = open_page()
    login(page, recorded_classes.admin)
    page.goto(f"/classes/{recorded_classes.math.id}")
    with page.expect_navigation():
        page.click("#class-analytics")

    expect(page.locator("h1")).to_contain_text("MATH101 Section A")
    # Chart.js drew the chart from the canvas's data (no inline script: the page runs under
    # the strict CSP).
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('class-rate-chart'))"
    )
    points = page.evaluate(
        "() => Chart.getChart(document.getElementById('class-rate-chart')).data.datasets[0].data"
    )
    assert len(points) == len(MATH_PLAN[0])
    expect(page.locator("#at-risk li").first).to_contain_text("risk")
    expect(page.locator("#most-late li").first).to_be_visible()
    screenshot(page, "class-analytics")


def test_a_search_by_name_as_shown_lists_and_downloads_the_same_records(
    recorded_classes, open_page
):
    page = open_page()
    login(page, recorded_classes.admin)
    page.goto("/admin/records")

    # "Durand, Chloe": the name as lists show it, without its accent.
    page.fill('input[name="q"]', "Durand, Chloe")
    page.select_option('select[name="teacher_id"]', str(recorded_classes.math.teacher.profile_id))
    with page.expect_navigation():
        page.click('form.record-filters button[type="submit"]')

    chloe = [r for r in recorded_classes.math_records if r[1].last_name == "Durand"]
    assert sorted(r[0] for r in shown_records(page)) == sorted(str(r[3]) for r in chloe)
    with page.expect_download() as download:
        page.click("#records-csv")
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text("utf-8"))))
    assert len(exported) == len(chloe)
    assert {(row["first_name"], row["class_name"]) for row in exported} == {
        ("Chloé", "MATH101 Section A")
    }


def test_the_records_page_refuses_a_reversed_or_half_typed_period_and_says_why(
    recorded_classes, open_page
):
    page = open_page()
    login(page, recorded_classes.admin)
    page.goto("/admin/records")
    url = page.url
    message = page.locator("[data-range-message]")

    page.fill('input[name="date_from"]', "2026-02-10")
    page.fill('input[name="date_to"]', "2026-02-01")
    page.click('form.record-filters button[type="submit"]')
    expect(message).to_have_text("The start of the period must not be after its end.")
    assert page.url == url  # not sent
    assert page.eval_on_selector('input[name="date_to"]', "el => !el.validity.valid")

    # A date with only its month typed: the browser would send it as empty (no filter).
    page.fill('input[name="date_to"]', "")
    page.fill('input[name="date_from"]', "")
    page.click('input[name="date_from"]')
    page.keyboard.type("02")
    page.click('form.record-filters button[type="submit"]')
    expect(message).to_have_text(
        "This date is incomplete: finish it (day, month and year) or clear it."
    )
    assert page.url == url

    # Fixed, the period is sent and applied.
    page.fill('input[name="date_from"]', "2026-02-01")
    page.fill('input[name="date_to"]', "2026-02-03")
    with page.expect_navigation():
        page.click('form.record-filters button[type="submit"]')
    expect(message).to_be_hidden()
    assert "date_from=2026-02-01" in page.url and "date_to=2026-02-03" in page.url
    assert len(shown_records(page)) == 2 * len(NAMES)  # the sessions of Feb 2 and 3


def test_an_import_with_problems_shows_them_beside_the_rows_that_are_ready(
    recorded_classes, open_page, tmp_path
):
    page = open_page()
    login(page, recorded_classes.admin)
    page.goto("/admin/import")
    upload = tmp_path / "students.csv"
    upload.write_text(
        "student_number,first_name,last_name,email,class_name\r\n"
        "S90001,Noor,Rahman,noor.rahman@school.test,MATH101 Section A\r\n"
        "S90002,,Hansen,not-an-email,No such class\r\n"
        "S90003,Ivo,Petrov,ivo.petrov@school.test,HIST201 Section B\r\n",
        encoding="utf-8",
    )
    page.route("**/admin/import/preview", lambda route: route.continue_())
    page.set_input_files('#import-upload input[name="file"]', str(upload))
    page.click('#import-upload button[type="submit"]')

    problems = page.locator("table[data-import='errors'] tbody tr")
    ready = page.locator("table[data-import='rows'] tbody tr")
    expect(problems).to_have_count(3)
    expect(problems).to_have_text(
        [
            "3first_name is required.",
            "3“not-an-email” is not an email address.",
            "3There is no class named “No such class”.",
        ],
        use_inner_text=False,
    )
    expect(ready).to_have_count(2)
    expect(page.locator("#import-confirm")).to_have_count(0)
    # Side by side on a desktop.
    left = page.locator("table[data-import='errors']").bounding_box()
    right = page.locator("table[data-import='rows']").bounding_box()
    assert left["x"] + left["width"] <= right["x"]
    assert abs(left["y"] - right["y"]) < 5
