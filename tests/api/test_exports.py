"""GET /api/attendance/export.csv and GET /api/classes/{id}/register.csv: headers, rows and
their order, filters, who may export what, formula-safe cells, quoting, streaming."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from attendance_app.extensions import db
from attendance_app.services.reporting import exports
from tests.factories import (
    PASSWORD,
    ClassInfo,
    Person,
    TwoTeacherSchool,
    end_session,
    enroll,
    make_admin,
    make_class,
    make_session,
    make_student,
    make_students,
    make_teacher,
    mark,
    mark_many,
    unenroll,
)

EXPORT = "/api/attendance/export.csv"
HEADER = [
    "date",
    "start_time",
    "class_name",
    "subject_code",
    "student_number",
    "last_name",
    "first_name",
    "status",
    "marked_at",
    "marked_by",
    "notes",
    "excused",
    "absence_reason",
]
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


def register_url(class_id) -> str:
    return f"/api/classes/{class_id}/register.csv"


def at(day: int, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)


def table(resp) -> list[list[str]]:
    """The response body parsed as CSV (header row included)."""
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return list(csv.reader(io.StringIO(resp.get_data().decode("utf-8"), newline="")))


def records(resp) -> list[dict[str, str]]:
    """The data rows of an export as dicts keyed by the header."""
    header, *rows = table(resp)
    assert header == HEADER
    return [dict(zip(header, row, strict=True)) for row in rows]


def who_and_where(resp) -> list[tuple[str, str, str]]:
    """(start_time, last_name, first_name) of every exported row, in order."""
    return [(r["start_time"], r["last_name"], r["first_name"]) for r in records(resp)]


@pytest.fixture
def export_sessions(app, two_teacher_school) -> dict[str, uuid.UUID]:
    """The records of ``two_teacher_school`` the exports read, by session key:

    s1 math Jan 10 09:00 ENDED:  Zed PRESENT 09:01, Cara ABSENT 09:05, Ann LATE 09:12 "bus"
    h1 hist Jan 10 12:00 ENDED:  Ann PRESENT 12:02, Cara PRESENT 12:03
    s2 math Jan 11 09:00 ENDED:  Zed ABSENT 09:02, Ann PRESENT 09:03 (Cara not marked)
    s3 math Jan 12 09:00 ACTIVE: Cara PRESENT 09:01, Zed PRESENT 09:02, Ann ABSENT 09:03
    plus a SCHEDULED math session ("scheduled") with no records.
    """
    math, hist = two_teacher_school.math, two_teacher_school.hist
    cara, ann, zed = two_teacher_school.cara, two_teacher_school.ann, two_teacher_school.zed
    plan = [
        ("s1", math, at(10, 9), [(zed, "PRESENT", 1, None), (cara, "ABSENT", 5, None),
                                 (ann, "LATE", 12, "bus")], True),
        ("h1", hist, at(10, 12), [(ann, "PRESENT", 2, None), (cara, "PRESENT", 3, None)], True),
        ("s2", math, at(11, 9), [(zed, "ABSENT", 2, None), (ann, "PRESENT", 3, None)], True),
        ("s3", math, at(12, 9), [(cara, "PRESENT", 1, None), (zed, "PRESENT", 2, None),
                                 (ann, "ABSENT", 3, None)], False),
    ]  # fmt: skip
    sessions = {}
    for key, klass, start, marks, ended in plan:
        sid = make_session(app, klass, start_at=start)
        for student, status, minute, notes in marks:
            mark(
                app, klass, sid, student, status, notes=notes, at=start + timedelta(minutes=minute)
            )
        if ended:
            end_session(app, klass, sid, at=start + timedelta(minutes=45))
        sessions[key] = sid
    sessions["scheduled"] = make_session(app, math, start=False)
    return sessions


ALL_ROWS = [
    ("2026-01-10T09:00:00Z", "Adams", "Cara"),
    ("2026-01-10T09:00:00Z", "Baker", "Ann"),
    ("2026-01-10T09:00:00Z", "Baker", "Zed"),
    ("2026-01-10T12:00:00Z", "Adams", "Cara"),
    ("2026-01-10T12:00:00Z", "Baker", "Ann"),
    ("2026-01-11T09:00:00Z", "Baker", "Ann"),
    ("2026-01-11T09:00:00Z", "Baker", "Zed"),
    ("2026-01-12T09:00:00Z", "Adams", "Cara"),
    ("2026-01-12T09:00:00Z", "Baker", "Ann"),
    ("2026-01-12T09:00:00Z", "Baker", "Zed"),
]
MATH_ROWS = [row for row in ALL_ROWS if not row[0].endswith("12:00:00Z")]


def today_stamps() -> set[str]:
    """Today's UTC date as YYYYMMDD (and tomorrow's, should the test straddle midnight)."""
    now = datetime.now(UTC)
    return {now.strftime("%Y%m%d"), (now + timedelta(minutes=1)).strftime("%Y%m%d")}


# --- the export: headers and body --------------------------------------------------------


def test_the_export_is_a_utf8_csv_attachment_named_for_today(
    api_as, two_teacher_school, export_sessions
):
    resp = api_as(two_teacher_school.admin).get(EXPORT)

    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = resp.headers["Content-Disposition"]
    found = re.fullmatch(r'attachment; filename="attendance-(\d{8})\.csv"', disposition)
    assert found, disposition
    assert found.group(1) in today_stamps()
    assert resp.headers["Cache-Control"] == "no-store"
    resp.close()


def test_the_export_starts_with_the_exact_header_row(api_as, two_teacher_school, export_sessions):
    resp = api_as(two_teacher_school.admin).get(EXPORT)

    first_line = resp.get_data().decode("utf-8").splitlines()[0]

    assert first_line == ",".join(HEADER)


def test_an_exported_row_carries_the_record_its_session_and_its_marker(
    api_as, two_teacher_school, export_sessions
):
    resp = api_as(two_teacher_school.admin).get(
        EXPORT, query_string={"session_id": export_sessions["s1"]}
    )

    rows = records(resp)

    assert rows[1] == {
        "date": "2026-01-10",
        "start_time": "2026-01-10T09:00:00Z",
        "class_name": "Algebra A",
        "subject_code": "MATH101",
        "student_number": "S10002",
        "last_name": "Baker",
        "first_name": "Ann",
        "status": "LATE",
        "marked_at": "2026-01-10T09:12:00Z",
        "marked_by": "Tina Lee",
        "notes": "bus",
        "excused": "false",
        "absence_reason": "",
    }
    assert rows[0]["notes"] == ""
    assert {r["marked_by"] for r in rows} == {"Tina Lee"}


def test_rows_follow_session_start_then_last_and_first_name(
    api_as, two_teacher_school, export_sessions
):
    resp = api_as(two_teacher_school.admin).get(EXPORT)

    assert who_and_where(resp) == ALL_ROWS


def test_the_date_is_the_sessions_start_date_in_utc_at_the_day_boundaries(
    app, api_as, two_teacher_school, export_sessions
):
    late = make_session(
        app, two_teacher_school.math, start_at=datetime(2026, 1, 13, 23, 59, 59, tzinfo=UTC)
    )
    early = make_session(app, two_teacher_school.math, start_at=at(14, 0))
    mark(app, two_teacher_school.math, late, two_teacher_school.ann, "PRESENT", at=at(14, 0, 0, 30))
    mark(app, two_teacher_school.math, early, two_teacher_school.ann, "LATE", at=at(14, 0, 5))
    api = api_as(two_teacher_school.admin)

    both = records(api.get(EXPORT, query_string={"date_from": "2026-01-13"}))
    only_14th = records(api.get(EXPORT, query_string={"date_from": "2026-01-14"}))
    only_13th = records(
        api.get(EXPORT, query_string={"date_from": "2026-01-13", "date_to": "2026-01-13"})
    )

    assert [(r["date"], r["start_time"]) for r in both] == [
        ("2026-01-13", "2026-01-13T23:59:59Z"),
        ("2026-01-14", "2026-01-14T00:00:00Z"),
    ]
    assert [r["status"] for r in only_14th] == ["LATE"]
    assert [r["status"] for r in only_13th] == ["PRESENT"]


# --- the export: filters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ALL_ROWS),
        ({"session_id": "s1"}, ALL_ROWS[0:3]),
        ({"class_id": "hist"}, ALL_ROWS[3:5]),
        ({"student_id": "ann"}, [r for r in ALL_ROWS if r[2] == "Ann"]),
        ({"subject_id": "math"}, MATH_ROWS),
        (
            {"status": "PRESENT"},
            [ALL_ROWS[i] for i in (2, 3, 4, 5, 7, 9)],
        ),
        ({"status": "LATE"}, [ALL_ROWS[1]]),
        ({"date_from": "2026-01-11"}, ALL_ROWS[5:]),
        ({"date_to": "2026-01-10"}, ALL_ROWS[:5]),
        ({"date_from": "2026-01-11", "date_to": "2026-01-11"}, ALL_ROWS[5:7]),
        ({"class_id": "math", "status": "ABSENT"}, [ALL_ROWS[0], ALL_ROWS[6], ALL_ROWS[8]]),
        ({"student_id": "cara", "subject_id": "hist"}, [ALL_ROWS[3]]),
        ({"teacher_id": "tina"}, MATH_ROWS),
        ({"teacher_id": "hal"}, ALL_ROWS[3:5]),
        ({"teacher_id": "tina", "status": "LATE"}, [ALL_ROWS[1]]),
        ({"search": "Baker, Ann"}, [r for r in ALL_ROWS if r[2] == "Ann"]),
        ({"search": "BAKER"}, [r for r in ALL_ROWS if r[1] == "Baker"]),
        ({"search": "s10001"}, [r for r in ALL_ROWS if r[2] == "Cara"]),
        ({"search": "ádams cára", "teacher_id": "hal"}, [ALL_ROWS[3]]),
    ],
)
def test_each_filter_narrows_the_export(
    api_as, two_teacher_school, export_sessions, params, expected
):
    query = {
        name: resolve(two_teacher_school, export_sessions, name, value)
        for name, value in params.items()
    }

    resp = api_as(two_teacher_school.admin).get(EXPORT, query_string=query)

    assert who_and_where(resp) == expected


def resolve(school: TwoTeacherSchool, sessions: dict[str, uuid.UUID], name: str, value: str):
    """A filter value of the parametrised tables: fixture names become their ids."""
    if name == "session_id":
        return sessions[value]
    if name == "class_id":
        return getattr(school, value).id
    if name == "subject_id":
        return getattr(school, value).subject_id
    if name in ("student_id", "teacher_id"):
        return getattr(school, value).profile_id
    return value


def test_filters_naming_nothing_export_only_the_header(api_as, two_teacher_school, export_sessions):
    api = api_as(two_teacher_school.admin)

    for name in ("session_id", "class_id", "student_id", "subject_id", "teacher_id"):
        rows = table(api.get(EXPORT, query_string={name: str(uuid.uuid4())}))
        assert rows == [HEADER], name


@pytest.mark.parametrize(
    ("params", "body"),
    [
        ({"date_from": "2026-13-01"}, {"date_from": ["Date has wrong format. Use YYYY-MM-DD."]}),
        ({"date_to": "10/01/2026"}, {"date_to": ["Date has wrong format. Use YYYY-MM-DD."]}),
        ({"session_id": "nope"}, {"session_id": ["Must be a valid UUID."]}),
        ({"class_id": "123"}, {"class_id": ["Must be a valid UUID."]}),
        ({"student_id": "S10002"}, {"student_id": ["Must be a valid UUID."]}),
        ({"subject_id": "MATH101"}, {"subject_id": ["Must be a valid UUID."]}),
        ({"teacher_id": "Tina"}, {"teacher_id": ["Must be a valid UUID."]}),
        ({"status": "FOO"}, {"status": ['"FOO" is not a valid choice.']}),
        ({"status": "present"}, {"status": ['"present" is not a valid choice.']}),
    ],
)
def test_a_bad_filter_is_a_json_400_on_its_name_before_any_csv(app, api_as, params, body):
    resp = api_as(make_admin(app)).get(EXPORT, query_string=params)

    assert resp.status_code == 400
    assert resp.is_json
    assert resp.json == body
    assert "Content-Disposition" not in resp.headers


def test_every_bad_filter_is_reported_at_once(app, api_as):
    resp = api_as(make_admin(app)).get(
        EXPORT, query_string={"date_from": "x", "status": "FOO", "class_id": "y"}
    )

    assert resp.status_code == 400
    assert set(resp.json) == {"date_from", "status", "class_id"}


def test_the_export_needs_authentication(client):
    resp = client.get(EXPORT)

    assert resp.status_code == 401
    assert resp.json == {"detail": "Authentication credentials were not provided."}


# --- the export: who may read what --------------------------------------------------------


def test_a_teacher_exports_only_records_of_their_classes(
    api_as, two_teacher_school, export_sessions
):
    tina = records(api_as(two_teacher_school.tina).get(EXPORT))
    hal = records(api_as(two_teacher_school.hal).get(EXPORT))

    assert [(r["start_time"], r["last_name"], r["first_name"]) for r in tina] == MATH_ROWS
    assert {r["class_name"] for r in tina} == {"Algebra A"}
    assert {r["class_name"] for r in hal} == {"History B"}
    assert len(hal) == 2


def test_a_teacher_naming_a_class_they_do_not_teach_is_refused(
    api_as, two_teacher_school, export_sessions
):
    api = api_as(two_teacher_school.tina)

    for class_id in (two_teacher_school.hist.id, uuid.uuid4()):
        resp = api.get(EXPORT, query_string={"class_id": class_id})
        assert resp.status_code == 403
        assert resp.json == FORBIDDEN
    assert records(api.get(EXPORT, query_string={"class_id": two_teacher_school.math.id}))


def test_a_teacher_naming_another_teacher_gets_no_records_only_their_own_classes(
    api_as, two_teacher_school, export_sessions
):
    api = api_as(two_teacher_school.tina)

    theirs = table(api.get(EXPORT, query_string={"teacher_id": two_teacher_school.hal.profile_id}))
    own = who_and_where(
        api.get(EXPORT, query_string={"teacher_id": two_teacher_school.tina.profile_id})
    )

    assert theirs == [HEADER]
    assert own == MATH_ROWS


def test_a_search_never_widens_a_students_own_export(api_as, two_teacher_school, export_sessions):
    resp = api_as(two_teacher_school.ann).get(
        EXPORT, query_string={"student_id": two_teacher_school.ann.profile_id, "search": "Adams"}
    )

    assert table(resp) == [HEADER]


def test_a_teacher_naming_a_session_of_another_class_is_refused(
    api_as, two_teacher_school, export_sessions
):
    resp = api_as(two_teacher_school.tina).get(
        EXPORT, query_string={"session_id": export_sessions["h1"]}
    )

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_a_teacher_naming_a_student_gets_only_that_students_records_of_their_classes(
    api_as, two_teacher_school, export_sessions
):
    resp = api_as(two_teacher_school.tina).get(
        EXPORT, query_string={"student_id": two_teacher_school.ann.profile_id}
    )

    assert [(r["class_name"], r["status"]) for r in records(resp)] == [
        ("Algebra A", "LATE"),
        ("Algebra A", "PRESENT"),
        ("Algebra A", "ABSENT"),
    ]


def test_a_teacher_naming_a_student_they_never_taught_is_refused(
    api_as, two_teacher_school, export_sessions
):
    resp = api_as(two_teacher_school.tina).get(
        EXPORT, query_string={"student_id": two_teacher_school.olga.profile_id}
    )

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_a_student_exports_their_own_records_naming_their_student_id(
    api_as, two_teacher_school, export_sessions
):

    resp = api_as(two_teacher_school.ann).get(
        EXPORT, query_string={"student_id": two_teacher_school.ann.profile_id}
    )

    rows = records(resp)
    assert [(r["class_name"], r["status"]) for r in rows] == [
        ("Algebra A", "LATE"),
        ("History B", "PRESENT"),
        ("Algebra A", "PRESENT"),
        ("Algebra A", "ABSENT"),
    ]
    assert {r["student_number"] for r in rows} == {"S10002"}


def test_a_students_own_export_takes_the_other_filters(api_as, two_teacher_school, export_sessions):

    resp = api_as(two_teacher_school.ann).get(
        EXPORT,
        query_string={
            "student_id": two_teacher_school.ann.profile_id,
            "class_id": two_teacher_school.hist.id,
        },
    )

    assert [r["class_name"] for r in records(resp)] == ["History B"]


def test_a_students_own_export_never_carries_the_staff_notes_on_their_records(
    api_as, two_teacher_school, export_sessions
):
    # Ann's LATE in s1 carries the teacher's note "bus"; notes are staff-only.

    resp = api_as(two_teacher_school.ann).get(
        EXPORT,
        query_string={
            "student_id": two_teacher_school.ann.profile_id,
            "session_id": export_sessions["s1"],
        },
    )

    rows = records(resp)
    assert [(r["status"], r["notes"]) for r in rows] == [("LATE", "")]


@pytest.mark.parametrize("reader", ["tina", "admin"])
def test_staff_exports_carry_the_notes(api_as, two_teacher_school, export_sessions, reader):

    resp = api_as(getattr(two_teacher_school, reader)).get(
        EXPORT,
        query_string={
            "student_id": two_teacher_school.ann.profile_id,
            "session_id": export_sessions["s1"],
        },
    )

    assert [(r["status"], r["notes"]) for r in records(resp)] == [("LATE", "bus")]


@pytest.mark.parametrize("named", [None, "zed", "unknown"])
def test_a_student_without_their_own_student_id_is_refused(
    api_as, two_teacher_school, export_sessions, named
):
    ids = {"zed": two_teacher_school.zed.profile_id, "unknown": uuid.uuid4()}
    query = {"student_id": ids[named]} if named else {}

    resp = api_as(two_teacher_school.ann).get(EXPORT, query_string=query)

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_shape_errors_come_before_permissions(api_as, two_teacher_school, export_sessions):

    resp = api_as(two_teacher_school.ann).get(EXPORT, query_string={"status": "FOO"})

    assert resp.status_code == 400
    assert resp.json == {"status": ['"FOO" is not a valid choice.']}


# --- the export: cells -------------------------------------------------------------------


@pytest.fixture
def one_session(app):
    """A class of one teacher and six students in an ACTIVE session; (admin, class, id)."""
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=6, name="Safety 1", subject_code="SAFE1")
    return admin, klass, make_session(app, klass, start_at=at(20, 9))


@pytest.mark.parametrize(
    ("notes", "cell"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+41 79 000", "'+41 79 000"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tHYPERLINK", "'\tHYPERLINK"),
        ("\rLATE", "'\rLATE"),
        ("fine = ok", "fine = ok"),
        ("'quoted", "'quoted"),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_as_a_formula_is_prefixed(
    app, api_as, one_session, notes, cell
):
    admin, klass, sid = one_session
    mark(app, klass, sid, klass.students[0], "PRESENT", notes=notes)

    (row,) = records(api_as(admin).get(EXPORT))

    assert row["notes"] == cell


def test_a_name_starting_with_a_formula_character_is_prefixed(app, api_as, one_session):
    admin, klass, sid = one_session
    evil = make_student(app, first_name='=HYPERLINK("http://x")', last_name="-Minus")
    enroll(app, klass, [evil], admin=admin)
    mark(app, klass, sid, evil, "LATE")

    (row,) = records(api_as(admin).get(EXPORT))

    assert row["first_name"] == '\'=HYPERLINK("http://x")'
    assert row["last_name"] == "'-Minus"


def test_spreadsheet_safe_is_the_one_rule_for_every_cell():
    assert [exports.spreadsheet_safe(v) for v in ("=1", "+1", "-1", "@1", "\t1", "\r1")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@1",
        "'\t1",
        "'\r1",
    ]
    assert exports.spreadsheet_safe("S12345") == "S12345"
    assert exports.spreadsheet_safe(66.67) == "66.67"
    assert exports.spreadsheet_safe(None) == ""
    assert exports.spreadsheet_safe("") == ""


def test_commas_quotes_and_newlines_in_notes_round_trip(app, api_as, one_session):
    admin, klass, sid = one_session
    tricky = [
        'He said "hi", then left',
        "line one\nline two",
        "a,b,c",
        'crlf\r\nand "quotes"',
    ]
    for student, notes in zip(klass.students, tricky, strict=False):
        mark(app, klass, sid, student, "PRESENT", notes=notes)
    resp = api_as(admin).get(EXPORT)
    raw = resp.get_data().decode("utf-8")

    assert sorted(r["notes"] for r in records(resp)) == sorted(tricky)
    assert '"He said ""hi"", then left"' in raw
    assert '"a,b,c"' in raw


def test_names_and_notes_are_utf8(app, api_as):
    admin = make_admin(app)
    teacher = make_teacher(app, first_name="Šárka", last_name="Dvořák")
    zoe = make_student(app, first_name="Zoë", last_name="Ångström", number="S-ÆØ1")
    klass = make_class(
        app, admin=admin, teacher=teacher, students=[zoe], name="Mathé Ü", subject_code="MÄTH1"
    )
    sid = make_session(app, klass, start_at=at(20, 9))
    mark(app, klass, sid, zoe, "PRESENT", notes="naïve — ✓ 日本")

    resp = api_as(admin).get(EXPORT)
    body = resp.get_data()

    assert "Ångström".encode() in body
    (row,) = records(resp)
    assert (row["first_name"], row["last_name"], row["class_name"], row["subject_code"]) == (
        "Zoë",
        "Ångström",
        "Mathé Ü",
        "MÄTH1",
    )
    assert row["marked_by"] == "Šárka Dvořák"
    assert row["notes"] == "naïve — ✓ 日本"
    assert row["student_number"] == "S-ÆØ1"


def test_a_record_whose_marker_was_deleted_exports_an_empty_marked_by(app, api_as, one_session):
    _admin, klass, sid = one_session
    mark(app, klass, sid, klass.students[0], "PRESENT")
    other = make_admin(app)
    with app.app_context():
        # No service deletes users; the column is ON DELETE SET NULL, so write it as the
        # database would after one.
        from sqlalchemy import update

        from attendance_app.models import Attendance

        db.session.execute(update(Attendance).values(marked_by_id=None))
        db.session.commit()
        db.session.remove()

    (row,) = records(api_as(other).get(EXPORT))

    assert row["marked_by"] == ""


# --- the export: streaming ---------------------------------------------------------------


def build_big_class(app) -> tuple[Person, ClassInfo]:
    """100 students × 25 sessions = 2,500 records, marked in bulk through the service."""
    admin = make_admin(app)
    students = make_students(app, 100)
    klass = make_class(app, admin=admin, students=students, subject_code="BIG1")
    statuses = ["PRESENT", "LATE", "ABSENT", "PRESENT"]
    for day in range(25):
        start = datetime(2026, 2, 1, 9, tzinfo=UTC) + timedelta(days=day)
        sid = make_session(app, klass, start_at=start)
        mark_many(
            app,
            klass,
            sid,
            [(s, statuses[(i + day) % 4]) for i, s in enumerate(students)],
            at=start + timedelta(minutes=2),
        )
    return admin, klass


@pytest.fixture
def big_class(app) -> tuple[Person, ClassInfo]:
    return build_big_class(app)


# --- the export: browser cookie -----------------------------------------------------------


def login(client, person: Person) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token"\s+content="([^"]+)"', page) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', page
    )
    assert token, "the login page carries no CSRF token"
    resp = client.post(
        "/login", data={"email": person.email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert resp.status_code == 302


def test_a_logged_in_teacher_exports_with_the_login_cookie(
    client, two_teacher_school, export_sessions
):
    login(client, two_teacher_school.tina)

    resp = client.get(EXPORT)

    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert who_and_where(resp) == MATH_ROWS
    assert table(client.get(register_url(two_teacher_school.math.id)))[0][0] == "student_number"


# --- the register ------------------------------------------------------------------------


def test_the_register_is_a_csv_attachment_named_for_the_subject_and_today(
    api_as, two_teacher_school, export_sessions
):
    resp = api_as(two_teacher_school.tina).get(register_url(two_teacher_school.math.id))

    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    found = re.fullmatch(
        r'attachment; filename="register-MATH101-(\d{8})\.csv"',
        resp.headers["Content-Disposition"],
    )
    assert found, resp.headers["Content-Disposition"]
    assert found.group(1) in today_stamps()
    resp.close()


def test_the_register_grid_has_students_by_name_against_started_sessions_oldest_first(
    api_as, two_teacher_school, export_sessions
):
    resp = api_as(two_teacher_school.tina).get(register_url(two_teacher_school.math.id))

    assert table(resp) == [
        [
            "student_number",
            "last_name",
            "first_name",
            "2026-01-10T09:00:00Z",
            "2026-01-11T09:00:00Z",
            "2026-01-12T09:00:00Z",
            "attendance_rate",
        ],
        ["S10001", "Adams", "Cara", "A", "", "P", "50.0"],
        ["S10002", "Baker", "Ann", "L", "P", "A", "66.67"],
        ["S10003", "Baker", "Zed", "P", "A", "P", "66.67"],
    ]


def record_of(app, session_id, student) -> uuid.UUID:
    from sqlalchemy import select

    from attendance_app.extensions import db
    from attendance_app.models import Attendance

    with app.app_context():
        found = db.session.scalar(
            select(Attendance.id).where(
                Attendance.session_id == session_id, Attendance.student_id == student.profile_id
            )
        )
        db.session.remove()
    return found


def test_the_export_says_which_records_are_excused_and_why(
    app, api_as, two_teacher_school, export_sessions
):
    cara_s1 = record_of(app, export_sessions["s1"], two_teacher_school.cara)
    ann_s1 = record_of(app, export_sessions["s1"], two_teacher_school.ann)
    api = api_as(two_teacher_school.admin)
    assert (
        api.post(f"/api/attendance/{cara_s1}/excuse/", json={"reason": "ILLNESS"}).status_code
        == 200
    )
    assert (
        api.post(f"/api/attendance/{ann_s1}/excuse/", json={"reason": "FAMILY"}).status_code == 200
    )

    rows = records(api.get(EXPORT, query_string={"session_id": export_sessions["s1"]}))

    assert [(r["first_name"], r["status"], r["excused"], r["absence_reason"]) for r in rows] == [
        ("Cara", "ABSENT", "true", "ILLNESS"),
        ("Ann", "LATE", "true", "FAMILY"),
        ("Zed", "PRESENT", "false", ""),
    ]


def test_a_students_own_export_shows_their_excuses(
    app, api_as, two_teacher_school, export_sessions
):
    from attendance_app.services.school import tokens
    from tests.factories import PASSWORD

    cara_s1 = record_of(app, export_sessions["s1"], two_teacher_school.cara)
    api_as(two_teacher_school.tina).post(
        f"/api/attendance/{cara_s1}/excuse/", json={"reason": "MEDICAL"}
    )
    with app.app_context():
        token = tokens.issue_token(email=two_teacher_school.cara.email, password=PASSWORD).token

    resp = api_as(token).get(
        EXPORT, query_string={"student_id": two_teacher_school.cara.profile_id}
    )

    excused = [(r["date"], r["absence_reason"]) for r in records(resp) if r["excused"] == "true"]
    assert excused == [("2026-01-10", "MEDICAL")]


def test_the_register_shows_an_excused_absence_as_e_and_an_excused_late_as_l(
    app, api_as, two_teacher_school, export_sessions
):
    api = api_as(two_teacher_school.tina)
    for session_key, student in (
        ("s1", two_teacher_school.cara),
        ("s1", two_teacher_school.ann),
        ("s3", two_teacher_school.ann),
    ):
        record_id = record_of(app, export_sessions[session_key], student)
        assert (
            api.post(f"/api/attendance/{record_id}/excuse/", json={"reason": "OTHER"}).status_code
            == 200
        )

    rows = table(api.get(register_url(two_teacher_school.math.id)))[1:]

    assert rows == [
        ["S10001", "Adams", "Cara", "E", "", "P", "50.0"],
        ["S10002", "Baker", "Ann", "L", "P", "E", "66.67"],
        ["S10003", "Baker", "Zed", "P", "A", "P", "66.67"],
    ]


def test_the_register_lists_enrolled_students_only(
    app, api_as, two_teacher_school, export_sessions
):
    unenroll(app, two_teacher_school.math, two_teacher_school.zed, admin=two_teacher_school.admin)
    newcomer = make_student(app, first_name="Bea", last_name="Able", number="S10009")
    enroll(app, two_teacher_school.math, [newcomer], admin=two_teacher_school.admin)

    rows = table(api_as(two_teacher_school.admin).get(register_url(two_teacher_school.math.id)))[1:]

    assert rows == [
        ["S10009", "Able", "Bea", "", "", "", "0.0"],
        ["S10001", "Adams", "Cara", "A", "", "P", "50.0"],
        ["S10002", "Baker", "Ann", "L", "P", "A", "66.67"],
    ]


def test_the_register_rate_counts_only_this_classs_records(
    api_as, two_teacher_school, export_sessions
):
    rows = table(api_as(two_teacher_school.hal).get(register_url(two_teacher_school.hist.id)))

    assert rows == [
        ["student_number", "last_name", "first_name", "2026-01-10T12:00:00Z", "attendance_rate"],
        ["S10001", "Adams", "Cara", "P", "100.0"],
        ["S10002", "Baker", "Ann", "P", "100.0"],
        ["S10004", "Other", "Olga", "", "0.0"],
    ]


def test_a_class_without_started_sessions_has_a_register_of_names(app, api_as):
    admin = make_admin(app)
    student = make_student(app, first_name="Solo", last_name="Pupil", number="S20001")
    klass = make_class(app, admin=admin, students=[student], subject_code="NEW1")
    make_session(app, klass, start=False)

    assert table(api_as(admin).get(register_url(klass.id))) == [
        ["student_number", "last_name", "first_name", "attendance_rate"],
        ["S20001", "Pupil", "Solo", "0.0"],
    ]


def test_register_cells_are_formula_safe_and_the_filename_is_header_safe(app, api_as):
    admin = make_admin(app)
    student = make_student(app, first_name="@Ann", last_name="=Evil", number="S30001")
    klass = make_class(app, admin=admin, students=[student], subject_code='ART/1 "x"')

    resp = api_as(admin).get(register_url(klass.id))

    assert table(resp)[1] == ["S30001", "'=Evil", "'@Ann", "0.0"]
    assert re.fullmatch(
        r'attachment; filename="register-ART_1_x_-\d{8}\.csv"',
        resp.headers["Content-Disposition"],
    )


@pytest.mark.parametrize("who", ["hal", "ann"])
def test_only_the_classs_teacher_or_an_admin_gets_the_register(
    api_as, two_teacher_school, export_sessions, who
):
    resp = api_as(getattr(two_teacher_school, who)).get(register_url(two_teacher_school.math.id))

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


@pytest.mark.parametrize("class_id", ["unknown", "not-a-uuid"])
def test_an_unknown_or_malformed_class_is_a_json_404(
    api_as, two_teacher_school, export_sessions, class_id
):
    path = register_url(uuid.uuid4() if class_id == "unknown" else class_id)

    resp = api_as(two_teacher_school.admin).get(path)

    assert resp.status_code == 404
    assert resp.is_json
    assert "detail" in resp.json


def test_the_register_runs_the_same_statements_for_a_big_class_as_for_a_small_one(
    app, api_as, count_queries, two_teacher_school, export_sessions, big_class
):
    admin, big = big_class

    def statements(class_id) -> int:
        api = api_as(admin)
        with count_queries() as counter:
            resp = api.get(register_url(class_id))
            assert resp.status_code == 200
            resp.get_data()
            resp.close()
        return counter.besides_authentication

    assert statements(big.id) == statements(two_teacher_school.math.id)
