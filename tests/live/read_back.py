"""What a session's records are, read back through the ORM after the fact and shaped as the
``attendance`` broadcast sends them: the reference the broadcast's own reads (columns, or
records a writer had in hand) are compared with."""

from __future__ import annotations

import uuid

from attendance_app.models.base import iso
from attendance_app.services.marking.check_in import is_checked_in
from attendance_app.services.marking.sessions import load_session
from attendance_app.services.notifying.alerts import alert_reasons
from attendance_app.services.reporting.statistics import session_records


def read_back(session_id: uuid.UUID, record_ids: list[uuid.UUID] | None = None) -> list[dict]:
    """The session's records (those of ``record_ids``, or all), newest first, as payloads."""
    session = load_session(session_id)
    rows = session_records(session, record_ids=record_ids)
    flags = alert_reasons(session.class_id, [r.student.id for r in rows])
    return [
        {
            "id": str(row.record.id),
            "student": {"id": str(row.student.id), "student_id": row.student.student_number},
            "status": row.record.status.value,
            "notes": row.record.notes,
            "excused": row.record.absence_reason is not None,
            "absence_reason": (
                row.record.absence_reason.value if row.record.absence_reason else None
            ),
            "marked_at": iso(row.record.marked_at),
            "updated_at": iso(row.record.updated_at),
            "marked_by": row.marked_by_name,
            "checked_in": is_checked_in(row.record, row.student),
            "version": row.record.version,
            "late_minutes": row.record.minutes_late(session.start_time),
            "alert": flags.get(row.student.id, ""),
        }
        for row in rows
    ]
