"""The contract's response bodies as JSON Schema (OpenAPI 3.0), for /api/openapi.json.

Written from the contract (API.md), not from the code, so a client generator and the
schema-driven fuzzing (tests/api/test_fuzz_openapi.py) hold the app to it: every key the
contract names is required; more keys are allowed (the contract adds to bodies over time).
"""

from __future__ import annotations

from attendance_app.models.base import AttendanceStatus, Role, SessionStatus


def _obj(required: dict, optional: dict | None = None) -> dict:
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


STRING = {"type": "string"}
TEXT_OR_NULL = {"type": "string", "nullable": True}
UUID = {"type": "string", "format": "uuid"}
TIME = {"type": "string", "format": "date-time"}
TIME_OR_NULL = {"type": "string", "format": "date-time", "nullable": True}
INTEGER = {"type": "integer", "minimum": 0}
RATE = {"type": "number", "minimum": 0, "maximum": 100}
BOOLEAN = {"type": "boolean"}
STATUS = {"type": "string", "enum": [s.value for s in AttendanceStatus]}
SESSION_STATUS = {"type": "string", "enum": [s.value for s in SessionStatus]}

SCHEMAS: dict[str, dict] = {
    "Detail": _obj({"detail": STRING}),
    "FieldErrors": {
        "type": "object",
        "minProperties": 1,
        "description": 'DRF shapes: {"field": ["message"]}, {"non_field_errors": [...]}, '
        'bulk entries by index {"records": {"2": {"student": ["..."]}}}, or {"detail"}.',
    },
    "StudentBrief": _obj(
        {"id": UUID, "student_id": STRING, "first_name": STRING, "last_name": STRING}
    ),
    "Statistics": _obj(
        {
            "total_enrolled": INTEGER,
            "present": INTEGER,
            "absent": INTEGER,
            "late": INTEGER,
            "not_marked": INTEGER,
            "attendance_rate": RATE,
        }
    ),
    "Session": _obj(
        {
            "id": UUID,
            "class_id": UUID,
            "class_name": STRING,
            "subject_code": STRING,
            "teacher_name": STRING,
            "status": SESSION_STATUS,
            "start_time": TIME_OR_NULL,
            "end_time": TIME_OR_NULL,
            "is_locked": BOOLEAN,
            "attendance_count": INTEGER,
            "present_count": INTEGER,
            "attendance_rate": RATE,
        }
    ),
    "Token": _obj(
        {
            "token": STRING,
            "user": _obj(
                {
                    "id": UUID,
                    "email": STRING,
                    "first_name": STRING,
                    "last_name": STRING,
                    "role": {"type": "string", "enum": [r.value for r in Role]},
                }
            ),
        }
    ),
    "Marked": _obj(
        {
            "message": {"type": "string", "enum": ["Attendance marked successfully"]},
            "attendance": _obj(
                {
                    "id": UUID,
                    "session": _obj({"id": UUID, "class_name": STRING, "start_time": TIME}),
                    "student": _ref("StudentBrief"),
                    "status": STATUS,
                    "marked_at": TIME,
                    "marked_by": TEXT_OR_NULL,
                }
            ),
        }
    ),
    "BulkMarked": _obj(
        {
            "message": {"type": "string", "enum": ["Bulk attendance marked successfully"]},
            "count": INTEGER,
            "attendance_records": {
                "type": "array",
                "items": _obj({"id": UUID, "student_id": STRING, "status": STATUS}),
            },
        }
    ),
    "SessionAttendance": _obj(
        {
            "session": _obj(
                {
                    "id": UUID,
                    "class_name": STRING,
                    "subject_code": STRING,
                    "teacher_name": STRING,
                    "start_time": TIME_OR_NULL,
                    "end_time": TIME_OR_NULL,
                    "status": SESSION_STATUS,
                    "is_locked": BOOLEAN,
                }
            ),
            "statistics": _ref("Statistics"),
            "records": {
                "type": "array",
                "items": _obj(
                    {
                        "id": UUID,
                        "student": _obj(
                            {
                                "id": UUID,
                                "student_id": STRING,
                                "first_name": STRING,
                                "last_name": STRING,
                                "email": STRING,
                            }
                        ),
                        "status": STATUS,
                        "marked_at": TIME,
                        "marked_by": TEXT_OR_NULL,
                        "notes": TEXT_OR_NULL,
                    }
                ),
            },
        }
    ),
    "Updated": _obj(
        {
            "message": {"type": "string", "enum": ["Attendance updated successfully"]},
            "attendance": _obj(
                {
                    "id": UUID,
                    "student_id": STRING,
                    "status": STATUS,
                    "marked_at": TIME,
                    "updated_at": TIME,
                    "notes": TEXT_OR_NULL,
                }
            ),
        }
    ),
    "History": _obj(
        {
            "student": _ref("StudentBrief"),
            "statistics": _obj(
                {
                    "total_sessions": INTEGER,
                    "present": INTEGER,
                    "absent": INTEGER,
                    "late": INTEGER,
                    "attendance_rate": RATE,
                }
            ),
            "records": {
                "type": "array",
                "items": _obj(
                    {
                        "id": UUID,
                        "session": _obj(
                            {
                                "class_name": STRING,
                                "subject_code": STRING,
                                "date": {"type": "string", "format": "date", "nullable": True},
                                "start_time": TIME_OR_NULL,
                            }
                        ),
                        "status": STATUS,
                        "marked_at": TIME,
                    }
                ),
            },
        }
    ),
    "Initialised": _obj(
        {
            "message": {"type": "string", "enum": ["Bulk attendance initialized"]},
            "count": INTEGER,
            "session_id": UUID,
            "default_status": STATUS,
        }
    ),
}

#: (OpenAPI path, method, status) → the schema of that answer's JSON body.
RESPONSES: dict[tuple[str, str, str], dict] = {
    ("/api/auth/token/", "post", "200"): _ref("Token"),
    ("/api/sessions/", "post", "201"): _ref("Session"),
    ("/api/sessions/{session_id}/", "get", "200"): _ref("Session"),
    ("/api/sessions/{session_id}/start/", "post", "200"): _ref("Session"),
    ("/api/sessions/{session_id}/end/", "post", "200"): _ref("Session"),
    ("/api/attendance/mark/", "post", "201"): {"oneOf": [_ref("Marked"), _ref("BulkMarked")]},
    ("/api/attendance/session/{session_id}/", "get", "200"): _ref("SessionAttendance"),
    ("/api/attendance/{attendance_id}/", "put", "200"): _ref("Updated"),
    ("/api/attendance/{attendance_id}/", "patch", "200"): _ref("Updated"),
    ("/api/attendance/student/{student_id}/", "get", "200"): _ref("History"),
    ("/api/attendance/bulk-mark/", "post", "201"): _ref("Initialised"),
}

#: Every error answer's body, whatever the operation (contract, Conventions).
ERRORS: dict[str, dict] = {
    "400": _ref("FieldErrors"),
    "401": _ref("Detail"),
    "403": _ref("Detail"),
    "404": _ref("Detail"),
    "405": _ref("Detail"),
    "409": {"$ref": "#/components/schemas/FieldErrors"},
    "413": _ref("Detail"),
    "429": _ref("Detail"),
}


def body_schema(path: str, method: str, status: str) -> dict | None:
    """The JSON schema of this answer's body, if the contract fixes one."""
    return RESPONSES.get((path, method, status)) or ERRORS.get(status)
