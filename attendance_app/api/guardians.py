"""/api/students/{student_id}/guardians/: a student's guardians (ADMIN)."""

from __future__ import annotations

import uuid

from flask import jsonify

from attendance_app.api import actor, bp
from attendance_app.api.auth import json_body
from attendance_app.api.responses import guardian_body
from attendance_app.api.schemas import GuardianCreate
from attendance_app.services.school import guardians


@bp.get("/students/<uuid:student_id>/guardians/")
def guardians_list(student_id: uuid.UUID):
    """A student's guardians, by name (ADMIN).
    ---
    get:
      tags: [school]
      summary: List a student's guardians
      parameters:
        - {in: path, name: student_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200: {description: "[{id, name, email, relationship, notify}, ...]"}
        403: {description: Not an admin}
        404: {description: Student not found.}
    """
    found = guardians.list_guardians(actor=actor(), student_id=student_id)
    return jsonify([guardian_body(g) for g in found])


@bp.post("/students/<uuid:student_id>/guardians/")
def guardians_create(student_id: uuid.UUID):
    """Add a guardian to a student (ADMIN). With `notify` (default true) they are emailed
    the same day the student is absent (GUARDIAN_DIGEST_TIME, school time).
    ---
    post:
      tags: [school]
      summary: Add a guardian
      parameters:
        - {in: path, name: student_id, required: true, schema: {type: string, format: uuid}}
      requestBody:
        content:
          application/json:
            schema: GuardianCreate
      responses:
        201: {description: "The guardian: {id, name, email, relationship, notify}"}
        400: {description: "Validation error, or the student already has this email listed"}
        403: {description: Not an admin}
        404: {description: Student not found.}
    """
    data = GuardianCreate().load(json_body())
    guardian = guardians.add_guardian(
        actor=actor(),
        student_id=student_id,
        name=data["name"],
        email=data["email"],
        relationship=data["relationship"],
        notify=data["notify"],
    )
    return jsonify(guardian_body(guardian)), 201


@bp.delete("/students/<uuid:student_id>/guardians/<uuid:guardian_id>/")
def guardians_delete(student_id: uuid.UUID, guardian_id: uuid.UUID):
    """Remove a guardian (ADMIN).
    ---
    delete:
      tags: [school]
      summary: Remove a guardian
      parameters:
        - {in: path, name: student_id, required: true, schema: {type: string, format: uuid}}
        - {in: path, name: guardian_id, required: true, schema: {type: string, format: uuid}}
      responses:
        204: {description: Removed}
        403: {description: Not an admin}
        404: {description: "Student not found, or Guardian not found."}
    """
    guardians.remove_guardian(actor=actor(), student_id=student_id, guardian_id=guardian_id)
    return "", 204
