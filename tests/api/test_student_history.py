"""GET /api/attendance/student/{id}/: filters, statistics of the filtered records, who sees what,
and pagination."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.factories import (
    make_admin,
    make_class,
    make_session,
    make_student,
    make_teacher,
    mark,
)


def url(student) -> str:
    return f"/api/attendance/student/{getattr(student, 'profile_id', student)}/"


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def anns_history(app, two_teacher_school) -> dict[tuple[str, datetime], uuid.UUID]:
    """Ann Baker's records in ``two_teacher_school``, by (subject code, session start), each
    marked three minutes after the start (nobody else is marked):

    MATH101 (Tina): Jan 9 23:59:59 PRESENT, Jan 10 00:00 LATE, Jan 10 23:59:59 ABSENT,
    Jan 11 00:00 PRESENT. HIST101 (Hal): Jan 10 12:00 ABSENT, Jan 12 10:00 PRESENT.
    """
    math, hist, ann = two_teacher_school.math, two_teacher_school.hist, two_teacher_school.ann
    plan = [
        (math, datetime(2026, 1, 9, 23, 59, 59, tzinfo=UTC), "PRESENT"),
        (math, at(10, 0), "LATE"),
        (math, datetime(2026, 1, 10, 23, 59, 59, tzinfo=UTC), "ABSENT"),
        (math, at(11, 0), "PRESENT"),
        (hist, at(10, 12), "ABSENT"),
        (hist, at(12, 10), "PRESENT"),
    ]
    records = {}
    for klass, start, status in plan:
        session_id = make_session(app, klass, start_at=start)
        records[(klass.subject_code, start)] = mark(
            app, klass, session_id, ann, status, at=start + timedelta(minutes=3)
        )
    return records


def cursor_of(when: str, record_id) -> str:
    """A cursor in the server's format (base64 of "<start_time>|<record id>"), for bad ones."""
    return base64.urlsafe_b64encode(f"{when}|{record_id}".encode()).decode().rstrip("=")


def starts(resp) -> list[str]:
    return [r["session"]["start_time"] for r in resp.json["records"]]


# --- body ------------------------------------------------------------------------------------


def test_the_history_has_the_contract_body(app, api_as, two_teacher_school, anns_history):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann
    records = anns_history

    resp = api_as(admin).get(url(ann))

    assert resp.status_code == 200, resp.json
    assert resp.json["student"] == {
        "id": str(ann.profile_id),
        "student_id": "S10002",
        "first_name": "Ann",
        "last_name": "Baker",
    }
    assert resp.json["statistics"] == {
        "total_sessions": 6,
        "present": 3,
        "absent": 2,
        "late": 1,
        "attendance_rate": 66.67,
    }
    newest = resp.json["records"][0]
    assert newest == {
        "id": str(records[("HIST101", at(12, 10))]),
        "session": {
            "class_name": "History B",
            "subject_code": "HIST101",
            "date": "2026-01-12",
            "start_time": "2026-01-12T10:00:00Z",
        },
        "status": "PRESENT",
        "marked_at": "2026-01-12T10:03:00Z",
        "excused": False,
        "absence_reason": None,
    }
    assert resp.json["next_cursor"] is None


def test_history_lists_the_newest_session_first(app, api_as, two_teacher_school, anns_history):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).get(url(ann))

    assert starts(resp) == [
        "2026-01-12T10:00:00Z",
        "2026-01-11T00:00:00Z",
        "2026-01-10T23:59:59Z",
        "2026-01-10T12:00:00Z",
        "2026-01-10T00:00:00Z",
        "2026-01-09T23:59:59Z",
    ]


def test_a_student_without_records_has_zero_statistics(
    app, api_as, two_teacher_school, anns_history
):
    admin = two_teacher_school.admin
    newcomer = make_student(app)

    resp = api_as(admin).get(url(newcomer))

    assert resp.status_code == 200
    assert resp.json["statistics"] == {
        "total_sessions": 0,
        "present": 0,
        "absent": 0,
        "late": 0,
        "attendance_rate": 0.0,
    }
    assert resp.json["records"] == []


