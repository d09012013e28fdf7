"""Self check-in pages with Flask's test client: the roster's control, the projector page and
its panel, the student's page (login with ``next``, one tap, every refusal in words)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import segno

from attendance_app.extensions import db
from attendance_app.models import utcnow
from attendance_app.services.marking import check_in
from tests.factories import actor, end_session, make_class, make_session, mark
from tests.web.conftest import cells, csrf_from, htmx_headers, login_as, parse

WRONG_CODE = "Invalid or expired check-in code."
THROTTLED = "Too many wrong check-in codes for this session. Ask your teacher to mark you."


@pytest.fixture
def lesson(app, classroom):
    """An ACTIVE session of the school's class, started two minutes ago."""
    return make_session(app, classroom.klass, start_at=utcnow() - timedelta(minutes=2))


def projector(client, session_id):
    return client.get(f"/sessions/{session_id}/check-in-code")


def shown_code(client, session_id) -> str:
    doc = parse(projector(client, session_id).text)
    return doc.one(attrs={"id": "check-in-panel"}).get("data-code")


def check_in_form(client, session_id, code: str):
    page = client.get(f"/check-in?session={session_id}")
    return client.post(
        "/check-in",
        data={"session": str(session_id), "code": code, "csrf_token": csrf_from(page.text)},
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 500_000) % 1_000_000:06d}"


# --- the roster's control ---------------------------------------------------------------------


def test_an_active_sessions_roster_links_to_its_check_in_code(classroom, browser_as, lesson):
    doc = parse(browser_as(classroom.teacher).get(f"/sessions/{lesson}").text)

    link = doc.one("a", {"id": "check-in-code"})
    assert link.get("href") == f"/sessions/{lesson}/check-in-code"
    assert link.text == "Check-in code"


@pytest.mark.parametrize("state", ["scheduled", "ended"])
def test_a_session_not_running_offers_no_check_in_code(app, classroom, browser_as, state):
    session_id = make_session(app, classroom.klass, start=False, end=state == "ended")

    doc = parse(browser_as(classroom.teacher).get(f"/sessions/{session_id}").text)

    assert doc.find("a", {"id": "check-in-code"}) is None


# --- the projector page -------------------------------------------------------------------


def test_the_projector_shows_the_code_large_with_a_qr_code_of_the_students_page(
    classroom, browser_as, lesson
):
    response = projector(browser_as(classroom.teacher), lesson)

    assert response.status_code == 200
    doc = parse(response.text)
    panel = doc.one(attrs={"id": "check-in-panel"})
    code = panel.get("data-code")
    assert len(code) == 6 and code.isdigit()
    digits = doc.one("p", {"class": "check-in-code"})
    assert [span.text for span in digits.find_all("span")] == [code[:3], code[3:]]
    assert 0 < float(panel.get("data-expires-in")) <= 30
    assert panel.get("data-period") == "30"
    # The QR code holds the student's page pre-filled with the session and the code.
    link = panel.one("a")
    url = link.get("href")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "localhost", "/check-in")
    assert parse_qs(parts.query) == {"session": [str(lesson)], "code": [code]}
    expected_svg = segno.make(url, error="m").svg_inline(
        scale=1, border=2, dark="#000", light="#fff", omitsize=True, svgclass="qr-code"
    )
    assert expected_svg in response.text
    assert panel.one(attrs={"data-checked-in": True}).text == "0"
    assert doc.one(attrs={"data-stat": "not_marked"}).text == "3"


def test_the_projector_page_runs_under_the_strict_csp_with_no_inline_script(
    classroom, browser_as, lesson
):
    response = projector(browser_as(classroom.teacher), lesson)

    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    scripts = parse(response.text).find_all("script")
    assert scripts and all(s.get("src", "").startswith("/static/") for s in scripts)
    assert "style=" not in response.text


def test_the_code_shown_is_the_one_a_student_can_check_in_with(app, classroom, browser_as, lesson):
    code = shown_code(browser_as(classroom.teacher), lesson)
    student = classroom.klass.students[0]

    response = check_in_form(browser_as(student), lesson, code)

    assert response.status_code == 303


def test_an_admin_may_open_the_projector_page(classroom, browser_as, lesson):
    assert projector(browser_as(classroom.admin), lesson).status_code == 200


