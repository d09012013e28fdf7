"""Two people (the class's teacher and an admin, each on their own server process) tap the
same student at the same moment, round after round: one record per student, both changes in
the audit trail, and every live view ends on what the database holds."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.factories import audit_trail, make_admin, make_class, make_session
from tests.faults.conftest import wait_until
from tests.live.conftest import browser_login, start_server

ROUNDS = 8


def _view_state(view, session_id) -> dict[str, tuple[str, int]]:
    """What a client shows: per student, the record of the newest broadcast (highest seq)
    that carried them — older broadcasts arriving late are ignored, as the pages do."""
    newest: dict[str, tuple[int, str, int]] = {}
    for name, data in list(view.events):
        if name != "attendance" or data["session_id"] != str(session_id):
            continue
        for record in data["records"]:
            student = record["student"]["id"]
            if student not in newest or data["seq"] >= newest[student][0]:
                newest[student] = (data["seq"], record["status"], record["version"])
    return {student: (status, version) for student, (_, status, version) in newest.items()}


def _stored(app, session_id) -> dict[str, tuple[str, int, int]]:
    """Per student: (status, version, number of records) in the database."""
    from sqlalchemy import func, select

    from attendance_app.extensions import db
    from attendance_app.models import Attendance

    with app.app_context():
        rows = db.session.execute(
            select(
                Attendance.student_id,
                func.min(Attendance.status),
                func.max(Attendance.version),
                func.count(),
            )
            .where(Attendance.session_id == session_id)
            .group_by(Attendance.student_id)
        ).all()
        db.session.remove()
    return {str(student): (status.value, version, n) for student, status, version, n in rows}


def test_two_people_tapping_one_student_at_once_leave_one_record_and_both_changes(
    app, postgres_only, own_redis, listeners
):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=ROUNDS)
    session_id = make_session(app, klass)
    channel = f"attendance-faults-{uuid.uuid4().hex[:10]}"
    teacher_view, admin_view = listeners(), listeners()
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(
            lambda _: start_server(
                postgres_only, "eventlet", message_queue=own_redis.url, channel=channel
            ),
            range(2),
        )
    try:
        teacher = browser_login(first, klass.teacher.email, "correct-horse-battery")
        other = browser_login(second, admin.email, "correct-horse-battery")
        teacher_view.connect(first.url, token=klass.teacher.token)
        admin_view.connect(second.url, token=admin.token)
        assert teacher_view.join(session_id)["ok"] and admin_view.join(session_id)["ok"]

        def tap(browser, server, student, status, barrier) -> int:
            barrier.wait()
            return browser.post(
                f"{server.url}/sessions/{session_id}/students/{student.profile_id}/status",
                data={"status": status},
                headers={"HX-Request": "true", "X-CSRFToken": browser.csrf},
                timeout=10,
            ).status_code

        with ThreadPoolExecutor(2) as pool:
            for student in klass.students:
                barrier = threading.Barrier(2)
                codes = list(
                    pool.map(
                        lambda args, b=barrier: tap(*args, b),
                        [(teacher, first, student, "PRESENT"), (other, second, student, "LATE")],
                    )
                )
                assert codes == [200, 200]

        stored = _stored(app, session_id)
        trail = audit_trail(app, session_id)
        for student in klass.students:
            status, _version, records = stored[str(student.profile_id)]
            assert records == 1
            changes = [c for c in trail if c["student_id"] == student.profile_id]
            assert len(changes) == 2, changes
            created, changed = changes
            assert created["old_status"] is None
            assert changed["old_status"] == created["new_status"]
            assert changed["new_status"].value == status
            assert {created["new_status"].value, changed["new_status"].value} == {"PRESENT", "LATE"}
            assert {created["actor_id"], changed["actor_id"]} == {
                klass.teacher.user_id,
                admin.user_id,
            }

        final = {student: (status, version) for student, (status, version, _) in stored.items()}
        for view in (teacher_view, admin_view):
            wait_until(
                lambda v=view: _view_state(v, session_id) == final,
                what="a live view converging on the stored attendance",
                timeout=15,
            )
    finally:
        teacher_view.close()
        admin_view.close()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda server: server.stop(), (first, second)))
