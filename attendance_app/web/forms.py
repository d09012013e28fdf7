"""Flask-WTF forms: shapes only; choices come from the model enums."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from flask import flash, redirect
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from attendance_app.services.errors import Invalid
from attendance_app.services.fields import EMAIL_MAX, control_character_message
from attendance_app.services.fields import max_length as max_length
from attendance_app.shapes import NO_NUL, NOT_AN_EMAIL, REQUIRED, too_long

T = TypeVar("T")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=500)])


class OtpForm(FlaskForm):
    """The code step of a two-factor login: 6 digits, or a recovery code."""

    otp = StringField("Code", validators=[DataRequired(), Length(max=64)])


# --- plain back office forms (request.form read into dicts, errors by field name) --------

#: What a login accepts (LoginForm), so a longer password could never be used.
PASSWORD_MAX = 500


def read_text(
    form, limits: dict[str, int], *, optional: tuple[str, ...] = ()
) -> tuple[dict[str, str], dict[str, str]]:
    """The stripped values of the named (one-line) fields of a submitted form, and their
    shape errors by field name (missing unless ``optional``, longer than its limit, a NUL,
    line break or other control character)."""
    values = {name: form.get(name, "").strip() for name in limits}
    errors: dict[str, str] = {}
    for name, limit in limits.items():
        value = values[name]
        if not value and name not in optional:
            errors[name] = REQUIRED
        elif len(value) > limit:
            errors[name] = too_long(limit)
        elif message := control_character_message(value):
            errors[name] = message
    return values, errors


def check_email(values: dict[str, str], errors: dict[str, str]) -> None:
    """Add NOT_AN_EMAIL for an ``email`` value without an @ (when it has no error yet)."""
    if "email" not in errors and values.get("email") and "@" not in values["email"]:
        errors["email"] = NOT_AN_EMAIL


def check_password(password: str, errors: dict[str, str], name: str = "password") -> None:
    """Shape of a new password: present, at most PASSWORD_MAX, no NUL (its minimum length is
    the service's rule)."""
    if not password:
        errors[name] = REQUIRED
    elif len(password) > PASSWORD_MAX:
        errors[name] = too_long(PASSWORD_MAX)
    elif "\x00" in password:
        errors[name] = NO_NUL


def read_uuid(form, name: str, errors: dict[str, str], message: str):
    """The UUID in a select field, or None with ``message`` under ``name``."""
    try:
        return uuid.UUID(form.get(name, "").strip())
    except ValueError:
        errors[name] = message
        return None


#: The services name the API's field for a student's number; the forms call it this.
FORM_FIELDS = {"student_id": "student_number"}


def field_error(err: Invalid, errors: dict[str, str] | None = None) -> dict[str, str]:
    """Put a service's Invalid beside its form field (or above the form); returns ``errors``."""
    errors = {} if errors is None else errors
    field = FORM_FIELDS.get(err.field or "", err.field)
    errors[field or "form"] = err.message
    return errors


def save_form(
    errors: dict[str, str],
    save: Callable[[], T],
    *,
    saved: Callable[[T], tuple[str, str]],
    again: Callable[[], ResponseReturnValue],
):
    """A back office form's submit, once: with no shape ``errors``, ``save()`` (a service
    call); its Invalid goes beside its field, into ``errors``. Saved: flash the message and
    redirect to the address ``saved(result)`` gives. Otherwise ``again()`` (the page with
    the form and ``errors``), as a 400."""
    if not errors:
        try:
            result = save()
        except Invalid as err:
            field_error(err, errors)
        else:
            message, location = saved(result)
            flash(message, "success")
            return redirect(location)
    return again(), 400