@pytest.mark.parametrize("who", ["other_teacher", "student"])
def test_others_may_not_open_the_projector_page(classroom, browser_as, lesson, who):
    person = classroom.other_teacher if who == "other_teacher" else classroom.klass.students[0]

    assert projector(browser_as(person), lesson).status_code == 403


def test_the_projector_page_of_an_unknown_session_is_404(classroom, browser_as):
    assert projector(browser_as(classroom.teacher), uuid.uuid4()).status_code == 404


def test_the_projector_page_of_an_ended_session_says_why_there_is_no_code(
    app, classroom, browser_as
):
    session_id = make_session(
        app,
        classroom.klass,
        end=True,
        start_at=datetime(2026, 1, 10, 13, 30, tzinfo=UTC),
        end_at=datetime(2026, 1, 10, 14, 30, tzinfo=UTC),
    )

    response = projector(browser_as(classroom.teacher), session_id)

    assert response.status_code == 400
    assert "Cannot mark attendance - session ended at 14:30 on Jan 10, 2026" in response.text
    assert parse(response.text).find(attrs={"id": "check-in-panel"}) is None


def test_the_projector_page_needs_a_login(client, lesson):
    response = projector(client, lesson)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_the_panel_gives_the_current_code_and_the_count_of_check_ins(
    app, classroom, browser_as, lesson
):
    teacher = browser_as(classroom.teacher)
    page = projector(teacher, lesson).text
    check_in_form(browser_as(classroom.klass.students[1]), lesson, shown_code(teacher, lesson))

    response = teacher.get(f"/sessions/{lesson}/check-in-code/panel", headers=htmx_headers(page))

    assert response.status_code == 200
    panel = parse(response.text).one(attrs={"id": "check-in-panel"})
    assert len(panel.get("data-code")) == 6
    assert panel.one(attrs={"data-checked-in": True}).text == "1"


def test_the_panel_of_an_ended_session_closes(app, classroom, browser_as, lesson):
    teacher = browser_as(classroom.teacher)
    page = projector(teacher, lesson).text
    end_session(app, classroom.klass, lesson)

    response = teacher.get(f"/sessions/{lesson}/check-in-code/panel", headers=htmx_headers(page))

    assert response.status_code == 400
    panel = parse(response.text).one(attrs={"id": "check-in-panel"})
    assert panel.get("data-closed") == "true"
    assert "session ended at" in panel.text


# --- the student's page ---------------------------------------------------------------------


def test_a_student_who_scans_the_qr_code_signs_in_and_comes_back_to_the_filled_page(
    app, classroom, lesson
):
    student = classroom.klass.students[0]
    client = app.test_client()
    target = f"/check-in?session={lesson}&code=123456"

    first = client.get(target)
    assert first.status_code == 302
    location = urlsplit(first.headers["Location"])
    assert location.path == "/login"
    next_url = parse_qs(location.query)["next"][0]
    assert next_url == target

    signed_in = login_as(client, student, next_url=next_url)
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == target

    doc = parse(client.get(target).text)
    form = doc.one("form", {"class": "check-in-form"})
    assert form.one("input", {"name": "session"}).get("value") == str(lesson)
    assert form.one("input", {"name": "code"}).get("value") == "123456"
    assert form.one("button", {"type": "submit"}).text == "Check in"
    assert classroom.klass.name in doc.one("p", {"class": "check-in-lesson"}).text


def test_one_tap_checks_the_student_in_and_the_page_says_present_kindly(
    app, classroom, browser_as, lesson
):
    code = shown_code(browser_as(classroom.teacher), lesson)
    student = browser_as(classroom.klass.students[0])

    response = check_in_form(student, lesson, code)

    assert response.status_code == 303
    assert response.headers["Location"] == f"/check-in?session={lesson}"
    doc = parse(student.get(response.headers["Location"]).text)
    result = doc.one(attrs={"data-check-in-status": True})
    assert result.get("data-check-in-status") == "PRESENT"
    assert "You're checked in. Welcome to" in result.text


