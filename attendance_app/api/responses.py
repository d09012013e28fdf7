"""The contract's JSON bodies, built from service results (no queries, no rules)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from attendance_app.models import (
    ClassSession,
    Guardian,
    SchoolClass,
    Student,
    Subject,
    User,
    full_name,
)
from attendance_app.models.base import iso
from attendance_app.services.marking.attendance import MarkResult
from attendance_app.services.marking.bulk import BulkMarkResult, InitialiseResult
from attendance_app.services.marking.check_in import CheckInCode
from attendance_app.services.marking.excuses import ExcuseResult
from attendance_app.services.reporting.analytics import ClassAnalytics, StudentAnalytics
from attendance_app.services.reporting.history import HistoryText, StudentHistory
from attendance_app.services.reporting.session_view import SessionSummary
from attendance_app.services.reporting.statistics import (
    RecordView,
    SessionStatistics,
)
from attendance_app.services.school.structure import EnrollResult


def guardian_body(guardian: Guardian) -> dict:
    return {
        "id": str(guardian.id),
        "name": guardian.name,
        "email": guardian.email,
        "relationship": guardian.relationship,
        "notify": guardian.notify,
    }


def user_body(user: User) -> dict:
    return {
        "id": str(user.id),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role.value,
        "student": (
            {"id": str(user.student.id), "student_id": user.student.student_number}
            if user.student
            else None
        ),
        "teacher": {"id": str(user.teacher.id)} if user.teacher else None,
    }


def token_user_body(user: User) -> dict:
    return {k: v for k, v in user_body(user).items() if k not in {"student", "teacher"}}


def subject_body(subject: Subject) -> dict:
    return {"id": str(subject.id), "code": subject.code, "name": subject.name}


def class_body(school_class: SchoolClass, total_enrolled: int) -> dict:
    return {
        "id": str(school_class.id),
        "name": school_class.name,
        "subject": subject_body(school_class.subject),
        "teacher": {
            "id": str(school_class.teacher.id),
            "name": school_class.teacher.user.full_name,
        },
        "total_enrolled": total_enrolled,
    }


def enroll_body(result: EnrollResult) -> dict:
    return {
        "class_id": str(result.school_class.id),
        "enrolled": result.enrolled,
        "total_enrolled": result.total_enrolled,
    }


def session_body(session: ClassSession, stats: SessionStatistics) -> dict:
    school_class = session.school_class
    return {
        "id": str(session.id),
        "class_id": str(session.class_id),
        "class_name": school_class.name,
        "subject_code": school_class.subject.code,
        "teacher_name": school_class.teacher.user.full_name,
        "status": session.status.value,
        "start_time": iso(session.start_time),
        "end_time": iso(session.end_time),
        "is_locked": session.is_locked,
        "attendance_count": stats.marked,
        "present_count": stats.present,
        "attendance_rate": stats.attendance_rate,
    }


def student_brief(student: Student) -> dict:
    return brief_of_student(
        student.id, student.student_number, student.user.first_name, student.user.last_name
    )


def brief_of_student(
    student_id: uuid.UUID, student_number: str, first_name: str, last_name: str
) -> dict:
    """The contract's ``student`` object, from its four values (an entity or a read's row)."""
    return {
        "id": str(student_id),
        "student_id": student_number,
        "first_name": first_name,
        "last_name": last_name,
    }


def mark_body(result: MarkResult) -> dict:
    row, session = result.row, result.session
    return {
        "message": "Attendance marked successfully",
        "attendance": {
            "id": str(row.record.id),
            "session": {
                "id": str(session.id),
                "class_name": session.school_class.name,
                "start_time": iso(session.start_time),
            },
            "student": student_brief(row.student),
            "status": row.record.status.value,
            "marked_at": iso(row.record.marked_at),
            "marked_by": row.marked_by_name,
        },
    }


def check_in_code_body(code: CheckInCode) -> dict:
    return {
        "code": code.code,
        "period_seconds": code.period_seconds,
        "expires_at": iso(code.expires_at),
    }


def bulk_mark_body(result: BulkMarkResult) -> dict:
    return {
        "message": "Bulk attendance marked successfully",
        "count": len(result.records),
        "attendance_records": [
            # The status as it is (a ``StrEnum``: written as its value, without a call).
            {"id": str(r.id), "student_id": r.student_number, "status": r.status}
            for r in result.records
        ],
    }


def excuse_fields(record) -> dict:
    """``excused`` and ``absence_reason``, as every record body beyond the brief's carries them."""
    reason = record.absence_reason
    return {"excused": reason is not None, "absence_reason": reason.value if reason else None}


