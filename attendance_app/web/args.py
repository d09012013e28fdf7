"""Reading a page's query arguments: a bad value is named in words and not applied."""

from __future__ import annotations

import uuid
from datetime import date

from flask import request

from attendance_app.models import AttendanceStatus

NOT_A_DATE = "{label}: “{value}” is not a date (use YYYY-MM-DD), so it is not applied."


def shown(value: str, limit: int = 40) -> str:
    """``value`` as a message may quote it: printable characters only, at most ``limit``."""
    text = "".join(c for c in value if c.isprintable())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def date_arg(name: str, label: str, problems: list[str]) -> date | None:
    """The query argument ``name`` as a date (YYYY-MM-DD); None when it is missing, or when
    it is not a date (then ``problems`` says so, calling the field ``label``)."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(NOT_A_DATE.format(label=label, value=shown(value)))
        return None


def page_arg() -> int:
    """The ``page`` argument: 1 unless it is a positive number (paging clamps the rest)."""
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def parse_uuid(value: str | None) -> uuid.UUID | None:
    """``value`` as a UUID, or None when it is missing or is not one."""
    try:
        return uuid.UUID((value or "").strip())
    except ValueError:
        return None


def uuid_arg(name: str, label: str, problems: list[str]) -> uuid.UUID | None:
    """The query argument ``name`` as an id; a value that is not one is named in ``problems``
    as "Unknown {label}." and not applied."""
    value = request.args.get(name, "").strip()
    found = parse_uuid(value)
    if value and found is None:
        problems.append(f"Unknown {label}.")
    return found


def status_arg(problems: list[str]) -> AttendanceStatus | None:
    """The ``status`` argument (any case); an unknown one is named and not applied."""
    value = request.args.get("status", "").strip().upper()
    if value and value not in AttendanceStatus.__members__:
        problems.append("Unknown status.")
        return None
    return AttendanceStatus(value) if value else None
