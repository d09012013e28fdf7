"""A single mark and a correction over the API take the caller as the process keeps it
(``api.reader``: no session copy made per write): they read who marks and write only ids, so
the kept entity never joins a request's session, whatever the write does (an alert raised
and cleared included), and answer as before."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select

from attendance_app.extensions import db
from attendance_app.models import Notification, NotificationKind
from tests.factories import make_admin, make_class, make_session, make_student, make_teacher
from tests.services.test_identities import kept_for


def alerts(app) -> int:
    """The alert notifications standing."""
    with app.app_context():
        kind = Notification.kind == NotificationKind.ALERT
        return db.session.scalar(select(func.count()).select_from(Notification).where(kind))


@pytest.mark.parametrize("who", ["teacher", "admin"])
def test_marks_and_corrections_leave_the_kept_caller_outside_every_session(app, api_as, who):
    admin, teacher, student = make_admin(app), make_teacher(app), make_student(app)
    klass = make_class(app, admin=admin, teacher=teacher, students=[student])
    caller = teacher if who == "teacher" else admin
    api = api_as(caller)
    records = []
    for _ in range(3):  # three absences in a row: the third raises the alert
        session_id = make_session(app, klass)
        body = {"session_id": str(session_id), "student_id": str(student.profile_id)}
        marked = api.post("/api/attendance/mark/", json={**body, "status": "ABSENT"})
        assert marked.status_code == 201, marked.json
        assert marked.json["attendance"]["marked_by"] == f"{caller.first_name} {caller.last_name}"
        records.append(marked.json["attendance"]["id"])
    raised = alerts(app)
    assert raised >= 1  # the class's teacher (and every admin) told

    corrected = api.patch(f"/api/attendance/{records[-1]}/", json={"status": "PRESENT"})
    assert corrected.status_code == 200, corrected.json
    assert corrected.json["attendance"]["status"] == "PRESENT"
    assert alerts(app) <= raised

    kept = kept_for(app, caller.user_id)
    assert kept is not None and inspect(kept).detached
    again = api.patch(f"/api/attendance/{records[0]}/", json={"notes": "seen"})
    assert again.status_code == 200 and again.json["attendance"]["notes"] == "seen"
    assert kept_for(app, caller.user_id) is kept and inspect(kept).detached
