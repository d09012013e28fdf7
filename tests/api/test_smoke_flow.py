"""A whole school day over HTTP, as an outside client runs it."""

from attendance_app.models import Role
from tests.factories import PASSWORD, make_admin, make_person


def test_a_school_day_runs_entirely_over_the_api(app, client, api_as):
    admin = make_admin(app)
    api = api_as(admin)
    teacher_resp = api.post(
        "/api/users/",
        json={
            "email": "T.Lee@School.test",
            "password": PASSWORD,
            "first_name": "Tina",
            "last_name": "Lee",
            "role": "TEACHER",
        },
    )
    assert teacher_resp.status_code == 201, teacher_resp.json
    teacher = teacher_resp.json
    assert teacher["email"] == "t.lee@school.test"
    assert teacher["student"] is None and teacher["teacher"]["id"]

    student = api.post(
        "/api/users/",
        json={
            "email": "john.doe@school.test",
            "password": PASSWORD,
            "first_name": "John",
            "last_name": "Doe",
            "role": "STUDENT",
            "student_id": "S12345",
        },
    ).json
    assert student["student"]["student_id"] == "S12345"

    subject = api.post("/api/subjects/", json={"code": "TEST101", "name": "Test Subject"})
    assert subject.status_code == 201
    klass = api.post(
        "/api/classes/",
        json={
            "subject_id": subject.json["id"],
            "name": "TEST101 Section A",
            "teacher_id": teacher["teacher"]["id"],
        },
    )
    assert klass.status_code == 201, klass.json
    assert klass.json["total_enrolled"] == 0
    assert klass.json["teacher"]["name"] == "Tina Lee"
    enrol = api.post(
        f"/api/classes/{klass.json['id']}/enrollments/",
        json={"student_ids": [student["student"]["id"]]},
    )
    assert enrol.status_code == 201
    assert enrol.json == {"class_id": klass.json["id"], "enrolled": 1, "total_enrolled": 1}

    token = client.post(
        "/api/auth/token/", json={"email": "t.lee@school.test", "password": PASSWORD}
    ).json["token"]
    tapi = api_as(token)
    session = tapi.post("/api/sessions/", json={"class_id": klass.json["id"]})
    assert session.status_code == 201 and session.json["status"] == "SCHEDULED"
    sid = session.json["id"]
    started = tapi.post(f"/api/sessions/{sid}/start/")
    assert started.status_code == 200 and started.json["status"] == "ACTIVE"

    marked = tapi.post(
        "/api/attendance/mark/",
        json={"session_id": sid, "student_id": student["student"]["id"], "status": "PRESENT"},
    )
    assert marked.status_code == 201, marked.json
    assert marked.json["message"] == "Attendance marked successfully"
    assert marked.json["attendance"]["marked_by"] == "Tina Lee"
    assert marked.json["attendance"]["student"]["student_id"] == "S12345"

    view = tapi.get(f"/api/attendance/session/{sid}/")
    assert view.status_code == 200
    assert view.json["statistics"] == {
        "total_enrolled": 1,
        "present": 1,
        "absent": 0,
        "late": 0,
        "not_marked": 0,
        "attendance_rate": 100.0,
    }

    upd = tapi.put(
        f"/api/attendance/{marked.json['attendance']['id']}/",
        json={"status": "LATE", "notes": "Arrived 10 minutes late"},
    )
    assert upd.status_code == 200, upd.json
    assert upd.json["attendance"]["status"] == "LATE"

    ended = tapi.post(f"/api/sessions/{sid}/end/")
    assert ended.status_code == 200 and ended.json["is_locked"] is True
    again = tapi.put(
        f"/api/attendance/{marked.json['attendance']['id']}/", json={"status": "ABSENT"}
    )
    assert again.status_code == 400
    assert again.json == {"session": ["Cannot modify attendance - session ended and is locked"]}

    sapi = api_as(
        client.post(
            "/api/auth/token/", json={"email": "john.doe@school.test", "password": PASSWORD}
        ).json["token"]
    )
    history = sapi.get(f"/api/attendance/student/{student['student']['id']}/")
    assert history.status_code == 200, history.json
    assert history.json["statistics"]["total_sessions"] == 1
    assert history.json["records"][0]["status"] == "LATE"
    assert make_person  # factories import check
    assert Role.ADMIN
