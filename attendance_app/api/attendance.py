"""/api/attendance/…: the brief's Module 4 endpoints."""

from __future__ import annotations

import uuid

from flask import current_app, jsonify, request

from attendance_app.api import actor, bp, reader
from attendance_app.api.auth import Query, json_body
from attendance_app.api.responses import (
    bulk_mark_body,
    excuse_body,
    history_body,
    initialise_body,
    late_minutes_body,
    mark_body,
    session_view_body,
    update_body,
)
from attendance_app.api.schemas import (
    BulkMarkRequest,
    CheckInRequest,
    ExcuseRequest,
    HistoryQuery,
    LateMinutesRequest,
    MarkRequest,
    SessionViewQuery,
    UpdateRequest,
)
from attendance_app.models import Channel
from attendance_app.services.marking import attendance, bulk, check_in, excuses
from attendance_app.services.reporting import history, session_view

#: The hot writes' request schemas, made once: a schema instance deep-copies its fields when
#: made (a visible share of a single mark), and loading keeps no state on it.
_MARK_REQUEST = MarkRequest()
_UPDATE_REQUEST = UpdateRequest()
#: The session view's query schema, made once too (~60 µs a request otherwise).
_SESSION_VIEW_QUERY = Query(SessionViewQuery())


@bp.post("/attendance/mark/")
def attendance_mark():
    """Mark one student, or many at once (all or nothing).
    ---
    post:
      tags: [attendance]
      summary: Mark attendance (single or bulk)
      description: |
        Single `{session_id, student_id, status, notes?}` or bulk `{session_id, records: [...]}`.
        Order of checks: authentication (401) → body shape (400) → session exists (404) →
        permission (403) → session ACTIVE (400) → student exists (404) → enrolled (400) →
        not yet marked (409). Bulk errors are keyed by entry index under `records`.
      requestBody:
        content:
          application/json:
            schema: MarkRequest
      responses:
        201: {description: Marked}
        400: {description: "Shape error, session not ACTIVE, or student not enrolled"}
        401: {description: No or bad token}
        403: {description: Not the session's teacher}
        404: {description: Session or student not found}
        409: {description: Attendance already marked for this student in this session}
    """
    data = _MARK_REQUEST.load(json_body())
    if data["records"] is not None:
        result = bulk.mark_records(
            actor=actor(),
            session_id=data["session_id"],
            entries=[
                attendance.MarkEntry(r["student_id"], r["status"], r["notes"])
                for r in data["records"]
            ],
            channel=Channel.API,
        )
        return jsonify(bulk_mark_body(result)), 201
    result = attendance.mark_attendance(
        actor=reader(),  # a single mark only reads who marks (``api.reader``)
        session_id=data["session_id"],
        student_id=data["student_id"],
        status=data["status"],
        notes=data["notes"],
        channel=Channel.API,
    )
    return jsonify(mark_body(result)), 201


@bp.get("/attendance/session/<uuid:session_id>/")
def attendance_session(session_id: uuid.UUID):
    """A session's records and statistics (filters apply to records only).
    ---
    get:
      tags: [attendance]
      summary: Session attendance
      parameters:
        - {in: path, name: session_id, required: true, schema: {type: string, format: uuid}}
        - {in: query, name: status, schema: {type: string, enum: [PRESENT, ABSENT, LATE]}}
        - {in: query, name: marked_after, schema: {type: string, format: date-time}}
        - {in: query, name: include_absent, schema: {type: boolean, default: true}}
      responses:
        200: {description: "Session, statistics and records (newest marked_at first)"}
        400: {description: Bad filter value}
        403: {description: Not the session's teacher}
        404: {description: Session not found.}
    """
    args = _SESSION_VIEW_QUERY.load()
    body = session_view.session_view(
        reader(),
        session_id,
        status=args["status"],
        marked_after=args["marked_after"],
        include_absent=args["include_absent"],
        render=_render_session_view,
    )
    return current_app.response_class(body, mimetype=current_app.json.mimetype)


def _render_session_view(session, stats, rows) -> bytes:
    """The view's body as ``jsonify`` writes it (the service may keep and give it again)."""
    return jsonify(session_view_body(session, stats, rows)).get_data()