def test_a_late_check_in_says_late_kindly_with_the_minutes(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass, start_at=utcnow() - timedelta(minutes=12))
    code = shown_code(browser_as(classroom.teacher), session_id)
    student = browser_as(classroom.klass.students[0])

    check_in_form(student, session_id, code)

    result = parse(student.get(f"/check-in?session={session_id}").text).one(
        attrs={"data-check-in-status": True}
    )
    assert result.get("data-check-in-status") == "LATE"
    assert "You're checked in as late (12 min after the start). Glad you made it" in result.text


def test_a_wrong_code_says_so_and_asks_for_the_code_shown_now(classroom, browser_as, lesson):
    code = shown_code(browser_as(classroom.teacher), lesson)

    response = check_in_form(browser_as(classroom.klass.students[0]), lesson, wrong(code))

    assert response.status_code == 400
    doc = parse(response.text)
    assert doc.one(attrs={"role": "alert", "class": "check-in-error"}).text == WRONG_CODE
    code_input = doc.one("input", {"name": "code"})
    assert code_input.get("value") == "" and code_input.get("aria-invalid") == "true"
    assert doc.one("input", {"name": "session"}).get("value") == str(lesson)


def test_after_five_wrong_codes_the_page_says_to_ask_the_teacher(classroom, browser_as, lesson):
    code = shown_code(browser_as(classroom.teacher), lesson)
    student = browser_as(classroom.klass.students[0])
    for _ in range(5):
        assert check_in_form(student, lesson, wrong(code)).status_code == 400

    response = check_in_form(student, lesson, code)

    assert response.status_code == 429
    assert "Retry-After" not in response.headers  # it lasts for the rest of the session
    assert parse(response.text).one(attrs={"class": "check-in-error"}).text == THROTTLED


def test_a_student_marked_by_the_teacher_is_told_so_instead_of_a_form(
    app, classroom, browser_as, lesson
):
    student = classroom.klass.students[0]
    mark(app, classroom.klass, lesson, student, "ABSENT")

    doc = parse(browser_as(student).get(f"/check-in?session={lesson}&code=123456").text)

    result = doc.one(attrs={"data-check-in-status": True})
    assert result.get("data-check-in-status") == "ABSENT"
    assert "Your teacher has already marked you absent" in result.text
    assert "tell your teacher" in result.text
    assert doc.find("form", {"class": "check-in-form"}) is None


def test_checking_in_when_already_marked_is_refused_with_rule_2s_message(
    app, classroom, browser_as, lesson
):
    code = shown_code(browser_as(classroom.teacher), lesson)
    student = classroom.klass.students[0]
    client = browser_as(student)
    page = client.get(f"/check-in?session={lesson}")
    mark(app, classroom.klass, lesson, student, "PRESENT")  # meanwhile, the teacher's tap

    response = client.post(
        "/check-in", data={"session": str(lesson), "code": code, "csrf_token": csrf_from(page.text)}
    )

    assert response.status_code == 409
    assert (
        parse(response.text).one(attrs={"class": "check-in-error"}).text
        == "Attendance already marked for this student in this session"
    )


def test_a_student_not_enrolled_is_told_so(app, classroom, browser_as, lesson):
    code = shown_code(browser_as(classroom.teacher), lesson)

    response = check_in_form(browser_as(classroom.outsider), lesson, code)

    assert response.status_code == 400
    assert parse(response.text).one(attrs={"class": "check-in-error"}).text == (
        f"Student '{classroom.outsider.number}' is not enrolled in '{classroom.klass.name}'"
    )


def test_an_ended_session_is_refused_with_its_end_time(app, classroom, browser_as):
    session_id = make_session(
        app,
        classroom.klass,
        end=True,
        start_at=datetime(2026, 1, 10, 13, 30, tzinfo=UTC),
        end_at=datetime(2026, 1, 10, 14, 30, tzinfo=UTC),
    )

    response = check_in_form(browser_as(classroom.klass.students[0]), session_id, "123456")

    assert response.status_code == 400
    assert parse(response.text).one(attrs={"class": "check-in-error"}).text == (
        "Cannot mark attendance - session ended at 14:30 on Jan 10, 2026"
    )


