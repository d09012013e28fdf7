"""A student's own page in real Chromium: on a phone (390 × 844) its tables become cards and
nothing needs scrolling sideways; filtering by a status says what is shown instead of turning
the rate into 0.0%; the chart is drawn by the one rate-chart script; rates read the same in
scripts as on pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from attendance_app.services.reporting.statistics import rate_text
from tests import factories
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    api_get,
    assert_no_horizontal_overflow,
    login,
    screenshot,
)

pytestmark = pytest.mark.browser

# (class, status) of Amara's lessons, oldest first: 6 present, 2 absent, 2 late → 80.0%.
PLAN = [
    ("maths", "PRESENT"),
    ("physics", "PRESENT"),
    ("maths", "LATE"),
    ("physics", "ABSENT"),
    ("maths", "PRESENT"),
    ("physics", "PRESENT"),
    ("maths", "ABSENT"),
    ("physics", "LATE"),
    ("maths", "PRESENT"),
    ("physics", "PRESENT"),
]


@pytest.fixture
def amara(app):
    """Amara Okafor in MATH101 and PHYS201 (three classmates each), ten ended lessons."""
    admin = factories.make_admin(app, first_name="Ada", last_name="Admin")
    student = factories.make_student(app, first_name="Amara", last_name="Okafor")
    classmates = [factories.make_student(app, with_token=False) for _ in range(3)]
    classes = {
        "maths": factories.make_class(
            app,
            admin=admin,
            students=[student, *classmates],
            subject_code="MATH101",
            name="MATH101 Section A",
        ),
        "physics": factories.make_class(
            app,
            admin=admin,
            students=[student, *classmates],
            subject_code="PHYS201",
            name="PHYS201 Lab B",
        ),
    }
    day = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    for n, (name, status) in enumerate(PLAN):
        klass = classes[name]
        start = day - timedelta(days=2 * (len(PLAN) - n))
        session_id = factories.make_session(app, klass, start_at=start)
        factories.mark(app, klass, session_id, student, status, at=start + timedelta(minutes=7))
        factories.end_session(app, klass, session_id, at=start + timedelta(minutes=50))
    # And one session that ended before anyone was marked.
    factories.make_session(app, classes["maths"], end=True)
    return student, admin


def wait_for_chart(page) -> None:
    """Until Chart.js has drawn the rate chart at the width of its box."""
    page.wait_for_function(
        """() => {
              const canvas = document.getElementById('rate-chart');
              return window.Chart && canvas && Chart.getChart(canvas) &&
                Math.abs(canvas.getBoundingClientRect().width - canvas.parentNode.clientWidth) < 2;
           }"""
    )


def test_on_a_phone_the_students_page_fits_and_its_tables_are_cards(app, server, open_page, amara):
    student, _ = amara
    phone = open_page(PHONE, is_mobile=True, has_touch=True)
    login(phone, student)
    phone.goto(f"/students/{student.profile_id}/history")

    expect(phone.locator("tr[data-record-id]")).to_have_count(len(PLAN))
    wait_for_chart(phone)
    assert_no_horizontal_overflow(phone)
    # The lessons and the classes are cards: one block per row, each value labelled.
    for table in ("table[data-history-records]", "#classes table"):
        assert (
            phone.locator(f"{table} tbody tr").first.evaluate("tr => getComputedStyle(tr).display")
            == "block"
        )
        expect(phone.locator(f"{table} thead")).to_be_hidden()
    status = phone.locator("tr[data-record-id] td[data-label='Status']").first
    assert status.evaluate("td => getComputedStyle(td, '::before').content") == '"Status"'
    # Written for her: the headline, what her level means and whom to talk to, in view.
    expect(phone.locator("#figures .headline")).to_contain_text("You came to 80.0% of your lessons")
    expect(phone.locator("[data-who-to-talk-to]")).to_contain_text(
        "Talk to your teacher or the school office"
    )
    expect(phone.locator("#figures")).not_to_contain_text("points")
    screenshot(phone, "history-phone")

    # Filtering by Absent says what it shows; her rate stays at the top, none in the strip.
    phone.select_option("select[name=status]", "ABSENT")
    with phone.expect_navigation():
        phone.click("form.history-filters button[type=submit]")
    expect(phone.locator("tr[data-record-id]")).to_have_count(2)
    expect(phone.locator("[data-history-shown]")).to_have_text("Showing 2 lessons marked absent.")
    expect(phone.locator("[data-history-stat='attendance_rate']")).to_have_count(0)
    expect(phone.locator("[data-status-note]")).to_be_visible()
    expect(phone.locator("#figures [data-figure='attendance_rate']")).to_have_text("80.0")
    assert_no_horizontal_overflow(phone)


def test_on_a_desktop_the_page_keeps_its_tables_and_draws_the_chart(app, server, open_page, amara):
    student, admin = amara
    page = open_page(DESKTOP)
    login(page, admin)
    page.goto(f"/students/{student.profile_id}/history")

    expect(page.locator("tr[data-record-id]")).to_have_count(len(PLAN))
    expect(page.locator('[data-history-stat="attendance_rate"]')).to_have_text("80.0")
    assert (
        page.locator("tr[data-record-id]").first.evaluate("tr => getComputedStyle(tr).display")
        == "table-row"
    )
    wait_for_chart(page)
    # One line per subject, drawn by the one rate-chart script, its tooltips written as rates.
    labels = page.evaluate(
        """() => {
              const chart = Chart.getChart(document.getElementById('rate-chart'));
              const label = chart.options.plugins.tooltip.callbacks.label;
              return {
                lines: chart.data.datasets.map(d => d.label),
                tooltip: label({dataset: {label: 'MATH101'}, parsed: {y: 80}}),
              };
           }"""
    )
    assert labels == {"lines": ["MATH101", "PHYS201"], "tooltip": "MATH101: 80.0%"}
    history = api_get(server, admin.token, f"/api/attendance/student/{student.profile_id}/")
    assert history["statistics"]["attendance_rate"] == 80.0
    assert_no_horizontal_overflow(page)
    screenshot(page, "history")


def test_scripts_write_rates_as_the_pages_do(app, server, open_page, amara):
    student, _ = amara
    page = open_page(DESKTOP)
    login(page, student)
    values = [0, 0.0, 75, 80.0, 100, 69.23, 66.666, 12.5, 33.333333]

    written = page.evaluate("(values) => values.map(v => window.attendanceRate(v))", values)

    assert written == [rate_text(v) for v in values]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_teachers_private_note_never_reaches_the_students_page_or_download(
    app, server, open_page, viewport
):
    """Issue 14 item 1: a safeguarding note written on the roster is staff-only; the student's
    own page and the CSV it downloads show the lesson, never the note."""
    admin = factories.make_admin(app)
    student = factories.make_student(app, first_name="Jamal", last_name="Silva")
    klass = factories.make_class(app, admin=admin, students=[student])
    session_id = factories.make_session(app, klass)
    note = "Safeguarding: spoke to the DSL about home"
    factories.mark(app, klass, session_id, student, "ABSENT", notes=note)

    page = open_page(viewport, is_mobile=viewport == PHONE, has_touch=viewport == PHONE)
    login(page, student)
    page.goto(f"/students/{student.profile_id}/history")
    expect(page.locator("tr[data-record-id]")).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text("Safeguarding")

    with page.expect_download() as download:
        page.click("#history-csv")
    with open(download.value.path(), encoding="utf-8") as csv_file:
        lines = csv_file.read().splitlines()
    header = lines[0].split(",")
    assert "notes" in header
    assert len(lines) == 2, lines
    assert "Safeguarding" not in "\n".join(lines)
    assert lines[1].split(",")[header.index("notes")] == ""
