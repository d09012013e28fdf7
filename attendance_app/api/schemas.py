"""Request shapes with DRF's messages; choices come from the model enums.

Shapes only (presence, type, choice, format). Anything about sessions, enrolment, locking
or permissions is a service's job.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from attendance_app.models import AbsenceReason, AttendanceStatus, Role
from attendance_app.models.attendance import EXCUSE_NOTE_MAX
from attendance_app.services.fields import (
    CLASS_NAME_MAX,
    EMAIL_MAX,
    NAME_MAX,
    NOTES_MAX,
    STUDENT_NUMBER_MAX,
    SUBJECT_CODE_MAX,
    SUBJECT_NAME_MAX,
    control_character_message,
)
from attendance_app.services.marking.bulk import MAX_BULK_RECORDS, TOO_MANY_RECORDS
from attendance_app.services.school.guardians import RELATIONSHIP_MAX
from attendance_app.shapes import (
    EMPTY_LIST,
    NO_NUL,
    NOT_A_STRING,
    NOT_A_UUID,
    NOT_AN_INTEGER,
    NOT_BLANK,
    NOT_NULL,
    REQUIRED,
    not_a_choice,
    too_long,
)

_BOOL_ERROR = "Must be a valid boolean."
EITHER_SINGLE_OR_BULK = "Provide either student_id and status, or records"


def _messages(**extra: str) -> dict:
    return {"required": REQUIRED, "null": NOT_NULL, **extra}


def uuid_field(**kw) -> fields.UUID:
    return fields.UUID(error_messages=_messages(invalid_uuid=NOT_A_UUID), **kw)


def _no_nul(value: str) -> None:
    # DRF's ProhibitNullCharactersValidator; PostgreSQL cannot store NUL in text either.
    if "\x00" in value:
        raise ValidationError(NO_NUL)


def _single_line(value: str) -> None:
    # Names, emails and codes are one line: a CR/LF could split an email header.
    if message := control_character_message(value):
        raise ValidationError(message)


def text_field(
    *, allow_blank: bool = False, max_length: int | None = None, single_line: bool = False, **kw
):
    validators = [_single_line if single_line else _no_nul]
    if not allow_blank:
        validators.append(validate.Length(min=1, error=NOT_BLANK))
    if max_length:
        validators.append(validate.Length(max=max_length, error=too_long(max_length)))
    return fields.String(error_messages=_messages(invalid=NOT_A_STRING), validate=validators, **kw)


class Choice(fields.Field):
    """A value of ``enum_cls``; anything else gets DRF's '"X" is not a valid choice.'."""

    def __init__(self, enum_cls: type[enum.Enum], **kw):
        super().__init__(error_messages=_messages(), **kw)
        self.enum_cls = enum_cls

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value in self.enum_cls.__members__:
            return self.enum_cls(value)
        raise ValidationError(not_a_choice(value))

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.value


class Base(Schema):
    class Meta:
        unknown = EXCLUDE


# --- auth and people ----------------------------------------------------------------------


class TokenRequest(Base):
    email = text_field(required=True, max_length=EMAIL_MAX, single_line=True)
    password = text_field(required=True)
    # The second factor: a 6-digit TOTP code or a recovery code (only with 2FA on).
    otp = text_field(load_default=None, allow_none=True, allow_blank=True, max_length=64)


class UserCreate(Base):
    email = fields.Email(
        required=True,
        error_messages=_messages(invalid="Enter a valid email address."),
        validate=[
            _single_line,
            validate.Length(max=EMAIL_MAX, error=too_long(EMAIL_MAX)),
        ],
    )
    password = text_field(required=True)
    first_name = text_field(required=True, max_length=NAME_MAX, single_line=True)
    last_name = text_field(required=True, max_length=NAME_MAX, single_line=True)
    role = Choice(Role, required=True)
    student_id = text_field(
        load_default=None, allow_none=True, max_length=STUDENT_NUMBER_MAX, single_line=True
    )


