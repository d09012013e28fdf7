"""Reading a page's query arguments: a bad value is named in words and not applied."""

from __future__ import annotations

from datetime import date

from flask import request

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