def test_history_includes_records_of_ended_sessions(app, api_as, two_teacher_school, anns_history):
    admin, math, ann = two_teacher_school.admin, two_teacher_school.math, two_teacher_school.ann
    session_id = make_session(app, math, start_at=at(20, 9))
    mark(app, math, session_id, ann, "LATE")
    api_as(math.teacher).post(f"/api/sessions/{session_id}/end/")

    resp = api_as(admin).get(url(ann))

    assert resp.json["statistics"]["total_sessions"] == 7
    assert resp.json["records"][0]["session"]["date"] == "2026-01-20"


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"date_from": "2026-01-10"}, 5),
        ({"date_to": "2026-01-10"}, 4),
        ({"date_from": "2026-01-10", "date_to": "2026-01-10"}, 3),
        ({"date_from": "2026-01-09", "date_to": "2026-01-09"}, 1),
        ({"date_from": "2026-01-11", "date_to": "2026-01-12"}, 2),
        ({"date_from": "2026-01-13"}, 0),
        ({"date_from": "2026-01-12", "date_to": "2026-01-10"}, 0),
        ({"status": "PRESENT"}, 3),
        ({"status": "ABSENT"}, 2),
        ({"status": "LATE"}, 1),
        ({"status": "ABSENT", "date_from": "2026-01-10", "date_to": "2026-01-10"}, 2),
        ({"unknown": "x"}, 6),
    ],
)
def test_filters_select_records_by_session_start_date_and_status(
    app, api_as, two_teacher_school, anns_history, query, expected
):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).get(url(ann), query_string=query)

    assert resp.status_code == 200, resp.json
    assert len(resp.json["records"]) == expected
    assert resp.json["statistics"]["total_sessions"] == expected


def test_the_date_range_is_inclusive_on_both_ends_in_utc(
    app, api_as, two_teacher_school, anns_history
):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).get(
        url(ann), query_string={"date_from": "2026-01-10", "date_to": "2026-01-10"}
    )

    assert starts(resp) == [
        "2026-01-10T23:59:59Z",
        "2026-01-10T12:00:00Z",
        "2026-01-10T00:00:00Z",
    ]
    assert {r["session"]["date"] for r in resp.json["records"]} == {"2026-01-10"}


def test_a_session_started_with_an_offset_belongs_to_its_utc_date(
    app, api_as, two_teacher_school, anns_history
):
    admin, math, ann = two_teacher_school.admin, two_teacher_school.math, two_teacher_school.ann
    # 00:30 on Feb 2 in UTC+02:00 is 22:30 on Feb 1 in UTC.
    session_id = make_session(
        app, math, start_at=datetime(2026, 2, 2, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    )
    mark(app, math, session_id, ann, "PRESENT")
    api = api_as(admin)

    on_first = api.get(url(ann), query_string={"date_from": "2026-02-01", "date_to": "2026-02-01"})
    on_second = api.get(url(ann), query_string={"date_from": "2026-02-02"})

    assert [r["session"]["date"] for r in on_first.json["records"]] == ["2026-02-01"]
    assert on_first.json["records"][0]["session"]["start_time"] == "2026-02-01T22:30:00Z"
    assert on_second.json["records"] == []


def test_the_subject_filter_keeps_one_subject(app, api_as, two_teacher_school, anns_history):
    admin, math, hist, ann = (
        two_teacher_school.admin,
        two_teacher_school.math,
        two_teacher_school.hist,
        two_teacher_school.ann,
    )
    api = api_as(admin)

    maths = api.get(url(ann), query_string={"subject_id": str(math.subject_id)})
    history = api.get(url(ann), query_string={"subject_id": str(hist.subject_id)})
    nothing = api.get(url(ann), query_string={"subject_id": str(uuid.uuid4())})

    assert {r["session"]["subject_code"] for r in maths.json["records"]} == {"MATH101"}
    assert maths.json["statistics"]["total_sessions"] == 4
    assert {r["session"]["subject_code"] for r in history.json["records"]} == {"HIST101"}
    assert history.json["statistics"]["total_sessions"] == 2
    assert nothing.status_code == 200
    assert nothing.json["records"] == []


def test_statistics_describe_the_filtered_records(app, api_as, two_teacher_school, anns_history):
    admin, math, ann = two_teacher_school.admin, two_teacher_school.math, two_teacher_school.ann

    resp = api_as(admin).get(
        url(ann), query_string={"subject_id": str(math.subject_id), "date_to": "2026-01-10"}
    )

    # MATH101 up to Jan 10: PRESENT (Jan 9), LATE (Jan 10 00:00), ABSENT (Jan 10 23:59:59).
    assert resp.json["statistics"] == {
        "total_sessions": 3,
        "present": 1,
        "absent": 1,
        "late": 1,
        "attendance_rate": 66.67,
    }


def test_a_status_filter_gives_statistics_of_that_status_only(
    app, api_as, two_teacher_school, anns_history
):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).get(url(ann), query_string={"status": "ABSENT"})

    assert resp.json["statistics"] == {
        "total_sessions": 2,
        "present": 0,
        "absent": 2,
        "late": 0,
        "attendance_rate": 0.0,
    }