def excuse_body(result: ExcuseResult) -> dict:
    record = result.row.record
    return {
        "message": result.message,
        "attendance": {
            "id": str(record.id),
            "student_id": result.row.student.student_number,
            "status": record.status.value,
            **excuse_fields(record),
            "notes": record.notes,
        },
    }


def session_view_body(
    session: SessionSummary, stats: SessionStatistics, rows: Sequence[RecordView]
) -> dict:
    """The session view, in one pass over plain rows (the rows carry ids, times, status and
    reason as text already), unpacked as :class:`RecordView` lists their columns."""
    return {
        "session": {
            "id": session.id,
            "class_name": session.class_name,
            "subject_code": session.subject_code,
            "teacher_name": session.teacher_name,
            "start_time": session.start_time,
            "end_time": session.end_time,
            "status": session.status.value,
            "is_locked": session.is_locked,
        },
        "statistics": stats.as_dict(),
        "records": [
            {
                "id": record_id,
                "student": {
                    "id": student_id,
                    "student_id": student_number,
                    "first_name": first_name,
                    "last_name": last_name,
                    "email": email,
                },
                "status": status,
                "marked_at": marked_at,
                "marked_by": full_name(marker_first_name, marker_last_name) or None,
                "notes": notes,
                "excused": absence_reason is not None,
                "absence_reason": absence_reason,
            }
            for (
                record_id,
                status,
                marked_at,
                notes,
                student_id,
                student_number,
                first_name,
                last_name,
                email,
                marker_first_name,
                marker_last_name,
                absence_reason,
            ) in rows
        ],
    }


def update_body(result: MarkResult) -> dict:
    return changed_record_body(result, "Attendance updated successfully", notes=True)


def late_minutes_body(result: MarkResult) -> dict:
    return changed_record_body(result, "Minutes late updated", late_minutes=True)


def changed_record_body(
    result: MarkResult, message: str, *, late_minutes: bool = False, notes: bool = False
) -> dict:
    """A changed record's body: the id, student number, status and times every change
    answers with, plus the minutes late (after the status) or the notes (last), in the
    contract's key order."""
    record = result.row.record
    attendance: dict = {
        "id": str(record.id),
        "student_id": result.row.student.student_number,
        "status": record.status.value,
    }
    if late_minutes:
        attendance["late_minutes"] = record.minutes_late(result.session.start_time)
    attendance["marked_at"] = iso(record.marked_at)
    attendance["updated_at"] = iso(record.updated_at)
    if notes:
        attendance["notes"] = record.notes
    return {"message": message, "attendance": attendance}


def history_body(history: StudentHistory[HistoryText]) -> dict:
    """The student's history, in one pass over its text rows (unpacked as
    :class:`HistoryText` lists its columns: reading each by name cost more)."""
    student = history.student
    return {
        "student": brief_of_student(
            student.id, student.student_number, student.first_name, student.last_name
        ),
        "statistics": history.statistics.as_dict(),
        "records": [
            {
                "id": record_id,
                "session": {
                    "class_name": class_name,
                    "subject_code": subject_code,
                    # The UTC day: the ISO text's first ten characters.
                    "date": start_time[:10] if start_time else None,
                    "start_time": start_time,
                },
                "status": status,
                "marked_at": marked_at,
                "excused": absence_reason is not None,
                "absence_reason": absence_reason,
            }
            for (
                record_id,
                class_name,
                subject_code,
                start_time,
                status,
                marked_at,
                absence_reason,
            ) in history.records
        ],
        "next_cursor": history.next_cursor,
    }


def initialise_body(result: InitialiseResult) -> dict:
    return {
        "message": "Bulk attendance initialized",
        "count": result.count,
        "session_id": str(result.session.id),
        "default_status": result.default_status.value,
    }


def student_analytics_body(result: StudentAnalytics) -> dict:
    return {"student": student_brief(result.student), **result.figures.as_dict()}


def class_analytics_body(result: ClassAnalytics) -> dict:
    school_class = result.school_class
    return {
        "class": {
            "id": str(school_class.id),
            "name": school_class.name,
            "subject_code": school_class.subject.code,
        },
        "sessions": [
            {
                "id": str(s.id),
                "start_time": iso(s.start_time),
                "status": s.status.value,
                "attendance_rate": s.attendance_rate,
            }
            for s in result.sessions
        ],
        "attendance_rate": result.attendance_rate,
        "students": [student_analytics_body(row) for row in result.students],
        "at_risk": [str(sid) for sid in result.at_risk],
        "most_late": [str(sid) for sid in result.most_late],
    }