class GuardianCreate(Base):
    name = text_field(required=True, max_length=NAME_MAX, single_line=True)
    email = fields.Email(
        required=True,
        error_messages=_messages(invalid="Enter a valid email address."),
        validate=[
            _single_line,
            validate.Length(max=EMAIL_MAX, error=too_long(EMAIL_MAX)),
        ],
    )
    relationship = text_field(required=True, max_length=RELATIONSHIP_MAX, single_line=True)
    notify = fields.Boolean(load_default=True, error_messages=_messages(invalid=_BOOL_ERROR))


class SubjectCreate(Base):
    code = text_field(required=True, max_length=SUBJECT_CODE_MAX, single_line=True)
    name = text_field(required=True, max_length=SUBJECT_NAME_MAX, single_line=True)


class ClassCreate(Base):
    subject_id = uuid_field(required=True)
    teacher_id = uuid_field(required=True)
    name = text_field(required=True, max_length=CLASS_NAME_MAX, single_line=True)


class ListOf(fields.List):
    """A JSON array; anything else gets DRF's 'Expected a list of items but got type "str".'."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError(
                f'Expected a list of items but got type "{type(value).__name__}".'
            )
        return super()._deserialize(value, attr, data, **kwargs)


class EnrollmentCreate(Base):
    student_ids = ListOf(uuid_field(), required=True, error_messages=_messages())


class ListQuery(Base):
    role = Choice(Role, load_default=None)


# --- sessions --------------------------------------------------------------------------------


class SessionCreate(Base):
    class_id = uuid_field(required=True)


class SessionListQuery(Base):
    class_id = uuid_field(required=True)


# --- attendance ------------------------------------------------------------------------------


class MarkRecord(Base):
    student_id = uuid_field(required=True)
    status = Choice(AttendanceStatus, required=True)
    notes = text_field(allow_blank=True, max_length=NOTES_MAX, load_default=None, allow_none=True)


#: The statuses a record may name, as ``Choice(AttendanceStatus)`` reads them.
_STATUS_CHOICES = {name: AttendanceStatus(name) for name in AttendanceStatus.__members__}


def plain_records(items: list) -> list[dict] | None:
    """The entries of a bulk mark exactly as ``MarkRecord`` loads them, when every entry is a
    plain valid one (an object with a UUID string, a status and no note or a string note
    that passes the note rules); otherwise None, and ``MarkRecord`` reads them, which is
    what writes every error. A 500-entry request spent more time in marshmallow's machinery
    than in its inserts; this reads the common case in one pass and never decides an error.
    ``tests/api/test_bulk_records_shape.py`` proves it agrees with ``MarkRecord``."""
    loaded = []
    for item in items:
        if type(item) is not dict:
            return None
        student_id, status = item.get("student_id"), item.get("status")
        notes = item.get("notes")
        if type(student_id) is not str or type(status) is not str:
            return None
        if status not in _STATUS_CHOICES:
            return None
        if notes is not None and (
            type(notes) is not str or "\x00" in notes or len(notes) > NOTES_MAX
        ):
            return None
        try:
            uid = uuid.UUID(student_id)
        except ValueError:
            return None
        loaded.append({"student_id": uid, "status": _STATUS_CHOICES[status], "notes": notes})
    return loaded


class MarkRecords(fields.List):
    """A bulk mark's ``records``: read by :func:`plain_records` when they are all plain and
    valid, by ``MarkRecord`` (the validator of record, its messages and their order) otherwise.
    The list's own checks (its type, at least one, at most ``MAX_BULK_RECORDS``) are
    ``fields.List``'s either way."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list and (loaded := plain_records(value)) is not None:
            return loaded
        return super()._deserialize(value, attr, data, **kwargs)


class MarkRequest(Base):
    """Single ``{session_id, student_id, status}`` or bulk ``{session_id, records}``."""

    session_id = uuid_field(required=True)
    student_id = uuid_field(load_default=None)
    status = Choice(AttendanceStatus, load_default=None)
    notes = text_field(allow_blank=True, max_length=NOTES_MAX, load_default=None, allow_none=True)
    records = MarkRecords(
        fields.Nested(MarkRecord, error_messages=_messages()),
        load_default=None,
        validate=[
            validate.Length(min=1, error=EMPTY_LIST),
            validate.Length(max=MAX_BULK_RECORDS, error=TOO_MANY_RECORDS),
        ],
        error_messages=_messages(invalid="Expected a list of items."),
    )

    @validates_schema
    def _single_or_bulk(self, data, **kwargs):
        single = data.get("student_id") is not None
        bulk = data.get("records") is not None
        if single == bulk:
            raise ValidationError(EITHER_SINGLE_OR_BULK, field_name="non_field_errors")
        if single and data.get("status") is None:
            raise ValidationError(REQUIRED, field_name="status")


