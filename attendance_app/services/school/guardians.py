"""A student's guardians (admins manage them), and the signed link in their absence emails
that turns their emails off without a login.

Guardians are not accounts: they never sign in. What an admin does to them is logged on the
security log (an email address that receives messages about a child is worth a trail), and so
is a guardian turning their emails off.
"""

from __future__ import annotations

import re
import uuid

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from attendance_app.extensions import db
from attendance_app.models import Guardian, Student, User
from attendance_app.services import permissions
from attendance_app.services.errors import Invalid, NotFound
from attendance_app.services.fields import EMAIL_MAX, NAME_MAX, max_length, require_fits
from attendance_app.services.school.people import normalise_email
from attendance_app.services.school.structure import STUDENT_NOT_FOUND
from attendance_app.services.security_log import security_event
from attendance_app.services.transaction import unit_of_work
from attendance_app.shapes import NOT_AN_EMAIL, REQUIRED

RELATIONSHIP_MAX = max_length(Guardian.relationship)
GUARDIAN_NOT_FOUND = "Guardian not found."
ALREADY_LISTED = "This student already has a guardian with this email."
#: A student has at most this many guardians (a typo loop in a script is not a family).
MAX_PER_STUDENT = 10
TOO_MANY = f"A student has at most {MAX_PER_STUDENT} guardians."
UNSUBSCRIBE_INVALID = "This link is not valid. Ask the school to stop the emails."

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]+$")
_TOKEN_SALT = "guardian-unsubscribe"


def check_guardian(*, name: str, email: str, relationship: str) -> tuple[str, str, str]:
    """The values as stored (stripped, email lower-cased). Raises Invalid on the first wrong
    field: required, length, one line, an email's shape. The CSV import says the same."""
    name, email, relationship = name.strip(), normalise_email(email), relationship.strip()
    for field, value in (("name", name), ("email", email), ("relationship", relationship)):
        if not value:
            raise Invalid(REQUIRED, field=field)
    require_fits(
        name=(name, NAME_MAX),
        email=(email, EMAIL_MAX),
        relationship=(relationship, RELATIONSHIP_MAX),
    )
    if not _EMAIL.match(email):
        raise Invalid(NOT_AN_EMAIL, field="email")
    return name, email, relationship


def _student(student_id: uuid.UUID) -> Student:
    student = db.session.get(Student, student_id)
    if student is None:
        raise NotFound(STUDENT_NOT_FOUND)
    return student


def list_guardians(*, actor: User, student_id: uuid.UUID) -> list[Guardian]:
    """A student's guardians, by name (admins). Raises Forbidden, then NotFound."""
    permissions.require_guardian_manager(actor)
    _student(student_id)
    return guardians_of(student_id)


def guardians_of(student_id: uuid.UUID) -> list[Guardian]:
    return list(
        db.session.scalars(
            select(Guardian)
            .where(Guardian.student_id == student_id)
            .order_by(Guardian.name, Guardian.email)
        )
    )


@unit_of_work
def add_guardian(
    *,
    actor: User,
    student_id: uuid.UUID,
    name: str,
    email: str,
    relationship: str,
    notify: bool = True,
) -> Guardian:
    """Add a guardian to a student (admins). Raises Forbidden, NotFound, Invalid (a field;
    the same email twice for one student; more than MAX_PER_STUDENT)."""
    permissions.require_guardian_manager(actor)
    student = _student(student_id)
    name, email, relationship = check_guardian(name=name, email=email, relationship=relationship)
    existing = guardians_of(student.id)
    if any(g.email == email for g in existing):
        raise Invalid(ALREADY_LISTED, field="email")
    if len(existing) >= MAX_PER_STUDENT:
        raise Invalid(TOO_MANY)
    guardian = Guardian(
        student_id=student.id, name=name, email=email, relationship=relationship, notify=notify
    )
    db.session.add(guardian)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # the same guardian added at the same moment
        raise Invalid(ALREADY_LISTED, field="email") from exc
    security_event(
        "guardian_added",
        actor=actor.id,
        student=student.id,
        guardian=guardian.id,
        email=email,
        notify=notify,
    )
    return guardian


def get_guardian(*, actor: User, student_id: uuid.UUID, guardian_id: uuid.UUID) -> Guardian:
    """One guardian of one student (admins). Raises Forbidden, then NotFound."""
    permissions.require_guardian_manager(actor)
    _student(student_id)
    guardian = db.session.get(Guardian, guardian_id)
    if guardian is None or guardian.student_id != student_id:
        raise NotFound(GUARDIAN_NOT_FOUND)
    return guardian


@unit_of_work
def remove_guardian(*, actor: User, student_id: uuid.UUID, guardian_id: uuid.UUID) -> Guardian:
    """Remove a guardian (admins); their emails not sent yet are withdrawn. Raises
    Forbidden, NotFound."""
    guardian = get_guardian(actor=actor, student_id=student_id, guardian_id=guardian_id)
    _withdraw_unsent(guardian.id)
    db.session.delete(guardian)
    db.session.flush()
    security_event("guardian_removed", actor=actor.id, student=student_id, guardian=guardian.id)
    return guardian


@unit_of_work
def set_notify(
    *, actor: User, student_id: uuid.UUID, guardian_id: uuid.UUID, notify: bool
) -> Guardian:
    """Turn a guardian's absence emails on or off (admins)."""
    guardian = get_guardian(actor=actor, student_id=student_id, guardian_id=guardian_id)
    if guardian.notify != notify:
        guardian.notify = notify
        if not notify:
            _withdraw_unsent(guardian.id)
        db.session.flush()
        security_event(
            "guardian_notify_changed",
            actor=actor.id,
            student=student_id,
            guardian=guardian.id,
            notify=notify,
        )
    return guardian


def _withdraw_unsent(guardian_id: uuid.UUID) -> None:
    # The digest module imports this one (for the link): imported here, not at the top.
    from attendance_app.services.notifying.guardian_digest import withdraw_for_guardian

    withdraw_for_guardian(guardian_id)


# --- the unsubscribe link ------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN_SALT)


def unsubscribe_token(guardian_id: uuid.UUID) -> str:
    """The signed token in a guardian's emails. It does not expire: an old email's link must
    still work; it only ever turns that guardian's emails off."""
    return _serializer().dumps(str(guardian_id))


def unsubscribe_path(guardian_id: uuid.UUID) -> str:
    """The unsubscribe page, site-relative (emails are written outside any request)."""
    return f"/guardians/unsubscribe/{unsubscribe_token(guardian_id)}"


def guardian_for_token(token: str) -> Guardian:
    """The guardian a token names. Raises NotFound (UNSUBSCRIBE_INVALID) for a token that is
    forged, damaged, or whose guardian was removed."""
    try:
        guardian_id = uuid.UUID(_serializer().loads(token))
    except (BadSignature, ValueError, TypeError) as exc:
        raise NotFound(UNSUBSCRIBE_INVALID) from exc
    guardian = db.session.get(Guardian, guardian_id)
    if guardian is None:
        raise NotFound(UNSUBSCRIBE_INVALID)
    return guardian


@unit_of_work
def unsubscribe(*, token: str) -> Guardian:
    """Turn off the emails of the guardian the token names, without a login (again is
    harmless). Raises NotFound."""
    guardian = guardian_for_token(token)
    if guardian.notify:
        guardian.notify = False
        _withdraw_unsent(guardian.id)
        db.session.flush()
        security_event("guardian_unsubscribed", student=guardian.student_id, guardian=guardian.id)
    return guardian