@bp.route("/attendance/<uuid:attendance_id>/", methods=["PUT", "PATCH"])
def attendance_update(attendance_id: uuid.UUID):
    """Change a record's status and/or notes; the updater becomes `marked_by`.
    ---
    put:
      tags: [attendance]
      summary: Update attendance
      parameters:
        - {in: path, name: attendance_id, required: true, schema: {type: string, format: uuid}}
      requestBody:
        content:
          application/json:
            schema: UpdateRequest
      responses:
        200: {description: Updated}
        400: {description: "Session ended and is locked, or a shape error"}
        403: {description: A record of someone else's class}
        404: {description: Attendance record not found.}
    patch:
      tags: [attendance]
      summary: Update attendance (same as PUT)
      parameters:
        - {in: path, name: attendance_id, required: true, schema: {type: string, format: uuid}}
      requestBody:
        content:
          application/json:
            schema: UpdateRequest
      responses:
        200: {description: Updated}
        400: {description: "Session ended and is locked, or a shape error"}
        403: {description: A record of someone else's class}
        404: {description: Attendance record not found.}
    """
    data = _UPDATE_REQUEST.load(json_body())
    result = attendance.update_attendance(
        actor=reader(),  # a correction only reads who makes it (``api.reader``)
        attendance_id=attendance_id,
        status=data["status"],
        notes=data["notes"],
        channel=Channel.API,
    )
    return jsonify(update_body(result))


@bp.route("/attendance/<uuid:attendance_id>/excuse/", methods=["POST", "DELETE"])
def attendance_excuse(attendance_id: uuid.UUID):
    """Excuse an absence or a late arrival (POST), or withdraw the excuse (DELETE).
    ---
    post:
      tags: [attendance]
      summary: Excuse an absence
      description: |
        `{reason, note?}` by the class's TEACHER or an ADMIN, also on ENDED sessions: an excuse
        changes no status (rule 3 does not apply); it is in the audit trail and broadcast.
        `reason` is one of ILLNESS, MEDICAL, FAMILY, SCHOOL_ACTIVITY, RELIGIOUS, OTHER;
        `note` (beyond the contract, staff only) is one line of at most 200 characters.
        Giving the excuse a record already has changes nothing. Order of checks:
        authentication (401) → body shape (400) → record exists (404) → permission (403) →
        ABSENT or LATE (400 `{"non_field_errors": ["Only an absence or a late arrival can be
        excused."]}`). A later change of the status to PRESENT clears the excuse.
      parameters:
        - {in: path, name: attendance_id, required: true, schema: {type: string, format: uuid}}
      requestBody:
        content:
          application/json:
            schema: ExcuseRequest
      responses:
        200:
          description: |
            {message: "Absence excused", attendance: {id, student_id, status, excused,
            absence_reason, notes}}
        400: {description: "A bad reason or note, or a PRESENT record"}
        401: {description: No or bad token}
        403: {description: A record of someone else's class}
        404: {description: Attendance record not found.}
    delete:
      tags: [attendance]
      summary: Withdraw an excuse
      description: |
        The same body with `excused: false` and the message "Excuse withdrawn"; a record
        that is not excused is left as it is (still 200). Allowed on ENDED sessions.
      parameters:
        - {in: path, name: attendance_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200: {description: "{message: 'Excuse withdrawn', attendance: {...}}"}
        401: {description: No or bad token}
        403: {description: A record of someone else's class}
        404: {description: Attendance record not found.}
    """
    if request.method == "DELETE":
        result = excuses.withdraw_excuse(
            actor=actor(), attendance_id=attendance_id, channel=Channel.API
        )
        return jsonify(excuse_body(result))
    data = ExcuseRequest().load(json_body())
    result = excuses.excuse_absence(
        actor=actor(),
        attendance_id=attendance_id,
        reason=data["reason"],
        note=data["note"],
        channel=Channel.API,
    )
    return jsonify(excuse_body(result))


@bp.post("/attendance/<uuid:attendance_id>/late-minutes/")
def attendance_late_minutes(attendance_id: uuid.UUID):
    """Correct a LATE record's minutes late (beyond the brief; the roster's tile menu too).
    ---
    post:
      tags: [attendance]
      summary: Correct minutes late
      description: |
        `{minutes}`: the student arrived this many minutes after the session's start, a whole
        number from 0 to the minutes since the start. One audited change; every view of the
        session sees it live. Order: record exists (404) → permission (403) → session locked
        (400 on `session`) → the record is LATE (400 on `minutes`) → the bounds (400 on
        `minutes`).
      parameters:
        - {in: path, name: attendance_id, required: true, schema: {type: string, format: uuid}}
      requestBody:
        content:
          application/json:
            schema: LateMinutesRequest
      responses:
        200: {description: "Updated: the record with its late_minutes"}
        400: {description: "Shape, locked, not LATE, or minutes out of bounds"}
        403: {description: A record of someone else's class}
        404: {description: Attendance record not found.}
    """
    data = LateMinutesRequest().load(json_body())
    result = attendance.set_minutes_late(
        actor=actor(),
        attendance_id=attendance_id,
        minutes=data["minutes"],
        channel=Channel.API,
    )
    return jsonify(late_minutes_body(result))


