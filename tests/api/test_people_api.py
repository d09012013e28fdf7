"""Users, subjects, classes and enrolments over /api/ (the admin's set-up endpoints)."""

from __future__ import annotations

import uuid

import pytest

from attendance_app.models import Role
from tests.factories import (
    PASSWORD,
    make_admin,
    make_class,
    make_person,
    make_student,
    make_teacher,
)

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
REQUIRED = ["This field is required."]


def user_payload(**overrides) -> dict:
    body = {
        "email": f"new-{uuid.uuid4().hex[:8]}@school.test",
        "password": PASSWORD,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "role": "TEACHER",
    }
    body.update(overrides)
    return body


@pytest.fixture
def admin(app):
    return make_admin(app)


@pytest.fixture
def admin_api(admin, api_as):
    return api_as(admin)


# --- POST /api/users/ -------------------------------------------------------------------------


def test_admin_creates_a_teacher_with_a_teacher_profile(admin_api):
    resp = admin_api.post("/api/users/", json=user_payload(email="ada@school.test"))

    assert resp.status_code == 201, resp.json
    body = resp.json
    assert set(body) == {"id", "email", "first_name", "last_name", "role", "student", "teacher"}
    assert body["email"] == "ada@school.test"
    assert (body["first_name"], body["last_name"], body["role"]) == ("Ada", "Lovelace", "TEACHER")
    assert body["student"] is None
    assert set(body["teacher"]) == {"id"}
    uuid.UUID(body["id"])
    uuid.UUID(body["teacher"]["id"])


def test_admin_creates_a_student_with_their_school_number(admin_api):
    resp = admin_api.post("/api/users/", json=user_payload(role="STUDENT", student_id="S12345"))

    assert resp.status_code == 201, resp.json
    assert resp.json["role"] == "STUDENT"
    assert resp.json["teacher"] is None
    assert set(resp.json["student"]) == {"id", "student_id"}
    assert resp.json["student"]["student_id"] == "S12345"
    assert resp.json["student"]["id"] != resp.json["id"]


def test_admin_creates_another_admin_without_a_profile(admin_api):
    resp = admin_api.post("/api/users/", json=user_payload(role="ADMIN"))

    assert resp.status_code == 201, resp.json
    assert resp.json["role"] == "ADMIN"
    assert resp.json["student"] is None and resp.json["teacher"] is None


def test_the_student_uuid_from_user_creation_is_the_one_enrolment_takes(app, admin_api):
    klass = make_class(app, admin=make_admin(app), students=0)
    student = admin_api.post(
        "/api/users/", json=user_payload(role="STUDENT", student_id="S777")
    ).json

    resp = admin_api.post(
        f"/api/classes/{klass.id}/enrollments/", json={"student_ids": [student["student"]["id"]]}
    )

    assert resp.status_code == 201, resp.json


def test_a_created_user_can_log_in_with_their_password(admin_api, client):
    admin_api.post("/api/users/", json=user_payload(email="Login.Me@School.test"))

    resp = client.post(
        "/api/auth/token/", json={"email": "login.me@school.test", "password": PASSWORD}
    )

    assert resp.status_code == 200


def test_a_student_needs_a_student_id(admin_api):
    resp = admin_api.post("/api/users/", json=user_payload(role="STUDENT"))

    assert resp.status_code == 400
    assert resp.json == {"student_id": REQUIRED}


@pytest.mark.parametrize("blank", [None, "   "])
def test_a_student_with_a_null_or_blank_student_id_is_refused(admin_api, blank):
    resp = admin_api.post("/api/users/", json=user_payload(role="STUDENT", student_id=blank))

    assert resp.status_code == 400
    assert list(resp.json) == ["student_id"]


def test_a_teacher_needs_no_student_id_and_an_unneeded_one_is_not_stored(admin_api):
    resp = admin_api.post("/api/users/", json=user_payload(role="TEACHER", student_id="S1"))

    assert resp.status_code == 201, resp.json
    assert resp.json["student"] is None


