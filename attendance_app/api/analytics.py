"""/api/analytics/…: a student's and a class's attendance figures."""

from __future__ import annotations

import uuid

from flask import jsonify

from attendance_app.api import actor, bp
from attendance_app.api.auth import query_args
from attendance_app.api.responses import class_analytics_body, student_analytics_body
from attendance_app.api.schemas import StudentAnalyticsQuery
from attendance_app.services.reporting import analytics

#: Made once: a schema deep-copies its fields when made, and loading keeps no state on it.
_STUDENT_ANALYTICS_QUERY = StudentAnalyticsQuery()


@bp.get("/analytics/students/<uuid:student_id>/")
def analytics_student(student_id: uuid.UUID):
    """A student's attendance figures, over one class's records with `class_id`.
    ---
    get:
      tags: [analytics]
      summary: Student analytics
      description: |
        Figures over the records of started (ACTIVE or ENDED) sessions, ordered by the
        session's start time: `total_sessions`, `present`, `absent`, `late`;
        `attendance_rate` = (PRESENT + LATE) / total × 100 and `late_rate` = LATE / total ×
        100 (2 decimals, 0.0 without records); `consecutive_absences`, the most recent
        records ABSENT in a row; `trend`, the rate of the last W records
        (`ANALYTICS_TREND_WINDOW`, default 5) against the W before them: `improving` or
        `declining` at 10 points or more, else (or with fewer than 2 × W records) `stable`;
        `risk_level`: `high` (rate < 70 or 3+ absences in a row), else `medium` (rate < 85,
        2+ absences in a row or late rate > 20), else `low`. A TEACHER gets figures over the
        records of the classes they teach only, and only for a student enrolled in one.
      parameters:
        - {in: path, name: student_id, required: true, schema: {type: string, format: uuid}}
        - {in: query, name: class_id, schema: {type: string, format: uuid}}
      responses:
        200: {description: "Student and figures"}
        400: {description: "Bad class_id (malformed, or no such class)"}
        403: {description: "Not this student, their teacher or an admin; or not the class's"}
        404: {description: Student not found.}
    """
    args = _STUDENT_ANALYTICS_QUERY.load(query_args())
    result = analytics.student_analytics(
        actor=actor(), student_id=student_id, class_id=args["class_id"]
    )
    return jsonify(student_analytics_body(result))


@bp.get("/analytics/classes/<uuid:class_id>/")
def analytics_class(class_id: uuid.UUID):
    """A class's started sessions with their rates and every enrolled student's figures.
    ---
    get:
      tags: [analytics]
      summary: Class analytics
      description: |
        `sessions`: the started sessions, oldest first, each with its attendance rate;
        `attendance_rate`: the mean of those rates. `students`: every enrolled student with
        the figures of the student analytics over this class's records, riskiest first
        (high, medium, low), then lowest rate, then last and first name. `at_risk`: the
        high and medium students in that order; `most_late`: up to 5 students with at least
        one LATE, most first, ties by last and first name.
      parameters:
        - {in: path, name: class_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200: {description: "Class, sessions, students and the two lists"}
        403: {description: "Not the class's teacher or an admin"}
        404: {description: Class not found.}
    """
    result = analytics.class_analytics(actor=actor(), class_id=class_id)
    return jsonify(class_analytics_body(result))
