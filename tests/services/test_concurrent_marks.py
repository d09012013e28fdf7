"""Concurrent requests against one session: the database arbitrates, nobody gets a 500.

Every thread has its own test client (so its own app context, database session and pooled
connection) and all of them are released together by a barrier, so the requests really
overlap. SQLite serialises them with BEGIN IMMEDIATE; PostgreSQL with the unique constraint
and the session row lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from sqlalchemy import func, select

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceChange,
    Channel,
    ClassSession,
    SessionStatus,
)
from attendance_app.services.marking.attendance import ALREADY_MARKED
from tests.factories import make_admin, make_class, make_session

THREADS = 12
BULK_ROUNDS = 2


def run_together(calls: list[Callable[[], object]], timeout: float = 60) -> list[object]:
    """Run each call in its own thread, all released at once; their results in order.

    An exception in a thread (with TESTING on, a view's unhandled error propagates out of
    the test client, i.e. what would have been a 500) is returned in place of its result.
    """
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(i: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a request never finished (deadlock?)"
    return results


def poster(app, token: str, path: str, body: dict) -> Callable[[], tuple[int, dict]]:
    """A call that POSTs ``body`` with its own client and returns (status, json)."""

    def call() -> tuple[int, dict]:
        response = app.test_client().post(
            path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code, response.get_json()

    return call


def assert_no_crash(results: list[object]) -> list[tuple[int, dict]]:
    crashed = [r for r in results if isinstance(r, BaseException)]
    assert not crashed, f"requests raised: {crashed!r}"
    statuses = [status for status, _ in results]
    assert 500 not in statuses
    return results  # type: ignore[return-value]


def attendance_rows(app, session_id) -> list[Attendance]:
    with app.app_context():
        rows = list(
            db.session.scalars(select(Attendance).where(Attendance.session_id == session_id))
        )
        db.session.remove()
    return rows


def test_concurrent_marks_of_one_student_create_one_record_and_409_the_rest(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    session_id = make_session(app, klass)
    student = klass.students[0]
    body = {"session_id": str(session_id), "student_id": str(student.profile_id)}
    statuses = ["PRESENT", "ABSENT", "LATE"]
    calls = [
        poster(
            app,
            klass.teacher.token,
            "/api/attendance/mark/",
            {**body, "status": statuses[i % 3], "notes": f"thread {i}"},
        )
        for i in range(THREADS)
    ]

    results = assert_no_crash(run_together(calls))

    codes = Counter(status for status, _ in results)
    assert codes == {201: 1, 409: THREADS - 1}, results
    for status, payload in results:
        if status == 409:
            assert payload == {"non_field_errors": [ALREADY_MARKED]}
    winner = next(payload for status, payload in results if status == 201)
    rows = attendance_rows(app, session_id)
    assert len(rows) == 1
    assert str(rows[0].id) == winner["attendance"]["id"]
    assert rows[0].status.value == winner["attendance"]["status"]


def test_concurrent_bulk_marks_listing_the_same_students_in_other_orders_never_deadlock(app):
    # A multi-row INSERT takes its rows in order. Two requests that meet the same students in
    # opposite orders would each wait for a row the other inserted and has not committed (a
    # deadlock on PostgreSQL, i.e. a 500), unless something serialises them: here the session
    # row lock every mark takes first. Two rounds, as the requests must overlap to collide.
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=40)
    ids = [str(s.profile_id) for s in klass.students]
    orders = [ids, ids[::-1], ids[20:] + ids[:20], ids[::-1][20:] + ids[::-1][:20]] * 2
    for _ in range(BULK_ROUNDS):
        session_id = make_session(app, klass)
        calls = [
            poster(
                app,
                klass.teacher.token,
                "/api/attendance/mark/",
                {
                    "session_id": str(session_id),
                    "records": [{"student_id": sid, "status": "PRESENT"} for sid in order],
                },
            )
            for order in orders
        ]

        results = assert_no_crash(run_together(calls))

        codes = Counter(status for status, _ in results)
        assert codes == {201: 1, 409: len(orders) - 1}, results
        winner = next(payload for status, payload in results if status == 201)
        assert winner["count"] == len(ids)
        assert len(attendance_rows(app, session_id)) == len(ids)


def test_concurrent_bulk_mark_initialisations_create_one_record_per_enrolled_student(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=25)
    session_id = make_session(app, klass)
    calls = [
        poster(
            app,
            klass.teacher.token,
            "/api/attendance/bulk-mark/",
            {"session_id": str(session_id), "default_status": "ABSENT"},
        )
        for _ in range(8)
    ]

    results = assert_no_crash(run_together(calls))

    assert {status for status, _ in results} == {201}, results
    assert sum(payload["count"] for _, payload in results) == len(klass.students)
    rows = attendance_rows(app, session_id)
    assert len(rows) == len(klass.students)
    assert {r.student_id for r in rows} == {s.profile_id for s in klass.students}


def test_concurrent_marks_and_initialisation_never_overwrite_or_duplicate(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=10)
    session_id = make_session(app, klass)
    token = klass.teacher.token
    marks = [
        poster(
            app,
            token,
            "/api/attendance/mark/",
            {"session_id": str(session_id), "student_id": str(s.profile_id), "status": "LATE"},
        )
        for s in klass.students
    ]
    inits = [
        poster(app, token, "/api/attendance/bulk-mark/", {"session_id": str(session_id)})
        for _ in range(4)
    ]

    results = assert_no_crash(run_together(marks + inits))

    mark_codes = [status for status, _ in results[: len(marks)]]
    assert set(mark_codes) <= {201, 409}
    created_by_init = sum(payload["count"] for _, payload in results[len(marks) :])
    assert mark_codes.count(201) + created_by_init == len(klass.students)
    rows = {r.student_id: r for r in attendance_rows(app, session_id)}
    assert len(rows) == len(klass.students)
    # A student whose mark won keeps LATE: initialisation never overwrites a mark.
    for student, code in zip(klass.students, mark_codes, strict=True):
        expected = "LATE" if code == 201 else "ABSENT"
        assert rows[student.profile_id].status.value == expected


def test_a_bulk_mark_racing_single_marks_of_its_students_is_all_or_nothing(app):
    # Either the bulk mark wins every student (the single marks get 409) or it loses at least
    # one and writes nothing: every record then is a single mark's. One audit row per record,
    # written by the request that created it, in the API's channel.
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=12)
    for _ in range(BULK_ROUNDS):
        session_id = make_session(app, klass)
        token = klass.teacher.token
        bulk = poster(
            app,
            token,
            "/api/attendance/mark/",
            {
                "session_id": str(session_id),
                "records": [
                    {"student_id": str(s.profile_id), "status": "PRESENT"} for s in klass.students
                ],
            },
        )
        singles = [
            poster(
                app,
                token,
                "/api/attendance/mark/",
                {"session_id": str(session_id), "student_id": str(s.profile_id), "status": "LATE"},
            )
            for s in klass.students[::3]
        ]

        results = assert_no_crash(run_together([bulk, *singles]))

        bulk_code, single_codes = results[0][0], [code for code, _ in results[1:]]
        rows = attendance_rows(app, session_id)
        with app.app_context():
            audit = list(
                db.session.scalars(
                    select(AttendanceChange).where(AttendanceChange.session_id == session_id)
                )
            )
            db.session.remove()
        assert sorted(r.attendance_id for r in audit) == sorted(r.id for r in rows)
        assert {a.channel for a in audit} == {Channel.API}
        if bulk_code == 201:
            assert set(single_codes) == {409}
            assert len(rows) == len(klass.students)
            assert {r.status.value for r in rows} == {"PRESENT"}
            assert len({a.group_id for a in audit}) == 1
        else:
            assert bulk_code == 409
            assert set(single_codes) <= {201, 409} and 201 in single_codes
            assert len(rows) == single_codes.count(201)
            assert {r.status.value for r in rows} == {"LATE"}


def test_marks_racing_the_end_of_a_session_never_land_after_it_ended(app):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=THREADS)
    session_id = make_session(app, klass)
    token = klass.teacher.token
    marks = [
        poster(
            app,
            token,
            "/api/attendance/mark/",
            {"session_id": str(session_id), "student_id": str(s.profile_id), "status": "PRESENT"},
        )
        for s in klass.students
    ]
    # The end goes in the middle so it is neither first nor last to start.
    end = poster(app, token, f"/api/sessions/{session_id}/end/", {})
    calls = [*marks[: THREADS // 2], end, *marks[THREADS // 2 :]]

    results = assert_no_crash(run_together(calls))

    end_status, end_body = results[THREADS // 2]
    assert end_status == 200, end_body
    mark_results = results[: THREADS // 2] + results[THREADS // 2 + 1 :]
    for status, payload in mark_results:
        assert status in {201, 400}, payload
        if status == 400:
            assert payload["session"][0].startswith("Cannot mark attendance - session ended at ")
    with app.app_context():
        session = db.session.get(ClassSession, session_id)
        assert session.status == SessionStatus.ENDED
        end_time = session.end_time
        latest = db.session.scalar(
            select(func.max(Attendance.created_at)).where(Attendance.session_id == session_id)
        )
        db.session.remove()
    created = [status for status, _ in mark_results].count(201)
    assert len(attendance_rows(app, session_id)) == created
    if created:
        assert latest <= end_time


def test_two_sessions_crossing_one_students_alert_line_at_once_alert_once(app):
    """Two lessons of one class marked at the same moment (two teachers' tablets): both
    absences are saved, and the student's crossing notifies each recipient once."""
    from datetime import UTC, datetime

    from attendance_app.models import Notification, NotificationKind
    from tests.factories import run_sessions

    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    student = klass.students[0]
    plan = [{student: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 2]
    run_sessions(app, klass, plan, first_start=datetime(2026, 9, 7, 9, tzinfo=UTC))
    sessions = [make_session(app, klass), make_session(app, klass)]

    results = assert_no_crash(
        run_together(
            [
                poster(
                    app,
                    klass.teacher.token,
                    "/api/attendance/mark/",
                    {
                        "session_id": str(sid),
                        "student_id": str(student.profile_id),
                        "status": "ABSENT",
                    },
                )
                for sid in sessions
            ]
        )
    )

    assert [status for status, _ in results] == [201, 201]
    with app.app_context():
        alerts = db.session.execute(
            select(Notification.recipient_id, func.count())
            .where(Notification.kind == NotificationKind.ALERT)
            .group_by(Notification.recipient_id)
        ).all()
        db.session.remove()
    assert dict(alerts) == {admin.user_id: 1, klass.teacher.user_id: 1}