@pytest.mark.parametrize("spelling", [str.upper, str.title, str.lower])
def test_a_duplicate_email_is_refused_whatever_its_case(app, admin_api, spelling):
    taken = make_teacher(app, email="taken@school.test")

    resp = admin_api.post("/api/users/", json=user_payload(email=spelling(taken.email)))

    assert resp.status_code == 400
    assert resp.json == {"email": ["A user with this email already exists."]}


def test_a_duplicate_student_number_is_refused(app, admin_api):
    make_student(app, number="S55555")

    resp = admin_api.post("/api/users/", json=user_payload(role="STUDENT", student_id="S55555"))

    assert resp.status_code == 400
    assert list(resp.json) == ["student_id"]
    assert resp.json["student_id"] == ["A student with this student ID already exists."]


def test_a_refused_user_is_not_created(app, admin_api):
    make_student(app, number="S55555")
    body = user_payload(email="ghost@school.test", role="STUDENT", student_id="S55555")

    admin_api.post("/api/users/", json=body)

    listed = admin_api.get("/api/users/").json
    assert "ghost@school.test" not in [u["email"] for u in listed]


@pytest.mark.parametrize("role", ["FOO", "admin", "", 1, None, True])
def test_a_role_outside_the_choices_is_refused(admin_api, role):
    resp = admin_api.post("/api/users/", json=user_payload(role=role))

    assert resp.status_code == 400
    assert list(resp.json) == ["role"]


def test_a_bad_role_gets_drfs_choice_message(admin_api):
    resp = admin_api.post("/api/users/", json=user_payload(role="FOO"))

    assert resp.json == {"role": ['"FOO" is not a valid choice.']}


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@school.test", "a b@school.test"])
def test_a_malformed_email_is_refused(admin_api, email):
    resp = admin_api.post("/api/users/", json=user_payload(email=email))

    assert resp.status_code == 400
    assert resp.json == {"email": ["Enter a valid email address."]}


def test_a_short_password_is_refused(admin_api):
    resp = admin_api.post("/api/users/", json=user_payload(password="short"))

    assert resp.status_code == 400
    assert resp.json == {
        "password": ["This password is too short. It must contain at least 8 characters."]
    }


def test_missing_user_fields_are_each_reported(admin_api):
    resp = admin_api.post("/api/users/", json={})

    assert resp.status_code == 400
    assert resp.json == {
        "email": REQUIRED,
        "password": REQUIRED,
        "first_name": REQUIRED,
        "last_name": REQUIRED,
        "role": REQUIRED,
    }


def test_unknown_user_fields_are_ignored(admin_api):
    resp = admin_api.post("/api/users/", json=user_payload(is_superuser=True, id="x"))

    assert resp.status_code == 201, resp.json
    assert resp.json["id"] != "x"


@pytest.mark.parametrize("role", [Role.TEACHER, Role.STUDENT])
def test_only_an_admin_may_create_users(app, api_as, role):
    caller = make_person(app, role)

    resp = api_as(caller).post("/api/users/", json=user_payload())

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_creating_a_user_needs_authentication(client):
    resp = client.post("/api/users/", json=user_payload())

    assert resp.status_code == 401


# --- GET /api/users/ --------------------------------------------------------------------------


def test_admin_lists_every_user_ordered_by_name(app, admin, admin_api):
    make_teacher(app, first_name="Zed", last_name="Brown")
    make_student(app, first_name="Amy", last_name="Brown")
    make_teacher(app, first_name="Bob", last_name="Adams")

    resp = admin_api.get("/api/users/")

    assert resp.status_code == 200
    names = [(u["last_name"], u["first_name"]) for u in resp.json]
    assert names[0] == ("Adams", "Bob")
    assert names.index(("Brown", "Amy")) < names.index(("Brown", "Zed"))
    assert len(resp.json) == 4
    assert admin.email in [u["email"] for u in resp.json]


def test_listed_users_carry_their_profiles(app, admin_api):
    student = make_student(app, number="S24680")

    listed = {u["id"]: u for u in admin_api.get("/api/users/").json}

    assert listed[str(student.user_id)]["student"] == {
        "id": str(student.profile_id),
        "student_id": "S24680",
    }


