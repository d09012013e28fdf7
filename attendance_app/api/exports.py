"""/api/attendance/export.csv and /api/classes/{id}/register.csv: streamed CSV downloads.

Everything that can fail (query validation, authentication, permissions) happens before the
response starts, so errors are JSON; after that the body streams one small CSV chunk per
batch of rows.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC
from itertools import islice

from flask import Response, stream_with_context

from attendance_app.api import actor, bp
from attendance_app.api.auth import query_args
from attendance_app.api.responses import iso
from attendance_app.api.schemas import ExportQuery
from attendance_app.models import AttendanceStatus, utcnow
from attendance_app.services.reporting import exports
from attendance_app.services.reporting.records import RecordFilters

EXPORT_HEADER = (
    "date",
    "start_time",
    "class_name",
    "subject_code",
    "student_number",
    "last_name",
    "first_name",
    "status",
    "marked_at",
    "marked_by",
    "notes",
    "excused",
    "absence_reason",
)
REGISTER_CELLS = {
    AttendanceStatus.PRESENT: "P",
    AttendanceStatus.ABSENT: "A",
    AttendanceStatus.LATE: "L",
}
#: An excused absence's cell (an excused late arrival is still ``L``).
EXCUSED_ABSENCE_CELL = "E"


def register_cell(status: AttendanceStatus | None, excused: bool) -> str:
    if status == AttendanceStatus.ABSENT and excused:
        return EXCUSED_ABSENCE_CELL
    return REGISTER_CELLS.get(status, "")


#: CSV rows written per chunk of the response body.
CHUNK_ROWS = exports.EXPORT_BATCH_SIZE


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows``, one chunk per ``CHUNK_ROWS`` rows.

    The only CSV writer of the API: every cell is made formula-safe here.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([exports.spreadsheet_safe(cell) for cell in header])
    yield flush()
    rows = iter(rows)
    while batch := list(islice(rows, CHUNK_ROWS)):
        writer.writerows([exports.spreadsheet_safe(cell) for cell in row] for row in batch)
        yield flush()


def csv_response(chunks: Iterator[str], filename: str) -> Response:
    """A streamed ``text/csv; charset=utf-8`` attachment.

    Flask tears the request's app context down (removing its database session) as soon as
    the view returns; stream_with_context pushes it again while the body is iterated, so the
    chunks run with a fresh session and the app's teardown runs once more at the end.
    """
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Personal data: no shared or browser cache keeps a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


def _today() -> str:
    return utcnow().strftime("%Y%m%d")


def _filename_part(text: str) -> str:
    """``text`` reduced to characters safe in a quoted header filename."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text) or "class"


def _export_line(row: exports.ExportRow) -> tuple[str, ...]:
    return (
        row.start_time.astimezone(UTC).date().isoformat() if row.start_time else "",
        iso(row.start_time) or "",
        row.class_name,
        row.subject_code,
        row.student_number,
        row.last_name,
        row.first_name,
        row.status.value,
        iso(row.marked_at),
        row.marked_by,
        row.notes,
        "true" if row.excused else "false",
        row.absence_reason.value if row.absence_reason else "",
    )


#: Made once: a schema deep-copies its fields when made, and loading keeps no state on it.
_EXPORT_QUERY = ExportQuery()


@bp.get("/attendance/export.csv")
def attendance_export():
    """Attendance records as a streamed CSV download.
    ---
    get:
      tags: [exports]
      summary: Export attendance records (CSV)
      description: |
        One row per record, ordered by the session's start_time, then the student's last and
        first name, under the header

        `date,start_time,class_name,subject_code,student_number,last_name,first_name,status,marked_at,marked_by,notes,excused,absence_reason`

        (`excused` is `true` or `false`, `absence_reason` the reason's code or empty)

        An ADMIN may export anything; a TEACHER only records of the classes they teach
        (naming another teacher's `teacher_id` gives no rows); a STUDENT only their own and
        must pass their own `student_id`, and the `notes` cells of their export are empty.
        A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with
        `'`. The body is streamed; errors are JSON and come before it starts.
      parameters:
        - {in: query, name: session_id, schema: {type: string, format: uuid}}
        - {in: query, name: class_id, schema: {type: string, format: uuid}}
        - in: query
          name: student_id
          description: The Student UUID (required for, and must be the caller's own for, a STUDENT)
          schema: {type: string, format: uuid}
        - {in: query, name: subject_id, schema: {type: string, format: uuid}}
        - in: query
          name: teacher_id
          description: The Teacher UUID whose classes' records to export
          schema: {type: string, format: uuid}
        - {in: query, name: status, schema: {type: string, enum: [PRESENT, ABSENT, LATE]}}
        - {in: query, name: date_from, schema: {type: string, format: date}}
        - {in: query, name: date_to, schema: {type: string, format: date}}
        - in: query
          name: search
          description: |
            Beyond the contract: only the students whose name ("First Last", "Last First" or
            "Last, First"), email or student number contains this text, in any case and with
            or without accents (the admin's records page searches the same way)
          schema: {type: string}
      responses:
        200:
          description: "CSV attachment named attendance-YYYYMMDD.csv (today in UTC)"
          headers:
            Content-Disposition:
              schema: {type: string, example: 'attachment; filename="attendance-20260110.csv"'}
          content:
            text/csv:
              schema: {type: string}
        400: {description: Bad filter value}
        401: {description: No or bad token}
        403:
          description: |
            A class, session or student the user may not read; a STUDENT without their own
            student_id
    """
    args = _EXPORT_QUERY.load(query_args())
    rows = exports.export_rows(actor=actor(), filters=RecordFilters(**args))
    chunks = csv_chunks(EXPORT_HEADER, (_export_line(row) for row in rows))
    return csv_response(chunks, f"attendance-{_today()}.csv")


@bp.get("/classes/<uuid:class_id>/register.csv")
def class_register(class_id: uuid.UUID):
    """A class's register as CSV: enrolled students against started sessions.
    ---
    get:
      tags: [exports]
      summary: Class register (CSV)
      description: |
        Header `student_number,last_name,first_name,<start_time of each started session,
        oldest first>...,attendance_rate`; one row per enrolled student by last and first
        name; cells `P`, `A`, `L`, `E` (an excused absence) or empty (no record); the
        student's attendance_rate over this class's records. For the class's TEACHER or an ADMIN.
      parameters:
        - {in: path, name: class_id, required: true, schema: {type: string, format: uuid}}
      responses:
        200:
          description: "CSV attachment named register-<subject code>-YYYYMMDD.csv"
          headers:
            Content-Disposition:
              schema:
                type: string
                example: 'attachment; filename="register-TEST101-20260110.csv"'
          content:
            text/csv:
              schema: {type: string}
        401: {description: No or bad token}
        403: {description: Not the class's teacher or an admin}
        404: {description: Class not found.}
    """
    grid = exports.register_grid(actor=actor(), class_id=class_id)
    header = [
        "student_number",
        "last_name",
        "first_name",
        *(iso(start) for start in grid.session_starts),
        "attendance_rate",
    ]
    rows = (
        (
            row.student_number,
            row.last_name,
            row.first_name,
            *(map(register_cell, row.statuses, row.excused)),
            row.attendance_rate,
        )
        for row in grid.rows
    )
    filename = f"register-{_filename_part(grid.subject_code)}-{_today()}.csv"
    return csv_response(csv_chunks(header, rows), filename)
