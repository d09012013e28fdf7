"""Shape rules every edge applies the same way (API schemas, page forms, CSV import) and the
services check again: field lengths, taken from the models, and single-line text.

A name, class name or email is one line: a CR or LF in one could split an email header
(the sender builds headers from them) or a log line, so C0 control characters and DEL are
refused wherever such a field comes in.
"""

from __future__ import annotations

import re
from typing import Any

from attendance_app.models import SchoolClass, Student, Subject, User
from attendance_app.services.errors import Invalid
from attendance_app.shapes import CONTROL_CHARACTERS, NO_NUL, too_long

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def max_length(column: Any) -> int:
    """The length of a model's String column (``max_length(User.email)`` → 254)."""
    length: int = column.property.columns[0].type.length
    return length


NAME_MAX = max_length(User.first_name)  # 150, as Django's User
EMAIL_MAX = max_length(User.email)  # 254 (RFC 5321's path limit)
STUDENT_NUMBER_MAX = max_length(Student.student_number)
CLASS_NAME_MAX = max_length(SchoolClass.name)
SUBJECT_CODE_MAX = max_length(Subject.code)
SUBJECT_NAME_MAX = max_length(Subject.name)
#: A note on an attendance record (the contract's Sizes); the column is TEXT, so the limit is
#: this rule's, not the model's.
NOTES_MAX = 2000


def control_character_message(value: str) -> str | None:
    """Why ``value`` cannot be one line of text (NUL, then any other control), or None."""
    if "\x00" in value:
        return NO_NUL
    if _CONTROL.search(value):
        return CONTROL_CHARACTERS
    return None


def require_single_line(**values: str | None) -> None:
    """Raise Invalid on the first named value holding a control character."""
    for field, value in values.items():
        if value and (message := control_character_message(value)):
            raise Invalid(message, field=field)


def require_fits(**values: tuple[str | None, int]) -> None:
    """Raise Invalid on the first named ``(value, limit)`` that is too long or not one line
    (the services' own check, for callers without an edge's shape check: the CLI, imports)."""
    for field, (value, limit) in values.items():
        if not value:
            continue
        if len(value) > limit:
            raise Invalid(too_long(limit), field=field)
        require_single_line(**{field: value})