def test_users_can_be_filtered_by_role(app, admin_api):
    make_teacher(app)
    student = make_student(app)

    resp = admin_api.get("/api/users/?role=STUDENT")

    assert resp.status_code == 200
    assert [u["id"] for u in resp.json] == [str(student.user_id)]


def test_a_bad_role_filter_is_400_on_role(admin_api):
    resp = admin_api.get("/api/users/?role=FOO")

    assert resp.status_code == 400
    assert resp.json == {"role": ['"FOO" is not a valid choice.']}


@pytest.mark.parametrize("role", [Role.TEACHER, Role.STUDENT])
def test_only_an_admin_may_list_users(app, api_as, role):
    resp = api_as(make_person(app, role)).get("/api/users/")

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


# --- subjects ---------------------------------------------------------------------------------


def test_admin_creates_a_subject(admin_api):
    resp = admin_api.post("/api/subjects/", json={"code": "TEST101", "name": "Test Subject"})

    assert resp.status_code == 201, resp.json
    assert set(resp.json) == {"id", "code", "name"}
    assert (resp.json["code"], resp.json["name"]) == ("TEST101", "Test Subject")
    uuid.UUID(resp.json["id"])


@pytest.mark.parametrize("code", ["TEST101", "test101"])
def test_a_duplicate_subject_code_is_refused(admin_api, code):
    admin_api.post("/api/subjects/", json={"code": "TEST101", "name": "First"})

    resp = admin_api.post("/api/subjects/", json={"code": code, "name": "Second"})

    assert resp.status_code == 400
    assert resp.json == {"code": ["A subject with this code already exists."]}
    assert [s["name"] for s in admin_api.get("/api/subjects/").json] == ["First"]


def test_missing_subject_fields_are_reported(admin_api):
    resp = admin_api.post("/api/subjects/", json={})

    assert resp.status_code == 400
    assert resp.json == {"code": REQUIRED, "name": REQUIRED}


def test_an_overlong_subject_code_is_refused(admin_api):
    resp = admin_api.post("/api/subjects/", json={"code": "X" * 33, "name": "Long"})

    assert resp.status_code == 400
    assert list(resp.json) == ["code"]


@pytest.mark.parametrize("role", [Role.TEACHER, Role.STUDENT])
def test_only_an_admin_may_create_subjects(app, api_as, role):
    resp = api_as(make_person(app, role)).post("/api/subjects/", json={"code": "X1", "name": "X"})

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


@pytest.mark.parametrize("role", [Role.ADMIN, Role.TEACHER, Role.STUDENT])
def test_subjects_are_listed_by_code_for_anyone_signed_in(app, admin_api, api_as, role):
    for code in ["MATH2", "ART1", "BIO3"]:
        admin_api.post("/api/subjects/", json={"code": code, "name": f"{code} name"})

    resp = api_as(make_person(app, role)).get("/api/subjects/")

    assert resp.status_code == 200
    assert [s["code"] for s in resp.json] == ["ART1", "BIO3", "MATH2"]
    assert all(set(s) == {"id", "code", "name"} for s in resp.json)


# --- classes ----------------------------------------------------------------------------------


@pytest.fixture
def subject(admin_api):
    return admin_api.post("/api/subjects/", json={"code": "TEST101", "name": "Test Subject"}).json


def test_admin_creates_a_class_with_the_contract_shape(app, admin_api, subject):
    teacher = make_teacher(app, first_name="Tina", last_name="Lee")

    resp = admin_api.post(
        "/api/classes/",
        json={
            "subject_id": subject["id"],
            "name": "TEST101 Section A",
            "teacher_id": str(teacher.profile_id),
        },
    )

    assert resp.status_code == 201, resp.json
    class_id = resp.json["id"]
    uuid.UUID(class_id)
    assert resp.json == {
        "id": class_id,
        "name": "TEST101 Section A",
        "subject": {"id": subject["id"], "code": "TEST101", "name": "Test Subject"},
        "teacher": {"id": str(teacher.profile_id), "name": "Tina Lee"},
        "total_enrolled": 0,
    }


