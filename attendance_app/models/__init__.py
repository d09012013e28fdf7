"""The import site for every model and enum."""

from attendance_app.models.alerts import AlertState, Notification, NotificationKind, OutboxEmail
from attendance_app.models.attendance import Attendance, AttendanceChange
from attendance_app.models.base import (
    STATUS_WORDS,
    AbsenceReason,
    AttendanceStatus,
    Base,
    Channel,
    Role,
    SessionStatus,
    built,
    status_word,
    utcnow,
)
from attendance_app.models.check_in import CheckInFailure, CheckInSecret
from attendance_app.models.guardians import Guardian
from attendance_app.models.people import (
    ApiToken,
    RecoveryCode,
    Student,
    Teacher,
    User,
    full_name,
)
from attendance_app.models.school import Enrollment, SchoolClass, Subject
from attendance_app.models.sessions import ClassSession

__all__ = [
    "STATUS_WORDS",
    "AbsenceReason",
    "AlertState",
    "ApiToken",
    "Attendance",
    "AttendanceChange",
    "AttendanceStatus",
    "Base",
    "Channel",
    "CheckInFailure",
    "CheckInSecret",
    "ClassSession",
    "Enrollment",
    "Guardian",
    "Notification",
    "NotificationKind",
    "OutboxEmail",
    "RecoveryCode",
    "Role",
    "SchoolClass",
    "SessionStatus",
    "Student",
    "Subject",
    "Teacher",
    "User",
    "built",
    "full_name",
    "status_word",
    "utcnow",
]