class BulkMarkRequest(Base):
    session_id = uuid_field(required=True)
    default_status = Choice(AttendanceStatus, load_default=AttendanceStatus.ABSENT)


class UpdateRequest(Base):
    status = Choice(AttendanceStatus, load_default=None)
    notes = text_field(allow_blank=True, max_length=NOTES_MAX, load_default=None)


class ExcuseRequest(Base):
    """``{reason}``, and beyond the contract an optional one-line ``note`` (staff only)."""

    reason = Choice(AbsenceReason, required=True)
    note = text_field(
        allow_blank=True,
        load_default=None,
        allow_none=True,
        max_length=EXCUSE_NOTE_MAX,
        single_line=True,
    )


class LateMinutesRequest(Base):
    """A LATE student's minutes late, corrected (the bounds are the service's rule)."""

    minutes = fields.Integer(
        required=True,
        strict=True,
        error_messages=_messages(invalid=NOT_AN_INTEGER),
    )


class CodeText(fields.String):
    """A code as DRF's CharField takes it: a string, or a number turned into its digits."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class CheckInRequest(Base):
    """A student's self check-in: the session and the code shown in the room."""

    session_id = uuid_field(required=True)
    code = CodeText(
        required=True,
        error_messages=_messages(invalid=NOT_A_STRING),
        validate=[_no_nul, validate.Length(min=1, error=NOT_BLANK)],
    )


_DATETIME_ERROR = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
_DATE_ERROR = "Date has wrong format. Use YYYY-MM-DD."


class UTCDateTime(fields.DateTime):
    """An ISO timestamp; one without a zone is taken as UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            return result.replace(tzinfo=UTC)
        try:
            return result.astimezone(UTC)
        except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise self.make_error("invalid") from exc


class SessionViewQuery(Base):
    status = Choice(AttendanceStatus, load_default=None)
    marked_after = UTCDateTime(load_default=None, error_messages={"invalid": _DATETIME_ERROR})
    include_absent = fields.Boolean(load_default=True, error_messages={"invalid": _BOOL_ERROR})


class HistoryQuery(Base):
    date_from = fields.Date(load_default=None, error_messages={"invalid": _DATE_ERROR})
    date_to = fields.Date(load_default=None, error_messages={"invalid": _DATE_ERROR})
    subject_id = uuid_field(load_default=None)
    status = Choice(AttendanceStatus, load_default=None)
    limit = fields.Integer(
        load_default=None,
        strict=False,
        validate=validate.Range(min=1, max=5000, error="Ensure this value is between 1 and 5000."),
        error_messages={"invalid": NOT_AN_INTEGER},
    )
    cursor = fields.String(load_default=None)


class StudentAnalyticsQuery(Base):
    class_id = uuid_field(load_default=None)


class ExportQuery(HistoryQuery):
    """The record export's filters: the history's, plus the session, class, student and
    teacher, and (beyond the contract, as DRF's SearchFilter names it) a ``search``."""

    class Meta(HistoryQuery.Meta):
        exclude = ("limit", "cursor")

    session_id = uuid_field(load_default=None)
    class_id = uuid_field(load_default=None)
    student_id = uuid_field(load_default=None)
    teacher_id = uuid_field(load_default=None)
    search = fields.String(load_default="")


class NotificationListQuery(Base):
    unread = fields.Boolean(
        load_default=False, error_messages={"invalid": "Must be a valid boolean."}
    )
    page = fields.Integer(
        load_default=1,
        strict=False,
        validate=validate.Range(min=1, error="Ensure this value is greater than or equal to 1."),
        error_messages={"invalid": NOT_AN_INTEGER},
    )