def test_a_class_with_an_unknown_subject_is_400_on_subject_id(app, admin_api):
    teacher = make_teacher(app)
    missing = uuid.uuid4()

    resp = admin_api.post(
        "/api/classes/",
        json={"subject_id": str(missing), "name": "X", "teacher_id": str(teacher.profile_id)},
    )

    assert resp.status_code == 400
    assert resp.json == {"subject_id": [f'Invalid pk "{missing}" - object does not exist.']}


def test_a_class_with_an_unknown_teacher_is_400_on_teacher_id(admin_api, subject):
    missing = uuid.uuid4()

    resp = admin_api.post(
        "/api/classes/",
        json={"subject_id": subject["id"], "name": "X", "teacher_id": str(missing)},
    )

    assert resp.status_code == 400
    assert resp.json == {"teacher_id": [f'Invalid pk "{missing}" - object does not exist.']}


def test_a_teachers_user_id_is_not_a_teacher_id(app, admin_api, subject):
    teacher = make_teacher(app)

    resp = admin_api.post(
        "/api/classes/",
        json={"subject_id": subject["id"], "name": "X", "teacher_id": str(teacher.user_id)},
    )

    assert resp.status_code == 400
    assert list(resp.json) == ["teacher_id"]


def test_a_student_cannot_be_made_a_classes_teacher(app, admin_api, subject):
    student = make_student(app)

    resp = admin_api.post(
        "/api/classes/",
        json={"subject_id": subject["id"], "name": "X", "teacher_id": str(student.profile_id)},
    )

    assert resp.status_code == 400
    assert list(resp.json) == ["teacher_id"]


def test_class_ids_must_be_uuids(admin_api):
    resp = admin_api.post(
        "/api/classes/", json={"subject_id": "nope", "name": "X", "teacher_id": 42}
    )

    assert resp.status_code == 400
    assert resp.json == {
        "subject_id": ["Must be a valid UUID."],
        "teacher_id": ["Must be a valid UUID."],
    }


def test_missing_class_fields_are_reported(admin_api):
    resp = admin_api.post("/api/classes/", json={})

    assert resp.status_code == 400
    assert resp.json == {"subject_id": REQUIRED, "teacher_id": REQUIRED, "name": REQUIRED}


def test_a_refused_class_is_not_created(admin_api):
    admin_api.post(
        "/api/classes/",
        json={"subject_id": str(uuid.uuid4()), "name": "Ghost", "teacher_id": str(uuid.uuid4())},
    )

    assert admin_api.get("/api/classes/").json == []


@pytest.mark.parametrize("role", [Role.TEACHER, Role.STUDENT])
def test_only_an_admin_may_create_classes(app, api_as, subject, role):
    teacher = make_teacher(app)

    resp = api_as(make_person(app, role)).post(
        "/api/classes/",
        json={"subject_id": subject["id"], "name": "X", "teacher_id": str(teacher.profile_id)},
    )

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_admin_lists_every_class_by_name_with_enrolment_counts(app, admin, admin_api):
    b = make_class(app, admin=admin, students=2, name="B class")
    a = make_class(app, admin=admin, students=0, name="A class")

    resp = admin_api.get("/api/classes/")

    assert resp.status_code == 200
    assert [(c["id"], c["total_enrolled"]) for c in resp.json] == [(str(a.id), 0), (str(b.id), 2)]


def test_a_teacher_lists_only_the_classes_they_teach(app, admin, api_as):
    teacher = make_teacher(app)
    mine = make_class(app, admin=admin, teacher=teacher, students=1)
    make_class(app, admin=admin, students=1)

    resp = api_as(teacher).get("/api/classes/")

    assert resp.status_code == 200
    assert [c["id"] for c in resp.json] == [str(mine.id)]
    assert resp.json[0]["total_enrolled"] == 1
    assert resp.json[0]["teacher"] == {"id": str(teacher.profile_id), "name": teacher.full_name}


