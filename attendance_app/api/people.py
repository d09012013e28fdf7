"""/api/auth/token/, /api/users/, /api/subjects/, /api/classes/ and enrolments."""

from __future__ import annotations

import uuid

from flask import g, jsonify, request

from attendance_app.api import actor, bp
from attendance_app.api.auth import json_body, query_args
from attendance_app.api.responses import (
    class_body,
    enroll_body,
    subject_body,
    token_user_body,
    user_body,
)
from attendance_app.api.schemas import (
    ClassCreate,
    EnrollmentCreate,
    ListQuery,
    SubjectCreate,
    TokenRequest,
    UserCreate,
)
from attendance_app.models import Channel
from attendance_app.services.school import people, structure, tokens


@bp.post("/auth/token/", endpoint="token_create")
def token_create():
    """Exchange email and password (and `otp`, the two-factor code, when the account has
    two-factor sign-in on) for an API token; it expires after API_TOKEN_DAYS (default 30).
    Failed attempts are throttled per account (10 in 15 minutes) and per client address
    (50 in 15 minutes), together with the login form's.
    ---
    post:
      tags: [auth]
      summary: Obtain an API token
      security: []
      requestBody:
        content:
          application/json:
            schema: TokenRequest
      responses:
        200: {description: The token and its user}
        400: {description: Missing fields}
        401:
          description: >-
            Invalid email or password. — or, with two-factor sign-in on, Two-factor code
            required. (with "otp_required": true) or Invalid two-factor code.
        403: {description: An admin without two-factor sign-in while REQUIRE_ADMIN_2FA is on}
        429:
          description: Too many failed attempts. Try again in N seconds. (and Retry-After)
    """
    data = TokenRequest().load(json_body())
    issued = tokens.issue_token(
        email=data["email"],
        password=data["password"],
        otp=data["otp"] or None,
        address=request.remote_addr,
        channel=Channel.API,
    )
    return jsonify({"token": issued.token, "user": token_user_body(issued.user)})


@bp.delete("/auth/token/")
def token_revoke():
    """Revoke the token that authenticates this request.
    ---
    delete:
      tags: [auth]
      summary: Revoke the current token
      responses:
        204: {description: Revoked}
        401: {description: No or bad token}
    """
    token = g.get("api_token")
    if token:
        tokens.revoke_token(raw=token)
    return "", 204


#: Made once: a schema deep-copies its fields when made, and loading keeps no state on it.
_LIST_QUERY = ListQuery()


@bp.get("/users/")
def users_list():
    """List users (ADMIN).
    ---
    get:
      tags: [people]
      summary: List users
      parameters:
        - {in: query, name: role, schema: {type: string, enum: [ADMIN, TEACHER, STUDENT]}}
      responses:
        200: {description: Users ordered by name}
        403: {description: Not an admin}
    """
    args = _LIST_QUERY.load(query_args())
    return jsonify([user_body(u) for u in people.list_users(actor=actor(), role=args["role"])])


@bp.post("/users/")
def users_create():
    """Create a user (ADMIN); a STUDENT needs `student_id`, the school's number.
    ---
    post:
      tags: [people]
      summary: Create a user
      requestBody:
        content:
          application/json:
            schema: UserCreate
      responses:
        201: {description: The user with its student or teacher profile}
        400: {description: "Validation error, duplicate email or student number"}
        403: {description: Not an admin}
    """
    data = UserCreate().load(json_body())
    user = people.create_user(
        actor=actor(),
        email=data["email"],
        password=data["password"],
        first_name=data["first_name"],
        last_name=data["last_name"],
        role=data["role"],
        student_number=data["student_id"],
    )
    return jsonify(user_body(user)), 201


@bp.get("/subjects/")
def subjects_list():
    """List subjects.
    ---
    get:
      tags: [school]
      summary: List subjects
      responses:
        200: {description: Subjects ordered by code}
    """
    return jsonify([subject_body(s) for s in structure.list_subjects()])


@bp.post("/subjects/")
def subjects_create():
    """Create a subject (ADMIN).
    ---
    post:
      tags: [school]
      summary: Create a subject
      requestBody:
        content:
          application/json:
            schema: SubjectCreate
      responses:
        201: {description: The subject}
        400: {description: Validation error or duplicate code}
        403: {description: Not an admin}
    """
    data = SubjectCreate().load(json_body())
    subject = structure.create_subject(actor=actor(), code=data["code"], name=data["name"])
    return jsonify(subject_body(subject)), 201


@bp.get("/classes/")
def classes_list():
    """List classes: all for an ADMIN, their own for a TEACHER.
    ---
    get:
      tags: [school]
      summary: List classes
      responses:
        200: {description: Classes ordered by name}
    """
    classes = structure.list_classes(actor=actor())
    counts = structure.enrolled_counts([c.id for c in classes])
    return jsonify([class_body(c, counts.get(c.id, 0)) for c in classes])


@bp.post("/classes/")
def classes_create():
    """Create a class of a subject, taught by a teacher (ADMIN).
    ---
    post:
      tags: [school]
      summary: Create a class
      requestBody:
        content:
          application/json:
            schema: ClassCreate
      responses:
        201: {description: The class}
        400: {description: Validation error or unknown subject/teacher}
        403: {description: Not an admin}
    """
    data = ClassCreate().load(json_body())
    school_class = structure.create_class(
        actor=actor(),
        subject_id=data["subject_id"],
        teacher_id=data["teacher_id"],
        name=data["name"],
    )
    return jsonify(class_body(school_class, 0)), 201


@bp.get("/classes/<uuid:class_id>/")
def classes_detail(class_id: uuid.UUID):
    """A class (its TEACHER or an ADMIN).
    ---
    get:
      tags: [school]
      summary: Class detail
      parameters:
        - {in: path, name: class_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200: {description: The class}
        403: {description: Not the class's teacher}
        404: {description: Class not found.}
    """
    school_class = structure.get_class_for(actor(), class_id)
    return jsonify(class_body(school_class, structure.enrolled_count(class_id)))


@bp.post("/classes/<uuid:class_id>/enrollments/")
def enrollments_create(class_id: uuid.UUID):
    """Enrol students (ADMIN); enrolling a student twice is not an error.
    ---
    post:
      tags: [school]
      summary: Enrol students
      parameters:
        - {in: path, name: class_id, required: true, schema: {type: string, format: uuid}}
      requestBody:
        content:
          application/json:
            schema: EnrollmentCreate
      responses:
        201: {description: How many were newly enrolled and the total}
        400: {description: Validation error or unknown student}
        403: {description: Not an admin}
        404: {description: Class not found.}
    """
    data = EnrollmentCreate().load(json_body())
    result = structure.enroll_students(
        actor=actor(), class_id=class_id, student_ids=data["student_ids"]
    )
    return jsonify(enroll_body(result)), 201


@bp.delete("/classes/<uuid:class_id>/enrollments/<uuid:student_id>/")
def enrollments_delete(class_id: uuid.UUID, student_id: uuid.UUID):
    """Remove a student from a class (ADMIN); their records stay.
    ---
    delete:
      tags: [school]
      summary: Unenrol a student
      parameters:
        - {in: path, name: class_id, required: true, schema: {type: string, format: uuid}}
        - {in: path, name: student_id, required: true, schema: {type: string, format: uuid}}
      responses:
        204: {description: Removed}
        403: {description: Not an admin}
        404: {description: "Class not found, or the student is not enrolled in it"}
    """
    structure.unenroll_student(actor=actor(), class_id=class_id, student_id=student_id)
    return "", 204
