"""The school's clock for people: times are stored and exchanged in UTC (API, CSV, sockets),
and shown to people in the school's time zone (``SCHOOL_TIMEZONE``, default UTC)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (e.g. "Europe/London"); a ValueError that says what is wrong."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(
            f"SCHOOL_TIMEZONE must be an IANA time zone such as 'Europe/London', not {name!r}"
        ) from err


def school_zone() -> ZoneInfo:
    return zone_named(current_app.config.get("SCHOOL_TIMEZONE") or "UTC")


def school_time(value: datetime | None) -> datetime | None:
    """``value`` (aware, UTC) as the school's wall-clock time."""
    return None if value is None else value.astimezone(school_zone())


def spoken(value: datetime) -> str:
    """ "Mon 07 Sep 2026, 09:00 BST": how pages and messages write a moment."""
    local = value.astimezone(school_zone())
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"