def test_an_empty_code_asks_for_it(classroom, browser_as, lesson):
    response = check_in_form(browser_as(classroom.klass.students[0]), lesson, "  ")

    assert response.status_code == 400
    assert (
        "Type the 6-digit code" in parse(response.text).one(attrs={"class": "check-in-error"}).text
    )


def test_a_check_in_without_the_csrf_token_is_refused(classroom, browser_as, lesson):
    client = browser_as(classroom.klass.students[0])

    response = client.post("/check-in", data={"session": str(lesson), "code": "123456"})

    assert response.status_code == 400


def test_the_only_running_lesson_is_chosen_for_a_student_who_opens_check_in(
    classroom, browser_as, lesson
):
    doc = parse(browser_as(classroom.klass.students[0]).get("/check-in").text)

    form = doc.one("form", {"class": "check-in-form"})
    assert form.one("input", {"name": "session"}).get("value") == str(lesson)
    assert form.one("input", {"name": "code"}).has("autofocus")


def test_a_student_with_two_running_lessons_chooses_one(app, classroom, browser_as, lesson):
    student = classroom.klass.students[0]
    other = make_class(app, admin=classroom.admin, students=[student])
    other_session = make_session(app, other)

    doc = parse(browser_as(student).get("/check-in").text)

    choices = doc.find_all("input", {"type": "radio", "name": "session"})
    assert sorted(c.get("value") for c in choices) == sorted([str(lesson), str(other_session)])


def test_a_student_with_no_running_lesson_is_told_so(app, classroom, browser_as):
    make_session(app, classroom.klass, start=False)

    doc = parse(browser_as(classroom.klass.students[0]).get("/check-in").text)

    assert "None of your lessons is running now" in doc.text
    assert doc.find("button", {"id": "check-in-button"}) is None


def test_teachers_are_told_check_in_is_for_students(classroom, browser_as):
    response = browser_as(classroom.teacher).get("/check-in")

    assert response.status_code == 403
    assert "Check-in is for students" in response.text


# --- the roster tile ----------------------------------------------------------------------


def test_the_roster_tile_says_checked_in_until_the_teacher_corrects_it(
    app, classroom, browser_as, lesson
):
    student = classroom.klass.students[0]
    with app.app_context():
        code = check_in.check_in_code(
            actor=actor(classroom.teacher.user_id), session_id=lesson
        ).code
        check_in.check_in(actor=actor(student.user_id), session_id=lesson, code=code)
        db.session.remove()
    teacher = browser_as(classroom.teacher)
    page = teacher.get(f"/sessions/{lesson}").text

    tile = cells(page)[str(student.profile_id)]
    assert tile.get("data-status") == "PRESENT"
    assert tile.one("span", {"class": "checked-in-marker"}).text == "Checked in"
    # The button's text is its accessible name: it says so to a screen reader too.
    assert "Checked in" in tile.one("button", {"class": "cell-tap"}).text

    tapped = teacher.post(
        f"/sessions/{lesson}/students/{student.profile_id}/status",
        data={"seen": "PRESENT", "version": tile.get("data-version")},
        headers=htmx_headers(page),
    )

    tile = cells(tapped.text)[str(student.profile_id)]
    assert tile.get("data-status") == "ABSENT"
    assert tile.find("span", {"class": "checked-in-marker"}) is None


def test_a_teachers_mark_shows_no_checked_in_marker(app, classroom, browser_as, lesson):
    student = classroom.klass.students[1]
    mark(app, classroom.klass, lesson, student, "PRESENT")

    page = browser_as(classroom.teacher).get(f"/sessions/{lesson}").text

    tile = cells(page)[str(student.profile_id)]
    assert tile.find("span", {"class": "checked-in-marker"}) is None


def test_with_public_url_set_the_qr_code_links_to_the_public_address(
    app, classroom, browser_as, lesson
):
    app.config["PUBLIC_URL"] = "https://attendance.school.example/"
    try:
        doc = parse(projector(browser_as(classroom.teacher), lesson).text)
    finally:
        app.config["PUBLIC_URL"] = None

    panel = doc.one(attrs={"id": "check-in-panel"})
    assert (
        panel.one("a")
        .get("href")
        .startswith(f"https://attendance.school.example/check-in?session={lesson}&code=")
    )
    assert "https://attendance.school.example/check-in" in panel.one("figcaption").text