# --- bad filter values ---------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["date_from", "date_to"])
@pytest.mark.parametrize("bad", ["10/01/2026", "2026-13-01", "2026-02-30", "yesterday", "2026-1"])
def test_a_bad_date_is_400_with_the_format_message(
    app, api_as, two_teacher_school, anns_history, field, bad
):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).get(url(ann), query_string={field: bad})

    assert resp.status_code == 400
    assert resp.json == {field: ["Date has wrong format. Use YYYY-MM-DD."]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"subject_id": "MATH101"}, {"subject_id": ["Must be a valid UUID."]}),
        ({"status": "FOO"}, {"status": ['"FOO" is not a valid choice.']}),
        ({"status": "absent"}, {"status": ['"absent" is not a valid choice.']}),
    ],
)
def test_other_bad_filters_are_400_on_their_name(
    app, api_as, two_teacher_school, anns_history, query, expected
):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).get(url(ann), query_string=query)

    assert resp.status_code == 400
    assert resp.json == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "ten"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "5001"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "é"}, "cursor"),
        ({"cursor": "bm90LWEtZGF0ZXxub3QtYS11dWlk"}, "cursor"),
        ({"cursor": cursor_of("9999-12-31T23:59:59-01:00", uuid.UUID(int=0))}, "cursor"),
        ({"cursor": cursor_of("0001-01-01T00:00:00+01:00", uuid.UUID(int=0))}, "cursor"),
        ({"cursor": cursor_of("2026-01-10T00:00:00Z", "not-a-uuid")}, "cursor"),
    ],
)
def test_bad_paging_values_are_400_on_their_name(
    app, api_as, two_teacher_school, anns_history, query, field
):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).get(url(ann), query_string=query)

    assert resp.status_code == 400
    assert list(resp.json) == [field]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"date_from": "0001-01-01"}, 6),
        ({"date_to": "9999-12-31"}, 6),
        ({"date_from": "9999-12-31"}, 0),
        ({"date_to": "0001-01-01"}, 0),
    ],
)
def test_the_extreme_dates_are_valid_filters(
    app, api_as, two_teacher_school, anns_history, query, expected
):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).get(url(ann), query_string=query)

    assert resp.status_code == 200, resp.json
    assert resp.json["statistics"]["total_sessions"] == expected


# --- who may read ------------------------------------------------------------------------------


def test_a_student_may_read_their_own_history(app, api_as, two_teacher_school, anns_history):
    ann = two_teacher_school.ann

    resp = api_as(ann).get(url(ann))

    assert resp.status_code == 200
    assert resp.json["statistics"]["total_sessions"] == 6


def test_a_student_may_not_read_another_student_s_history(
    app, api_as, two_teacher_school, anns_history
):
    ann = two_teacher_school.ann
    classmate = make_student(app)

    resp = api_as(classmate).get(url(ann))

    assert resp.status_code == 403
    assert resp.json == {"detail": "You do not have permission to perform this action."}


def test_a_teacher_sees_only_records_of_the_classes_they_teach(
    app, api_as, two_teacher_school, anns_history
):
    math, hist, ann = two_teacher_school.math, two_teacher_school.hist, two_teacher_school.ann

    tina = api_as(math.teacher).get(url(ann))
    hal = api_as(hist.teacher).get(url(ann))

    assert tina.status_code == hal.status_code == 200
    assert {r["session"]["class_name"] for r in tina.json["records"]} == {"Algebra A"}
    assert tina.json["statistics"] == {
        "total_sessions": 4,
        "present": 2,
        "absent": 1,
        "late": 1,
        "attendance_rate": 75.0,
    }
    assert {r["session"]["class_name"] for r in hal.json["records"]} == {"History B"}
    assert hal.json["statistics"]["total_sessions"] == 2


def test_a_teacher_s_subject_filter_cannot_reach_another_teacher_s_class(
    app, api_as, two_teacher_school, anns_history
):
    math, hist, ann = two_teacher_school.math, two_teacher_school.hist, two_teacher_school.ann

    resp = api_as(math.teacher).get(url(ann), query_string={"subject_id": str(hist.subject_id)})

    assert resp.status_code == 200
    assert resp.json["records"] == []
    assert resp.json["statistics"]["total_sessions"] == 0


def test_a_teacher_with_no_class_in_common_is_refused(
    app, api_as, two_teacher_school, anns_history
):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann
    stranger = make_teacher(app)
    make_class(app, admin=admin, teacher=stranger, students=2)

    resp = api_as(stranger).get(url(ann))

    assert resp.status_code == 403


def test_a_teacher_keeps_access_to_records_after_the_student_leaves_the_class(
    app, api_as, two_teacher_school, anns_history
):
    admin, math, ann = two_teacher_school.admin, two_teacher_school.math, two_teacher_school.ann
    assert (
        api_as(admin).delete(f"/api/classes/{math.id}/enrollments/{ann.profile_id}/").status_code
        == 204
    )

    resp = api_as(math.teacher).get(url(ann))

    assert resp.status_code == 200
    assert resp.json["statistics"]["total_sessions"] == 4