def test_a_student_lists_no_classes(app, admin, api_as):
    klass = make_class(app, admin=admin, students=1)

    resp = api_as(make_student(app)).get("/api/classes/")

    assert resp.status_code == 200
    assert resp.json == []
    assert klass


def test_class_detail_for_its_teacher_and_admins(app, admin, admin_api, api_as):
    klass = make_class(app, admin=admin, students=3)

    for api in (admin_api, api_as(klass.teacher)):
        resp = api.get(f"/api/classes/{klass.id}/")
        assert resp.status_code == 200, resp.json
        assert resp.json == {
            "id": str(klass.id),
            "name": klass.name,
            "subject": {
                "id": str(klass.subject_id),
                "code": klass.subject_code,
                "name": f"Subject {klass.subject_code}",
            },
            "teacher": {"id": str(klass.teacher.profile_id), "name": klass.teacher.full_name},
            "total_enrolled": 3,
        }


@pytest.mark.parametrize("who", ["other_teacher", "enrolled_student"])
def test_class_detail_is_forbidden_to_others(app, admin, api_as, who):
    student = make_student(app)
    klass = make_class(app, admin=admin, students=[student])
    caller = make_teacher(app) if who == "other_teacher" else student

    resp = api_as(caller).get(f"/api/classes/{klass.id}/")

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_class_detail_of_an_unknown_class_is_404(admin_api):
    resp = admin_api.get(f"/api/classes/{uuid.uuid4()}/")

    assert resp.status_code == 404
    assert resp.json == {"detail": "Class not found."}


def test_class_detail_with_a_malformed_id_is_404(admin_api):
    resp = admin_api.get("/api/classes/not-a-uuid/")

    assert resp.status_code == 404
    assert resp.json == {"detail": "Not found."}


# --- enrolments -------------------------------------------------------------------------------


def enrol(api, class_id, students) -> object:
    ids = [str(getattr(s, "profile_id", s)) for s in students]
    return api.post(f"/api/classes/{class_id}/enrollments/", json={"student_ids": ids})


def test_enrolling_reports_new_and_total_counts(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=0)
    students = [make_student(app, with_token=False) for _ in range(3)]

    resp = enrol(admin_api, klass.id, students)

    assert resp.status_code == 201, resp.json
    assert resp.json == {"class_id": str(klass.id), "enrolled": 3, "total_enrolled": 3}


def test_enrolling_adds_to_the_students_already_there(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=2)
    newcomer = make_student(app, with_token=False)

    resp = enrol(admin_api, klass.id, [newcomer])

    assert resp.json == {"class_id": str(klass.id), "enrolled": 1, "total_enrolled": 3}
    assert admin_api.get(f"/api/classes/{klass.id}/").json["total_enrolled"] == 3


def test_enrolling_a_student_twice_is_not_an_error_and_counts_nothing_new(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=2)

    resp = enrol(admin_api, klass.id, klass.students)

    assert resp.status_code == 201, resp.json
    assert resp.json == {"class_id": str(klass.id), "enrolled": 0, "total_enrolled": 2}


def test_a_student_listed_twice_in_one_request_is_enrolled_once(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=0)
    student = make_student(app, with_token=False)

    resp = enrol(admin_api, klass.id, [student, student])

    assert resp.status_code == 201, resp.json
    assert resp.json["enrolled"] == 1 and resp.json["total_enrolled"] == 1


def test_enrolling_a_mix_of_new_and_enrolled_students_counts_only_the_new(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=1)
    newcomer = make_student(app, with_token=False)

    resp = enrol(admin_api, klass.id, [klass.students[0], newcomer])

    assert resp.json == {"class_id": str(klass.id), "enrolled": 1, "total_enrolled": 2}


def test_an_empty_student_list_enrols_nobody(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=1)

    resp = enrol(admin_api, klass.id, [])

    assert resp.status_code == 201, resp.json
    assert resp.json == {"class_id": str(klass.id), "enrolled": 0, "total_enrolled": 1}


