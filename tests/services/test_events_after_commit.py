"""Domain events reach subscribers once per committed operation, never for a refused one,
and only after the commit, so a subscriber reads the committed state."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from attendance_app.extensions import db
from attendance_app.models import Attendance
from attendance_app.services import events
from attendance_app.services.events import AttendanceChanged, SessionStatusChanged
from attendance_app.services.marking import sessions
from attendance_app.services.reporting import statistics
from tests.factories import ClassInfo, make_admin, make_class, make_session, make_student, mark


@pytest.fixture
def subscribed() -> Callable:
    """``with subscribed(fn):`` — ``fn`` receives every committed batch of events meanwhile."""

    @contextmanager
    def subscription(fn: Callable[[list], None]) -> Iterator[None]:
        events.subscribe(fn)
        try:
            yield
        finally:
            events.unsubscribe(fn)

    return subscription


@pytest.fixture
def collected(subscribed) -> Callable:
    """``with collected() as batches:`` — the batches dispatched meanwhile, in order."""

    @contextmanager
    def collecting() -> Iterator[list[list]]:
        batches: list[list] = []
        with subscribed(lambda evts: batches.append(list(evts))):
            yield batches

    return collecting


def setup_class(app, students: int = 3, *, start: bool = True) -> tuple[ClassInfo, uuid.UUID]:
    klass = make_class(app, admin=make_admin(app), students=students)
    return klass, make_session(app, klass, start=start)


def mark_body(session_id, student, status="PRESENT") -> dict:
    return {"session_id": str(session_id), "student_id": str(student.profile_id), "status": status}


def test_a_committed_mark_dispatches_one_attendance_changed_with_its_record(app, api_as, collected):
    klass, session_id = setup_class(app)
    api = api_as(klass.teacher)

    with collected() as batches:
        response = api.post("/api/attendance/mark/", json=mark_body(session_id, klass.students[0]))

    assert response.status_code == 201, response.json
    [[event]] = batches
    assert isinstance(event, AttendanceChanged)
    assert event.session_id == session_id
    assert [str(rid) for rid in event.record_ids] == [response.json["attendance"]["id"]]
    assert event.actor_id == klass.teacher.user_id


def test_an_update_dispatches_one_attendance_changed(app, api_as, collected):
    klass, session_id = setup_class(app)
    record_id = mark(app, klass, session_id, klass.students[0], "ABSENT")

    with collected() as batches:
        response = api_as(klass.teacher).put(
            f"/api/attendance/{record_id}/", json={"status": "LATE"}
        )

    assert response.status_code == 200, response.json
    [[event]] = batches
    assert isinstance(event, AttendanceChanged)
    assert event.record_ids == (record_id,)


def test_a_bulk_mark_dispatches_one_event_carrying_every_record(app, api_as, collected):
    klass, session_id = setup_class(app, students=5)
    records = [{"student_id": str(s.profile_id), "status": "PRESENT"} for s in klass.students]

    with collected() as batches:
        response = api_as(klass.teacher).post(
            "/api/attendance/mark/", json={"session_id": str(session_id), "records": records}
        )

    assert response.status_code == 201, response.json
    [[event]] = batches
    assert isinstance(event, AttendanceChanged)
    assert event.session_id == session_id
    assert sorted(str(r) for r in event.record_ids) == sorted(
        r["id"] for r in response.json["attendance_records"]
    )


def test_initialising_a_session_dispatches_one_event_with_the_created_records(
    app, api_as, collected
):
    klass, session_id = setup_class(app, students=4)
    marked = mark(app, klass, session_id, klass.students[0], "PRESENT")
    api = api_as(klass.teacher)

    with collected() as batches:
        first = api.post("/api/attendance/bulk-mark/", json={"session_id": str(session_id)})
    with collected() as batches_again:
        again = api.post("/api/attendance/bulk-mark/", json={"session_id": str(session_id)})

    assert first.json["count"] == 3 and again.json["count"] == 0
    [[event]] = batches
    assert isinstance(event, AttendanceChanged)
    assert len(event.record_ids) == 3 and marked not in event.record_ids
    with app.app_context():
        created = set(
            db.session.scalars(
                select(Attendance.id).where(
                    Attendance.session_id == session_id, Attendance.id != marked
                )
            )
        )
        db.session.remove()
    assert set(event.record_ids) == created
    assert batches_again == []  # nothing created, nothing to announce


def test_starting_and_ending_a_session_dispatch_session_status_changed(app, api_as, collected):
    klass, session_id = setup_class(app, start=False)
    api = api_as(klass.teacher)

    with collected() as batches:
        started = api.post(f"/api/sessions/{session_id}/start/")
        ended = api.post(f"/api/sessions/{session_id}/end/")

    assert (started.status_code, ended.status_code) == (200, 200)
    [[on_start], [on_end]] = batches
    assert isinstance(on_start, SessionStatusChanged) and isinstance(on_end, SessionStatusChanged)
    assert (on_start.session_id, on_start.status, on_start.is_locked) == (
        session_id,
        "ACTIVE",
        False,
    )
    assert (on_end.session_id, on_end.status, on_end.is_locked) == (session_id, "ENDED", True)


def test_refused_operations_dispatch_nothing(app, api_as, collected):
    klass, session_id = setup_class(app, students=2)
    first, second = klass.students
    outsider = make_student(app, with_token=False)
    record_id = mark(app, klass, session_id, first, "PRESENT")
    scheduled = make_session(app, klass, start=False)
    api = api_as(klass.teacher)

    with collected() as batches:
        responses = [
            api.post("/api/attendance/mark/", json=mark_body(session_id, first)),  # 409
            api.post("/api/attendance/mark/", json=mark_body(session_id, outsider)),  # 400
            api.post("/api/attendance/mark/", json=mark_body(scheduled, second)),  # 400
            api.post(f"/api/sessions/{scheduled}/end/"),  # 400: not ACTIVE
            api.post(
                "/api/attendance/mark/",
                json={
                    "session_id": str(session_id),
                    "records": [
                        {"student_id": str(second.profile_id), "status": "PRESENT"},
                        {"student_id": str(outsider.profile_id), "status": "PRESENT"},
                    ],
                },
            ),  # 400, the valid entry rolled back with it
            api_as(make_admin(app)).put(
                f"/api/attendance/{uuid.uuid4()}/", json={"status": "LATE"}
            ),  # 404
        ]
        api.post(f"/api/sessions/{session_id}/end/")
        batches.clear()  # the end itself is announced; what follows must not be
        responses.append(api.put(f"/api/attendance/{record_id}/", json={"status": "LATE"}))

    assert [r.status_code for r in responses] == [409, 400, 400, 400, 400, 404, 400]
    assert batches == []


def test_a_subscriber_reads_the_committed_state(app, api_as, subscribed):
    klass, session_id = setup_class(app, students=3)
    seen: list[tuple] = []

    def read_back(evts: list) -> None:
        for evt in evts:
            # A fresh load through the app's session, and a count on a separate connection,
            # which only sees what has been committed.
            stats = statistics.session_statistics(sessions.load_session(evt.session_id))
            with db.engine.connect() as conn:
                stored = conn.scalar(
                    select(func.count())
                    .select_from(Attendance)
                    .where(Attendance.session_id == evt.session_id)
                )
            seen.append((stats.present, stats.late, stats.not_marked, stored))

    with subscribed(read_back):
        single = api_as(klass.teacher).post(
            "/api/attendance/mark/", json=mark_body(session_id, klass.students[0], "LATE")
        )
        bulk = api_as(klass.teacher).post(
            "/api/attendance/mark/",
            json={
                "session_id": str(session_id),
                "records": [
                    {"student_id": str(s.profile_id), "status": "PRESENT"}
                    for s in klass.students[1:]
                ],
            },
        )

    assert (single.status_code, bulk.status_code) == (201, 201)
    assert seen == [(0, 1, 2, 1), (2, 1, 0, 3)]


def test_a_failing_subscriber_does_not_undo_the_commit(app, api_as, subscribed):
    klass, session_id = setup_class(app, students=1)

    def explode(_evts: list) -> None:
        raise RuntimeError("subscriber bug")

    with subscribed(explode):
        response = api_as(klass.teacher).post(
            "/api/attendance/mark/", json=mark_body(session_id, klass.students[0])
        )

    assert response.status_code == 201, response.json
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Attendance)
                .where(Attendance.session_id == session_id)
            )
            == 1
        )
        db.session.remove()


@pytest.fixture
def subscribed_with_read() -> Callable:
    """``with subscribed_with_read(fn, read):`` — ``read`` sees each unit of work's events
    just before its commit; ``fn`` receives the committed events and that read's answer."""

    @contextmanager
    def subscription(fn: Callable[[list, object], None], read: Callable) -> Iterator[None]:
        events.subscribe_with_read(fn, read)
        try:
            yield
        finally:
            events.unsubscribe(fn)

    return subscription


