"""The admin's attendance records: filtered and searchable list with pages, one record's page
with its audit trail, and deletion (an ENDED session's records by a superuser only)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import AttendanceChange, AttendanceStatus, Channel, ClassSession
from attendance_app.services.marking import attendance
from attendance_app.services.marking.deletion import ENDED_NEEDS_SUPERUSER
from attendance_app.services.reporting import records
from attendance_app.services.reporting.records import RecordFilters
from tests.factories import (
    actor,
    end_session,
    enroll,
    make_class,
    make_session,
    make_student,
    make_students,
    make_superuser,
    make_teacher,
    mark,
    mark_many,
    stored_attendance,
)
from tests.web.conftest import csrf_from, htmx_headers, parse

DAY1 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
DAY2 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def _listed(html: str) -> dict[str, str]:
    """The listed records: {record id: status}."""
    return {
        row.get("data-record-id"): row.get("data-status")
        for row in parse(html).find_all("tr", {"data-record-id": True})
    }


@pytest.fixture
def two_classes(app, classroom):
    """``classroom.klass`` (its teacher, DAY1: Adams PRESENT, Baker ABSENT, Clark LATE) and a
    second class of another subject and teacher (DAY2: the outsider PRESENT); record ids."""
    adams, baker, clark = classroom.klass.students
    first = make_session(app, classroom.klass, start_at=DAY1)
    ids = dict(
        zip(
            ("adams", "baker", "clark"),
            mark_many(
                app,
                classroom.klass,
                first,
                [(adams, "PRESENT"), (baker, "ABSENT"), (clark, "LATE")],
                at=DAY1 + timedelta(minutes=1),
            ),
            strict=True,
        )
    )
    other = make_class(
        app, admin=classroom.admin, teacher=classroom.other_teacher, students=[classroom.outsider]
    )
    second = make_session(app, other, start_at=DAY2)
    ids["outsider"] = mark(app, other, second, classroom.outsider, "PRESENT")
    return {"ids": {k: str(v) for k, v in ids.items()}, "other": other, "first": first}


# --- who may see it ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["teacher", "outsider"])
def test_non_admins_are_refused_every_record_page(app, classroom, browser_as, who):
    session_id = make_session(app, classroom.klass)
    record_id = mark(app, classroom.klass, session_id, classroom.klass.students[0], "PRESENT")
    client = browser_as(getattr(classroom, who))

    assert client.get("/admin/records").status_code == 403
    assert client.get(f"/admin/records/{record_id}").status_code == 403
    assert client.get(f"/admin/records/{record_id}/delete").status_code == 403
    page = client.get("/", follow_redirects=True)
    refused = client.post(
        f"/admin/records/{record_id}/delete", data={"csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 403
    assert stored_attendance(app, session_id) != {}
    assert "Attendance records" not in page.text


def test_admins_see_the_nav_link_and_every_record_newest_session_first(
    app, classroom, browser_as, two_classes
):
    client = browser_as(classroom.admin)
    home = client.get("/")
    assert 'href="/admin/records"' in home.text

    page = client.get("/admin/records")

    assert page.status_code == 200
    ids = two_classes["ids"]
    listed = _listed(page.text)
    assert listed == {
        ids["adams"]: "PRESENT",
        ids["baker"]: "ABSENT",
        ids["clark"]: "LATE",
        ids["outsider"]: "PRESENT",
    }
    assert next(iter(listed)) == ids["outsider"]  # DAY2's session first
    badges = {b.get("class") for b in parse(page.text).find_all("span") if b.get("class")}
    assert {"badge badge-present", "badge badge-absent", "badge badge-late"} <= badges


# --- filters and search ----------------------------------------------------------------------


def test_filters_narrow_the_list(app, classroom, browser_as, two_classes):
    client = browser_as(classroom.admin)
    ids = two_classes["ids"]
    other = two_classes["other"]
    teacher_id = classroom.klass.teacher.profile_id

    def listed(**args):
        page = client.get("/admin/records", query_string=args)
        assert page.status_code == 200
        return set(_listed(page.text))

    assert listed(status="late") == {ids["clark"]}
    assert listed(status="PRESENT") == {ids["adams"], ids["outsider"]}
    assert listed(subject_id=other.subject_id) == {ids["outsider"]}
    assert listed(class_id=classroom.klass.id) == {ids["adams"], ids["baker"], ids["clark"]}
    assert listed(teacher_id=teacher_id) == {ids["adams"], ids["baker"], ids["clark"]}
    assert listed(teacher_id=classroom.other_teacher.profile_id) == {ids["outsider"]}
    assert listed(date_from="2025-03-05") == {ids["outsider"]}
    assert listed(date_to="2025-03-03") == {ids["adams"], ids["baker"], ids["clark"]}
    assert listed(date_from="2025-03-04", date_to="2025-03-09") == set()
    assert listed(status="PRESENT", class_id=classroom.klass.id) == {ids["adams"]}


def test_bad_filter_values_are_reported_and_ignored(app, classroom, browser_as, two_classes):
    client = browser_as(classroom.admin)
    page = client.get("/admin/records?status=MAYBE&class_id=nope&date_from=yesterday")
    assert page.status_code == 200
    assert "Unknown status." in page.text
    assert "Unknown class." in page.text
    assert "From: “yesterday” is not a date (use YYYY-MM-DD), so it is not applied." in page.text
    assert len(_listed(page.text)) == 4


def test_search_by_name_number_or_email_case_insensitive(app, classroom, browser_as, two_classes):
    client = browser_as(classroom.admin)
    ids = two_classes["ids"]
    adams = classroom.klass.students[0]

    def found(q):
        return set(_listed(client.get("/admin/records", query_string={"q": q}).text))

    assert found("aDaMs") == {ids["adams"]}
    assert found(f"{adams.first_name} {adams.last_name}".upper()) == {ids["adams"]}
    assert found(adams.number.lower()) == {ids["adams"]}
    assert found(classroom.outsider.email.upper()) == {ids["outsider"]}
    assert found("nobody-like-this") == set()
    # LIKE wildcards are matched literally.
    assert found("%") == set()
    assert found("_") == set()


def test_pages_of_fifty_keep_the_filters(app, classroom, browser_as):
    crowd = make_students(app, 55)
    enroll(app, classroom.klass, crowd, admin=classroom.admin)
    session_id = make_session(app, classroom.klass, start_at=DAY1)
    mark_many(app, classroom.klass, session_id, [(s, "ABSENT") for s in crowd])
    mark(app, classroom.klass, session_id, classroom.klass.students[0], "PRESENT")
    client = browser_as(classroom.admin)

    first = client.get("/admin/records", query_string={"status": "ABSENT"})
    assert len(_listed(first.text)) == 50
    assert "Page 1 of 2" in first.text
    link = parse(first.text).one("a", {"rel": "next"}).get("href")
    args = parse_qs(urlsplit(link).query)
    assert args["status"] == ["ABSENT"] and args["page"] == ["2"]

    second = client.get(link)
    assert len(_listed(second.text)) == 5
    assert set(_listed(second.text).values()) == {"ABSENT"}
    assert not set(_listed(first.text)) & set(_listed(second.text))
    assert parse(second.text).find("a", {"rel": "next"}) is None


def test_the_list_costs_two_queries_whatever_its_size(app, classroom, two_classes, count_queries):
    with app.app_context():
        admin = actor(classroom.admin.user_id)
        with count_queries() as q:
            page = records.list_records(actor=admin, filters=RecordFilters(search="a"))
        assert page.total >= 1
        assert q.count == 2


def test_the_download_link_carries_the_list_filters(app, classroom, browser_as, two_classes):
    client = browser_as(classroom.admin)
    page = client.get(
        "/admin/records",
        query_string={
            "status": "PRESENT",
            "class_id": classroom.klass.id,
            "teacher_id": classroom.teacher.profile_id,
            "date_from": "2025-03-01",
            "date_to": "2025-03-31",
            "q": "adams",
        },
    )
    link = parse(page.text).one("a", {"id": "records-csv"})
    assert link.text == "Download CSV"
    url = urlsplit(link.get("href"))
    assert url.path == "/api/attendance/export.csv"
    assert parse_qs(url.query) == {
        "status": ["PRESENT"],
        "class_id": [str(classroom.klass.id)],
        "teacher_id": [str(classroom.teacher.profile_id)],
        "date_from": ["2025-03-01"],
        "date_to": ["2025-03-31"],
        "search": ["adams"],
    }

    download = client.get(link.get("href"))
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    lines = download.text.strip().splitlines()
    assert len(lines) == 2 and classroom.klass.students[0].last_name in lines[1]


@pytest.mark.parametrize(
    "filters",
    [
        {"teacher": "other"},
        {"teacher": "own", "status": "ABSENT"},
        {"teacher": "own", "q": "Baker, "},
        {"q": "ADAMS"},
        {"date_from": "2025-03-04", "date_to": "2025-03-31"},
        {"teacher": "own", "status": "LATE", "date_from": "2025-03-03", "date_to": "2025-03-03"},
    ],
    ids=["teacher", "teacher+status", "teacher+search", "search", "dates", "everything"],
)
def test_the_download_holds_exactly_the_records_the_page_lists(
    app, classroom, browser_as, two_classes, filters
):
    teachers = {"own": classroom.teacher.profile_id, "other": classroom.other_teacher.profile_id}
    args = dict(filters)
    if "teacher" in args:
        args["teacher_id"] = str(teachers[args.pop("teacher")])
    client = browser_as(classroom.admin)
    page = parse(client.get("/admin/records", query_string=args).text)
    listed = [
        row.find_all("td")[3].find("a").text
        for row in page.find_all("tr", {"data-record-id": True})
    ]
    total = int(page.one(attrs={"data-records-total": True}).get("data-records-total"))
    assert len(listed) == total
    assert 0 < total < 4  # the filters narrow the four records

    download = client.get(page.one("a", {"id": "records-csv"}).get("href"))
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == total
    assert sorted(f"{r['first_name']} {r['last_name']}" for r in rows) == sorted(listed)


def test_class_and_history_pages_offer_csv_downloads(app, classroom, browser_as, two_classes):
    client = browser_as(classroom.teacher)
    klass_page = parse(client.get(f"/classes/{classroom.klass.id}").text)
    register = klass_page.one("a", {"id": "register-csv"}).get("href")
    export = klass_page.one("a", {"id": "class-records-csv"}).get("href")
    assert register == f"/api/classes/{classroom.klass.id}/register.csv"
    assert export == f"/api/attendance/export.csv?class_id={classroom.klass.id}"
    assert client.get(register).status_code == 200
    assert client.get(export).status_code == 200

    student = classroom.klass.students[0]
    history = parse(client.get(f"/students/{student.profile_id}/history").text)
    link = history.one("a", {"id": "history-csv"}).get("href")
    assert link == f"/api/attendance/export.csv?student_id={student.profile_id}"
    assert client.get(link).status_code == 200


# --- one record -------------------------------------------------------------------------------


def test_the_record_page_shows_its_audit_trail_with_channels(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    student = classroom.klass.students[0]
    record_id = mark(app, classroom.klass, session_id, student, "PRESENT")  # via the API
    teacher = browser_as(classroom.teacher)
    roster = teacher.get(f"/sessions/{session_id}")
    tapped = teacher.post(
        f"/sessions/{session_id}/students/{student.profile_id}/status",
        data={"seen": "PRESENT", "key": "t1", "version": "1"},
        headers=htmx_headers(roster.text),
    )
    assert tapped.status_code == 200, tapped.text

    page = browser_as(classroom.admin).get(f"/admin/records/{record_id}")

    assert page.status_code == 200
    assert student.number in page.text and student.email in page.text
    trail = parse(page.text).one("table", {"class": "striped audit-table"})
    rows = trail.find_all("tr", {"data-channel": True})
    assert [r.get("data-channel") for r in rows] == ["API", "WEB"]
    assert "Not marked → Present" in rows[0].text
    assert "Present → Absent" in rows[1].text
    assert all(classroom.teacher.full_name in r.text for r in rows)


def test_an_unknown_record_is_404(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    assert client.get(f"/admin/records/{uuid.uuid4()}").status_code == 404


# --- deleting ---------------------------------------------------------------------------------


def _confirm_and_delete(client, record_id):
    confirm = client.get(f"/admin/records/{record_id}/delete")
    assert confirm.status_code == 200
    assert "Delete this record?" in confirm.text
    return client.post(
        f"/admin/records/{record_id}/delete", data={"csrf_token": csrf_from(confirm.text)}
    )


def _changes(app, session_id) -> list[AttendanceChange]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AttendanceChange)
                .where(AttendanceChange.session_id == session_id)
                .order_by(AttendanceChange.changed_at, AttendanceChange.id)
            )
        )
        db.session.expunge_all()
    return rows


def _live_seq(app, session_id) -> int:
    with app.app_context():
        seq = db.session.get(ClassSession, session_id).live_seq
        db.session.remove()
    return seq


def test_any_admin_deletes_a_record_of_an_active_session(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    student = classroom.klass.students[0]
    record_id = mark(app, classroom.klass, session_id, student, "LATE", notes="bus")
    seq = _live_seq(app, session_id)
    client = browser_as(classroom.admin)

    deleted = _confirm_and_delete(client, record_id)

    assert deleted.status_code == 302
    assert deleted.headers["Location"].endswith("/admin/records")
    assert "The attendance record was deleted." in client.get("/admin/records").text
    assert stored_attendance(app, session_id) == {}
    last = _changes(app, session_id)[-1]
    assert (last.old_status.value, last.new_status, last.old_notes) == ("LATE", None, "bus")
    assert (last.reason, last.actor_id, last.channel.value) == (
        "deleted",
        classroom.admin.user_id,
        "WEB",
    )
    assert _live_seq(app, session_id) == seq + 1


def test_a_plain_admin_cannot_delete_a_record_of_an_ended_session(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    record_id = mark(app, classroom.klass, session_id, classroom.klass.students[0], "PRESENT")
    end_session(app, classroom.klass, session_id)
    before = len(_changes(app, session_id))
    client = browser_as(classroom.admin)
    assert ENDED_NEEDS_SUPERUSER in client.get(f"/admin/records/{record_id}").text

    refused = _confirm_and_delete(client, record_id)

    assert refused.status_code == 403
    assert ENDED_NEEDS_SUPERUSER in refused.text
    assert len(stored_attendance(app, session_id)) == 1
    assert len(_changes(app, session_id)) == before


def test_a_superuser_deletes_a_record_of_an_ended_session(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    student = classroom.klass.students[0]
    record_id = mark(app, classroom.klass, session_id, student, "PRESENT")
    end_session(app, classroom.klass, session_id)
    superuser = make_superuser(app)

    deleted = _confirm_and_delete(browser_as(superuser), record_id)

    assert deleted.status_code == 302
    assert stored_attendance(app, session_id) == {}
    last = _changes(app, session_id)[-1]
    assert (last.reason, last.new_status, last.actor_id) == ("deleted", None, superuser.user_id)
    assert last.student_id == student.profile_id


def test_deleting_needs_the_csrf_token(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    record_id = mark(app, classroom.klass, session_id, classroom.klass.students[0], "PRESENT")
    client = browser_as(classroom.admin)

    refused = client.post(f"/admin/records/{record_id}/delete")

    assert refused.status_code == 400
    assert len(stored_attendance(app, session_id)) == 1


def test_a_deleted_record_is_gone_from_list_and_page(app, classroom, browser_as):
    session_id = make_session(app, classroom.klass)
    record_id = mark(app, classroom.klass, session_id, classroom.klass.students[0], "PRESENT")
    client = browser_as(classroom.admin)
    assert _confirm_and_delete(client, record_id).status_code == 302

    assert str(record_id) not in _listed(client.get("/admin/records").text)
    assert client.get(f"/admin/records/{record_id}").status_code == 404
    assert (
        client.post(
            f"/admin/records/{record_id}/delete",
            data={"csrf_token": csrf_from(client.get("/").text)},
        ).status_code
        == 404
    )


def test_every_teacher_is_a_teacher_filter_choice(app, classroom, browser_as):
    extra = make_teacher(app, last_name="Zimmer")
    make_class(app, admin=classroom.admin, teacher=extra, students=[make_student(app)])
    page = parse(browser_as(classroom.admin).get("/admin/records").text)
    options = [o.text for o in page.one("select", {"name": "teacher_id"}).find_all("option")]
    assert options[0] == "All teachers"
    assert any("Zimmer" in o for o in options)


def test_a_search_with_a_null_character_is_not_an_error(classroom, browser_as):
    response = browser_as(classroom.admin).get("/admin/records?q=Ad%00ams")

    assert response.status_code == 200


def test_a_period_that_ends_before_it_starts_lists_nothing_and_says_so(
    app, classroom, browser_as, two_classes
):
    page = browser_as(classroom.admin).get(
        "/admin/records", query_string={"date_from": "2025-03-10", "date_to": "2025-03-03"}
    )

    html = parse(page.text)
    assert page.status_code == 200
    assert "The start of the period must not be after its end." in html.text
    assert "No records are listed until the dates are fixed." in html.text
    assert html.find_all("tr", {"data-record-id": True}) == []
    assert html.find("a", {"id": "records-csv"}) is None
    # The dates stay in the form, to be corrected.
    assert html.one("input", {"name": "date_from"}).get("value") == "2025-03-10"


def test_a_changed_record_shows_when_it_was_marked_and_when_it_last_changed(
    app, classroom, browser_as, two_classes
):
    with app.app_context():
        attendance.update_attendance(
            actor=actor(classroom.teacher.user_id),
            attendance_id=uuid.UUID(two_classes["ids"]["baker"]),
            status=AttendanceStatus.LATE,
            channel=Channel.API,
            at=DAY1 + timedelta(minutes=20),
        )
        db.session.remove()

    html = parse(browser_as(classroom.admin).get("/admin/records").text)

    rows = {r.get("data-record-id"): r for r in html.find_all("tr", {"data-record-id": True})}
    changed = rows[two_classes["ids"]["baker"]].one("td", {"data-cell": "marked"})
    times = [t.get("datetime") for t in changed.find_all("time")]
    assert times == [
        (DAY1 + timedelta(minutes=1)).isoformat(),
        (DAY1 + timedelta(minutes=20)).isoformat(),
    ]
    assert "changed" in changed.text
    untouched = rows[two_classes["ids"]["adams"]].one("td", {"data-cell": "marked"})
    assert len(untouched.find_all("time")) == 1 and "changed" not in untouched.text
