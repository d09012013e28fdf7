"""/api/sessions/: create, start, end and read class sessions."""

from __future__ import annotations

import uuid

from flask import jsonify

from attendance_app.api import actor, bp
from attendance_app.api.auth import json_body, query_args
from attendance_app.api.responses import check_in_code_body, session_body
from attendance_app.api.schemas import SessionCreate, SessionListQuery
from attendance_app.services.marking import check_in, sessions
from attendance_app.services.reporting.statistics import statistics_for_sessions


@bp.post("/sessions/")
def sessions_create():
    """Schedule a session of a class (its TEACHER or an ADMIN).
    ---
    post:
      tags: [sessions]
      summary: Create a session (SCHEDULED)
      requestBody:
        content:
          application/json:
            schema: SessionCreate
      responses:
        201: {description: The session}
        400: {description: Validation error}
        403: {description: Not the class's teacher}
        404: {description: Class not found.}
    """
    data = SessionCreate().load(json_body())
    result = sessions.create_session(actor=actor(), class_id=data["class_id"])
    return jsonify(session_body(result.session, result.statistics)), 201


#: Made once: a schema deep-copies its fields when made, and loading keeps no state on it.
_SESSION_LIST_QUERY = SessionListQuery()


@bp.get("/sessions/")
def sessions_list():
    """A class's sessions, newest first (its TEACHER or an ADMIN).
    ---
    get:
      tags: [sessions]
      summary: List a class's sessions
      parameters:
        - {in: query, name: class_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200: {description: Sessions}
        400: {description: Missing or bad class_id}
        403: {description: Not the class's teacher}
        404: {description: Class not found.}
    """
    args = _SESSION_LIST_QUERY.load(query_args())
    found = sessions.list_sessions(actor=actor(), class_id=args["class_id"])
    stats = statistics_for_sessions([s.id for s in found])
    return jsonify([session_body(s, stats[s.id]) for s in found])


@bp.get("/sessions/<uuid:session_id>/")
def sessions_detail(session_id: uuid.UUID):
    """A session with its attendance figures.
    ---
    get:
      tags: [sessions]
      summary: Session detail
      parameters:
        - {in: path, name: session_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200: {description: The session}
        403: {description: Not the class's teacher}
        404: {description: Session not found.}
    """
    result = sessions.session_detail(actor=actor(), session_id=session_id)
    return jsonify(session_body(result.session, result.statistics))


@bp.post("/sessions/<uuid:session_id>/start/")
def sessions_start(session_id: uuid.UUID):
    """SCHEDULED → ACTIVE; `start_time` becomes now.
    ---
    post:
      tags: [sessions]
      summary: Start a session
      parameters:
        - {in: path, name: session_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200: {description: "The session, ACTIVE"}
        400: {description: "Not SCHEDULED, e.g. Cannot start a session that is ACTIVE"}
        403: {description: Not the class's teacher}
        404: {description: Session not found.}
    """
    result = sessions.start_session(actor=actor(), session_id=session_id)
    return jsonify(session_body(result.session, result.statistics))


@bp.post("/sessions/<uuid:session_id>/end/")
def sessions_end(session_id: uuid.UUID):
    """ACTIVE → ENDED; `end_time` becomes now and the attendance locks.
    ---
    post:
      tags: [sessions]
      summary: End a session
      parameters:
        - {in: path, name: session_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200: {description: "The session, ENDED"}
        400: {description: "Not ACTIVE, e.g. Cannot end a session that is SCHEDULED"}
        403: {description: Not the class's teacher}
        404: {description: Session not found.}
    """
    result = sessions.end_session(actor=actor(), session_id=session_id)
    return jsonify(session_body(result.session, result.statistics))


@bp.post("/sessions/<uuid:session_id>/check-in-code/")
def sessions_check_in_code(session_id: uuid.UUID):
    """The self check-in code to show in the room now (the class's TEACHER or an ADMIN).
    ---
    post:
      tags: [sessions]
      summary: Current self check-in code
      description: |
        Codes are six digits that change every `period_seconds` (setting
        `CHECK_IN_PERIOD_SECONDS`, default 30), derived from a secret kept per session on the
        server (TOTP, RFC 6238); the secret is made by the first request. `expires_at` is when
        the next code replaces this one; a code is still accepted during the period after its
        own, so a student typing it as it changes is not refused. Call again at `expires_at`
        for the next code.
        Order of checks: authentication (401) → session exists (404) → the class's teacher or
        an admin (403) → session ACTIVE (400, rule 1's messages on `session`).
      parameters:
        - {in: path, name: session_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200:
          description: "`{code, period_seconds, expires_at}`"
          content:
            application/json:
              schema:
                type: object
                properties:
                  code: {type: string, pattern: '^[0-9]{6}$'}
                  period_seconds: {type: integer}
                  expires_at: {type: string, format: date-time}
        400: {description: "Session not ACTIVE (rule 1's messages)"}
        401: {description: No or bad token}
        403: {description: Not the class's teacher}
        404: {description: Session not found.}
    """
    code = check_in.check_in_code(actor=actor(), session_id=session_id)
    return jsonify(check_in_code_body(code))