#: The history's query schema, made once as the session view's is.
_HISTORY_QUERY = Query(HistoryQuery())


@bp.get("/attendance/student/<uuid:student_id>/")
def attendance_student(student_id: uuid.UUID):
    """A student's history, newest session first, paginated by `limit` and `cursor`.
    ---
    get:
      tags: [attendance]
      summary: Student history
      description: |
        Statistics describe all filtered records, not only the page. `limit` (default 1000,
        at most 5000) bounds the page; when more records follow, `next_cursor` is set: pass
        it back as `cursor` for the next page.
      parameters:
        - {in: path, name: student_id, required: true, schema: {type: string, format: uuid}}
        - {in: query, name: date_from, schema: {type: string, format: date}}
        - {in: query, name: date_to, schema: {type: string, format: date}}
        - {in: query, name: subject_id, schema: {type: string, format: uuid}}
        - {in: query, name: status, schema: {type: string, enum: [PRESENT, ABSENT, LATE]}}
        - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 5000}}
        - {in: query, name: cursor, schema: {type: string}}
      responses:
        200: {description: "Student, statistics and records"}
        400: {description: Bad filter value}
        403: {description: "Not this student, not their teacher, not an admin"}
        404: {description: Student not found.}
    """
    args = _HISTORY_QUERY.load()
    found = history.student_history_text(
        actor=reader(),
        student_id=student_id,
        filters=history.HistoryFilters(
            date_from=args["date_from"],
            date_to=args["date_to"],
            subject_id=args["subject_id"],
            status=args["status"],
        ),
        limit=args["limit"] or current_app.config["HISTORY_PAGE_DEFAULT"],
        cursor=args["cursor"],
    )
    return jsonify(history_body(found))


@bp.post("/attendance/bulk-mark/")
def attendance_bulk_mark():
    """Give every enrolled student without a record one with `default_status` (ABSENT).
    ---
    post:
      tags: [attendance]
      summary: Initialise a session's attendance
      description: Idempotent; a second run creates nothing (count 0). Never overwrites a mark.
      requestBody:
        content:
          application/json:
            schema: BulkMarkRequest
      responses:
        201: {description: How many records were created}
        400: {description: Shape error or session not ACTIVE}
        403: {description: Not the session's teacher}
        404: {description: Session not found.}
    """
    data = BulkMarkRequest().load(json_body())
    result = bulk.mark_unmarked(
        actor=actor(),
        session_id=data["session_id"],
        default_status=data["default_status"],
        channel=Channel.API,
    )
    return jsonify(initialise_body(result)), 201


@bp.post("/attendance/check-in/")
def attendance_check_in():
    """A STUDENT checks themself in with the code shown in the room.
    ---
    post:
      tags: [attendance]
      summary: Self check-in
      description: |
        `{session_id, code}` by an enrolled STUDENT → 201 with the mark body (`marked_by` is
        the student): status PRESENT, or LATE when more than `CHECK_IN_LATE_MINUTES` (default
        10) after the session's start. It never overwrites a mark; the teacher can correct it
        like any mark. The code is the one shown now or the one before it.
        Order of checks: authentication (401) → body shape (400) → session exists (404) →
        a STUDENT (403) → session ACTIVE (400 on `session`, rule 1) → enrolled (400 on
        `student`, rule 4) → fewer than 5 wrong codes (429) → the code (400
        `{"code": ["Invalid or expired check-in code."]}`) → not yet marked (409, rule 2).
        The rules that do not depend on the code come first, so a student learns what really
        stops them; rule 2 comes last as for any mark.
        Throttling: every wrong or expired code is counted per student and session (a number
        sent instead of a string is taken as its digits). After 5, the student's check-ins
        to that session answer 429 `{"detail": "Too many wrong check-in codes for this
        session. Ask your teacher to mark you."}` for the rest of the session, even with the
        right code; there is no `Retry-After` (the wait is not time-bound). The teacher can
        still mark the student.
      requestBody:
        content:
          application/json:
            schema: CheckInRequest
      responses:
        201: {description: "Checked in: the mark body, status PRESENT or LATE"}
        400: {description: "Shape, session not ACTIVE, not enrolled, wrong or expired code"}
        401: {description: No or bad token}
        403: {description: Not a student}
        404: {description: Session not found.}
        409: {description: Attendance already marked for this student in this session}
        429: {description: Too many wrong check-in codes for this session}
    """
    data = CheckInRequest().load(json_body())
    result = check_in.check_in(actor=actor(), session_id=data["session_id"], code=data["code"])
    return jsonify(mark_body(result)), 201