def test_an_unknown_student_is_400_keyed_by_its_index_and_nobody_is_enrolled(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=0)
    real = make_student(app, with_token=False)
    missing = uuid.uuid4()

    resp = enrol(admin_api, klass.id, [real, missing])

    assert resp.status_code == 400
    assert resp.json == {"student_ids": {"1": [f'Invalid pk "{missing}" - object does not exist.']}}
    assert admin_api.get(f"/api/classes/{klass.id}/").json["total_enrolled"] == 0


def test_a_teachers_id_is_not_a_student_id(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=0)

    resp = enrol(admin_api, klass.id, [klass.teacher])

    assert resp.status_code == 400
    assert list(resp.json["student_ids"]) == ["0"]


def test_malformed_student_ids_are_400_keyed_by_index(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=1)

    resp = admin_api.post(
        f"/api/classes/{klass.id}/enrollments/",
        json={"student_ids": [str(klass.students[0].profile_id), "nope"]},
    )

    assert resp.status_code == 400
    assert resp.json == {"student_ids": {"1": ["Must be a valid UUID."]}}


@pytest.mark.parametrize("value", ["not-a-list", 3, {"a": 1}, None])
def test_student_ids_must_be_a_list(app, admin, admin_api, value):
    klass = make_class(app, admin=admin, students=0)

    resp = admin_api.post(f"/api/classes/{klass.id}/enrollments/", json={"student_ids": value})

    assert resp.status_code == 400
    assert list(resp.json) == ["student_ids"]


def test_student_ids_are_required(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=0)

    resp = admin_api.post(f"/api/classes/{klass.id}/enrollments/", json={})

    assert resp.status_code == 400
    assert resp.json == {"student_ids": REQUIRED}


def test_enrolling_in_an_unknown_class_is_404(app, admin_api):
    student = make_student(app, with_token=False)

    resp = enrol(admin_api, uuid.uuid4(), [student])

    assert resp.status_code == 404
    assert resp.json == {"detail": "Class not found."}


@pytest.mark.parametrize("who", ["teacher_of_class", "student"])
def test_only_an_admin_may_enrol(app, admin, api_as, who):
    klass = make_class(app, admin=admin, students=0)
    caller = klass.teacher if who == "teacher_of_class" else make_student(app)

    resp = enrol(api_as(caller), klass.id, [make_student(app, with_token=False)])

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN


def test_unenrolling_answers_204_and_lowers_the_count(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=2)
    leaver = klass.students[0]

    resp = admin_api.delete(f"/api/classes/{klass.id}/enrollments/{leaver.profile_id}/")

    assert resp.status_code == 204
    assert resp.data == b""
    assert admin_api.get(f"/api/classes/{klass.id}/").json["total_enrolled"] == 1


def test_unenrolling_a_student_who_is_not_enrolled_is_404(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=1)
    leaver = klass.students[0]
    url = f"/api/classes/{klass.id}/enrollments/{leaver.profile_id}/"
    assert admin_api.delete(url).status_code == 204

    resp = admin_api.delete(url)

    assert resp.status_code == 404
    assert set(resp.json) == {"detail"}


def test_unenrolling_from_an_unknown_class_is_404(app, admin_api):
    student = make_student(app, with_token=False)

    resp = admin_api.delete(f"/api/classes/{uuid.uuid4()}/enrollments/{student.profile_id}/")

    assert resp.status_code == 404
    assert resp.json == {"detail": "Class not found."}


def test_an_unenrolled_student_can_be_enrolled_again(app, admin, admin_api):
    klass = make_class(app, admin=admin, students=1)
    student = klass.students[0]
    admin_api.delete(f"/api/classes/{klass.id}/enrollments/{student.profile_id}/")

    resp = enrol(admin_api, klass.id, [student])

    assert resp.json == {"class_id": str(klass.id), "enrolled": 1, "total_enrolled": 1}


def test_only_an_admin_may_unenrol(app, admin, api_as):
    klass = make_class(app, admin=admin, students=1)

    resp = api_as(klass.teacher).delete(
        f"/api/classes/{klass.id}/enrollments/{klass.students[0].profile_id}/"
    )

    assert resp.status_code == 403
    assert resp.json == FORBIDDEN
