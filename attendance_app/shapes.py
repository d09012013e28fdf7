"""The words for a value of the wrong shape, the same at every edge (DRF's wording, which the
contract fixes): the JSON schemas, the page forms and the services that check a shape as part
of a rule all say these, so a newcomer finds each sentence once."""

from __future__ import annotations

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
NOT_BLANK = "This field may not be blank."
NO_NUL = "Null characters are not allowed."
#: Names, class names and emails are one line (a line break would reach an email header).
CONTROL_CHARACTERS = "Line breaks and other control characters are not allowed."
NOT_A_UUID = "Must be a valid UUID."
NOT_A_STRING = "Not a valid string."
NOT_AN_EMAIL = "Enter a valid email address."
NOT_AN_INTEGER = "A valid integer is required."
EMPTY_LIST = "This list may not be empty."


def too_long(limit: int) -> str:
    return f"Ensure this field has no more than {limit} characters."


def too_many(limit: int) -> str:
    return f"Ensure this field has no more than {limit} elements."


def not_a_choice(value: object) -> str:
    """DRF's message for a value outside a choice field's choices (booleans as JSON says them)."""
    shown = str(value).lower() if isinstance(value, bool) else value
    return f'"{shown}" is not a valid choice.'