def test_a_teacher_of_a_class_without_sessions_sees_an_empty_history(
    app, api_as, two_teacher_school, anns_history
):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann
    new_class = make_class(app, admin=admin, students=[ann])

    resp = api_as(new_class.teacher).get(url(ann))

    assert resp.status_code == 200
    assert resp.json["records"] == []
    assert resp.json["statistics"]["total_sessions"] == 0


def test_an_unknown_student_is_404(app, api_as, two_teacher_school, anns_history):
    admin = two_teacher_school.admin

    resp = api_as(admin).get(url(uuid.uuid4()))

    assert resp.status_code == 404
    assert set(resp.json) == {"detail"}


def test_a_malformed_student_id_is_404(app, api_as, two_teacher_school, anns_history):
    admin = two_teacher_school.admin

    resp = api_as(admin).get("/api/attendance/student/S10002/")

    assert resp.status_code == 404
    assert resp.json == {"detail": "Not found."}


def test_a_user_uuid_is_not_a_student_uuid(app, api_as, two_teacher_school, anns_history):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).get(url(ann.user_id))

    assert resp.status_code == 404


def test_reading_history_without_a_token_is_401(app, client, two_teacher_school, anns_history):
    ann = two_teacher_school.ann

    resp = client.get(url(ann))

    assert resp.status_code == 401
    assert resp.json == {"detail": "Authentication credentials were not provided."}


# --- pagination ----------------------------------------------------------------------------------


def walk(api, student, limit: int, **query) -> tuple[list[dict], list[dict]]:
    """Every page from the first, following next_cursor: (records, pages)."""
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **query}
        if cursor:
            params["cursor"] = cursor
        resp = api.get(url(student), query_string=params)
        assert resp.status_code == 200, resp.json
        pages.append(resp.json)
        cursor = resp.json["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 50, "pagination does not terminate"
    return [r for p in pages for r in p["records"]], pages


@pytest.mark.parametrize("limit", [1, 2, 4, 5, 6, 100])
def test_pages_give_every_record_exactly_once_in_order(
    app, api_as, two_teacher_school, anns_history, limit
):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann
    records = anns_history
    api = api_as(admin)

    walked, pages = walk(api, ann, limit)

    assert sorted(r["id"] for r in walked) == sorted(str(i) for i in records.values())
    assert [r["id"] for r in walked] == [r["id"] for r in api.get(url(ann)).json["records"]]
    assert all(len(p["records"]) <= limit for p in pages)
    assert all(p["statistics"]["total_sessions"] == 6 for p in pages)
    assert len(pages) == max(1, -(-6 // limit))


def test_pages_stay_exact_when_sessions_start_at_the_same_instant(app, api_as):
    admin = make_admin(app)
    student = make_student(app)
    classes = [make_class(app, admin=admin, students=[student]) for _ in range(3)]
    same = at(15, 9)
    expected = []
    for klass in classes:
        for start in (same, same, at(16, 9)):
            session_id = make_session(app, klass, start_at=start)
            expected.append(str(mark(app, klass, session_id, student, "PRESENT")))
    api = api_as(admin)

    for limit in (1, 2, 4):
        walked, _ = walk(api, student, limit)
        assert sorted(r["id"] for r in walked) == sorted(expected)
        assert len(walked) == len(set(r["id"] for r in walked)) == 9


def test_pagination_respects_the_filters(app, api_as, two_teacher_school, anns_history):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    walked, pages = walk(api_as(admin), ann, 1, date_from="2026-01-10", date_to="2026-01-10")

    assert len(walked) == 3
    assert len(pages) == 3
    assert {r["session"]["date"] for r in walked} == {"2026-01-10"}


def test_a_student_walking_their_own_pages_sees_only_their_records(
    app, api_as, two_teacher_school, anns_history
):
    admin, math, ann = two_teacher_school.admin, two_teacher_school.math, two_teacher_school.ann
    records = anns_history
    classmate = make_student(app)
    session_id = make_session(app, math)
    api_as(admin).post(
        f"/api/classes/{math.id}/enrollments/", json={"student_ids": [str(classmate.profile_id)]}
    )
    mark(app, math, session_id, classmate, "PRESENT")

    walked, _ = walk(api_as(ann), ann, 2)

    assert sorted(r["id"] for r in walked) == sorted(str(i) for i in records.values())


# --- bad input -----------------------------------------------------------------------------------


def test_a_post_to_the_history_is_405(app, api_as, two_teacher_school, anns_history):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).post(url(ann), json={})

    assert resp.status_code == 405


def test_a_repeated_filter_uses_its_last_value(app, api_as, two_teacher_school, anns_history):
    admin, ann = two_teacher_school.admin, two_teacher_school.ann

    resp = api_as(admin).get(url(ann) + "?status=FOO&status=LATE")

    assert resp.status_code == 200
    assert [r["status"] for r in resp.json["records"]] == ["LATE"]