def test_a_read_before_commit_counts_the_transactions_own_writes_before_anyone_else_can(
    app, api_as, subscribed_with_read
):
    """What the live statistics rely on: read inside the transaction, after every write of it,
    the figures already count the change, while another connection does not see it yet; the
    subscriber gets exactly that answer once the commit is in."""
    klass, session_id = setup_class(app, students=3)
    read_inside: list[tuple] = []
    received: list[tuple] = []

    def read(evts: list) -> dict:
        stats = statistics.statistics_for_sessions([evts[0].session_id])
        with db.engine.connect() as conn:
            outside = conn.scalar(
                select(func.count())
                .select_from(Attendance)
                .where(Attendance.session_id == evts[0].session_id)
            )
        read_inside.append((stats[evts[0].session_id].marked, outside))
        return stats

    def receive(evts: list, stats: dict) -> None:
        received.append((len(evts), stats[session_id].present, stats[session_id].not_marked))

    with subscribed_with_read(receive, read):
        response = api_as(klass.teacher).post(
            "/api/attendance/mark/", json=mark_body(session_id, klass.students[0])
        )

    assert response.status_code == 201, response.json
    assert read_inside == [(1, 0)]
    assert received == [(1, 1, 2)]


def test_a_failing_read_before_commit_neither_undoes_the_change_nor_reaches_the_subscriber(
    app, api_as, subscribed_with_read
):
    klass, session_id = setup_class(app, students=1)
    received: list = []

    def explode(_evts: list) -> None:
        raise RuntimeError("read bug")

    with subscribed_with_read(lambda evts, answer: received.append((len(evts), answer)), explode):
        response = api_as(klass.teacher).post(
            "/api/attendance/mark/", json=mark_body(session_id, klass.students[0])
        )

    assert response.status_code == 201, response.json
    assert received == [(1, None)]  # the events, without an answer: the subscriber reads later


def test_a_refused_change_makes_no_read_and_dispatches_nothing(app, api_as, subscribed_with_read):
    klass, session_id = setup_class(app, students=1)
    mark(app, klass, session_id, klass.students[0], "PRESENT")
    reads: list = []
    received: list = []

    with subscribed_with_read(lambda evts, answer: received.append(answer), reads.append):
        response = api_as(klass.teacher).post(
            "/api/attendance/mark/", json=mark_body(session_id, klass.students[0])
        )

    assert response.status_code == 409, response.json
    assert (reads, received) == ([], [])
