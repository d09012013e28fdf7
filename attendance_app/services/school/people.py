"""Accounts: creating and editing users, logging in, signing out everywhere (API tokens are
in ``school.tokens``)."""

from __future__ import annotations

import unicodedata
import uuid

from sqlalchemy import ColumnElement, bindparam, false, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import AliasedClass

from attendance_app.extensions import db
from attendance_app.models import Role, Student, Teacher, User
from attendance_app.services import events, permissions
from attendance_app.services.errors import Invalid, NotFound
from attendance_app.services.fields import EMAIL_MAX, NAME_MAX, STUDENT_NUMBER_MAX, require_fits
from attendance_app.services.school import identities, passwords
from attendance_app.services.school.throttle import throttle
from attendance_app.services.security_log import security_event
from attendance_app.services.transaction import unit_of_work
from attendance_app.shapes import REQUIRED

EMAIL_TAKEN = "A user with this email already exists."
STUDENT_NUMBER_TAKEN = "A student with this student ID already exists."
STUDENT_NUMBER_REQUIRED = REQUIRED
INVALID_CREDENTIALS = "Invalid email or password."
SUPERUSER_IS_ADMIN = "Only an ADMIN can be a superuser."
PASSWORD_TOO_SHORT = "This password is too short. It must contain at least 8 characters."
MIN_PASSWORD_LENGTH = 8
USER_NOT_FOUND = "User not found."
CANNOT_DEACTIVATE_SELF = "You cannot deactivate your own account; ask another admin."
ROLE_IS_FIXED = "The role cannot be changed: classes, enrolments and attendance records hang on it."
WRONG_CURRENT_PASSWORD = "This is not your current password."


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return passwords.hash_password(password)


def create_user(
    *,
    actor: User | None,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    role: Role,
    student_number: str | None = None,
    is_superuser: bool = False,
    password_hash: str | None = None,
) -> User:
    """Create a user with the profile its role needs (see :func:`_create_user`). The password
    is hashed first, outside the write transaction (scrypt must not hold SQLite's lock)."""
    if actor is not None:
        permissions.require_admin(actor)
    if password_hash is None and len(password) >= MIN_PASSWORD_LENGTH:
        password_hash = hash_password(password)
    return _create_user(
        actor=actor,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        role=role,
        student_number=student_number,
        is_superuser=is_superuser,
        password_hash=password_hash,
    )


@unit_of_work
def _create_user(
    *,
    actor: User | None,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    role: Role,
    student_number: str | None,
    is_superuser: bool,
    password_hash: str | None,
) -> User:
    """Create a user with the profile its role needs. ``actor=None`` is the CLI's bootstrap.

    ``password_hash`` is :func:`hash_password` of ``password`` made once by a bulk loader
    (the demo's shared password), which would otherwise spend ~0.1 s of scrypt per user.

    Raises Forbidden (not an admin), Invalid (duplicate email or student number, short
    password, missing student number for a STUDENT).
    """
    if actor is not None:
        permissions.require_admin(actor)
        if is_superuser:
            permissions.require_superuser_maker(actor)
    if is_superuser and role != Role.ADMIN:
        raise Invalid(SUPERUSER_IS_ADMIN, field="role")
    _require_person_fields(email, first_name, last_name, student_number)
    email = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(PASSWORD_TOO_SHORT, field="password")
    if role == Role.STUDENT:
        student_number = (student_number or "").strip()
        if not student_number:
            raise Invalid(STUDENT_NUMBER_REQUIRED, field="student_id")
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise Invalid(EMAIL_TAKEN, field="email")
    if role == Role.STUDENT and db.session.scalar(
        select(Student.id).where(Student.student_number == student_number)
    ):
        raise Invalid(STUDENT_NUMBER_TAKEN, field="student_id")

    user = User(
        email=email,
        password_hash=password_hash or hash_password(password),
        **_names(first_name, last_name),
        role=role,
        is_superuser=is_superuser,
    )
    if role == Role.STUDENT:
        user.student = Student(student_number=student_number)
    elif role == Role.TEACHER:
        user.teacher = Teacher()
    db.session.add(user)
    _flush_unique()
    return user


def _require_person_fields(
    email: str, first_name: str, last_name: str, student_number: str | None
) -> None:
    require_fits(
        email=(email.strip(), EMAIL_MAX),
        first_name=(first_name.strip(), NAME_MAX),
        last_name=(last_name.strip(), NAME_MAX),
        student_id=((student_number or "").strip(), STUDENT_NUMBER_MAX),
    )


def _flush_unique() -> None:
    """Flush; a concurrent request that took the email or number first is still an Invalid."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        field = "email" if "email" in str(exc.orig).lower() else "student_id"
        raise Invalid(
            EMAIL_TAKEN if field == "email" else STUDENT_NUMBER_TAKEN, field=field
        ) from exc


def find_user(email: str) -> User | None:
    """The user with this email (any case), or None."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None. Takes the same time either way: an
    unknown email, an inactive account and an imported one (no usable password) are checked
    against a dummy hash made with the same parameters (throttling: ``services.school.signin``)."""
    email = normalise_email(email)
    # No stored email holds a NUL, and PostgreSQL refuses one in a query (a 500, not a 401).
    user: User | None = (
        None if "\x00" in email else db.session.scalar(select(User).where(User.email == email))
    )
    if user is None or not user.is_active:
        passwords.burn_time(password)
        return None
    if not passwords.check_password(user.password_hash, password):
        return None
    return user


@unit_of_work
def sign_out_everywhere(*, user: User) -> None:
    """End every login of ``user``: browser sessions (their cookie's version no longer
    matches) and live connections (disconnected after commit)."""
    db.session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )
    events.record(db.session, events.UserSignedOut(user.id))


def load_user_for_login(user_key: str) -> User | None:
    """Flask-Login's user loader: ``<uuid>:<session_version>`` of an active user."""
    user_id, _, version = user_key.partition(":")
    try:
        uid = uuid.UUID(user_id)
    except ValueError:
        return None
    session = db.session()  # looked up once (each ``db.session.x`` is a lookup)
    user = identities.in_session(uid, session)
    if user is None:
        row = session.connection().execute(_LOGIN_USER, {"user_id": uid}).one_or_none()
        user = identities.copy_into(session, row) if row is not None else None
    if user is None or not user.is_active or str(user.session_version) != version:
        return None
    return user


#: A login cookie's user, by id: its row as columns (``identities.COLUMNS``), built once.
_LOGIN_USER = identities.select_user().where(User.id == bindparam("user_id"))


def fold(text: str) -> str:
    """``text`` as person searches compare it: case folded, accents dropped (NFKD without its
    combining marks: "Zoë Ñúñez" → "zoe nunez"), commas read as spaces, every run of
    whitespace one space. Python does it, so SQLite and PostgreSQL match alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace(",", " ").split())


def name_search_key(first_name: str, last_name: str) -> str:
    """What ``users.name_search`` holds: the folded "first last" and "last first", one per
    line (a folded query has no line break, so it never matches across the two)."""
    return f"{fold(f'{first_name} {last_name}')}\n{fold(f'{last_name} {first_name}')}"


def _names(first_name: str, last_name: str) -> dict[str, str]:
    """A user's name columns, the search key among them (every write of a name uses this)."""
    first, last = first_name.strip(), last_name.strip()
    return {"first_name": first, "last_name": last, "name_search": name_search_key(first, last)}


def _contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its wildcards literal (escape ``\\``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def person_search(query: str, user: type[User] | AliasedClass[User] = User) -> ColumnElement[bool]:
    """The one WHERE clause of every search for a person (people, enrolment, records,
    exports): ``user``'s name as "First Last", "Last First" or "Last, First", their email or
    their student number contains ``query``, in any case and with or without accents.

    An empty query matches everyone. A query with a NUL character matches nobody (no stored
    text holds one, and PostgreSQL refuses one in a parameter).
    """
    query = query or ""
    if "\x00" in query:
        return false()
    name = fold(query)
    if not name:
        return true()
    plain = _contains(query.strip().lower())
    # Never correlated: the records query has its own students row in its FROM.
    number = (
        select(Student.user_id)
        .where(func.lower(Student.student_number).like(plain, escape="\\"))
        .correlate(None)
    )
    return or_(
        user.name_search.like(_contains(name), escape="\\"),
        user.email.like(plain, escape="\\"),  # stored lower-cased
        user.id.in_(number),
    )


def user_filters(*, role: Role | None = None, query: str = "") -> list[ColumnElement[bool]]:
    """WHERE clauses for users of ``role`` that ``person_search`` finds with ``query``;
    shared by the list, its pages and searches."""
    clauses: list[ColumnElement[bool]] = [person_search(query)]
    if role is not None:
        clauses.append(User.role == role)
    return clauses


def list_users(*, actor: User, role: Role | None = None, query: str = "") -> list[User]:
    """All users (admins only), ordered by name; ``query`` narrows them to those
    ``person_search`` finds. Raises Forbidden."""
    permissions.require_admin(actor)
    stmt = (
        select(User)
        .where(*user_filters(role=role, query=query))
        .order_by(User.last_name, User.first_name, User.email)
    )
    return list(db.session.scalars(stmt).unique())


def get_user_for(*, actor: User, user_id: uuid.UUID) -> User:
    """One user, for an admin. Raises Forbidden, NotFound."""
    permissions.require_admin(actor)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    return user


def get_user_to_manage(*, actor: User, user_id: uuid.UUID) -> User:
    """One user whom ``actor`` may change (a superuser only for a superuser).
    Raises Forbidden, NotFound."""
    user = get_user_for(actor=actor, user_id=user_id)
    permissions.require_user_manager(actor, user)
    return user


@unit_of_work
def set_active(*, actor: User, user_id: uuid.UUID, active: bool) -> User:
    """Deactivate or reactivate a user (admins; a superuser only by a superuser).
    Deactivating ends every login of theirs and revokes their API tokens for good (a
    reactivation does not revive them); their records are kept (people are deactivated,
    never deleted).

    Raises Forbidden, NotFound, Invalid (an admin deactivating themself).
    """
    user = _load_for_write(actor, user_id)
    if not active and user.id == actor.id:
        raise Invalid(CANNOT_DEACTIVATE_SELF, field="non_field_errors")
    if user.is_active != active:
        user.is_active = active
        db.session.flush()
        if not active:
            sign_out_everywhere(user=user)
            from attendance_app.services.school import tokens  # tokens imports this module

            tokens.revoke_all(user_id=user.id, reason="deactivated")
        security_event("activated" if active else "deactivated", user=user.id, by=actor.id)
    return user


def _load_for_write(actor: User, user_id: uuid.UUID) -> User:
    """The user as the database holds it now (inside a write transaction), for an admin who
    may change them (a superuser only for a superuser). Raises Forbidden, NotFound."""
    permissions.require_admin(actor)
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    permissions.require_user_manager(actor, user)
    return user


@unit_of_work
def update_user(
    *,
    actor: User,
    user_id: uuid.UUID,
    email: str,
    first_name: str,
    last_name: str,
    student_number: str | None = None,
) -> User:
    """Change a person's names, email and, for a student, student number (admins). The role
    never changes (ROLE_IS_FIXED); ``student_number`` is ignored for other roles.

    Raises Forbidden (not an admin), NotFound, Invalid (email or student number taken by
    someone else, a student without a number).
    """
    user = _load_for_write(actor, user_id)
    _require_person_fields(email, first_name, last_name, student_number)
    email = normalise_email(email)
    number = (student_number or "").strip()
    if user.student is not None and not number:
        raise Invalid(STUDENT_NUMBER_REQUIRED, field="student_id")
    if db.session.scalar(select(User.id).where(User.email == email, User.id != user.id)):
        raise Invalid(EMAIL_TAKEN, field="email")
    if user.student is not None:
        if db.session.scalar(
            select(Student.id).where(
                Student.student_number == number, Student.id != user.student.id
            )
        ):
            raise Invalid(STUDENT_NUMBER_TAKEN, field="student_id")
        user.student.student_number = number
    user.email = email
    for attr, value in _names(first_name, last_name).items():
        setattr(user, attr, value)
    _flush_unique()
    return user


def set_password(
    *,
    actor: User,
    user_id: uuid.UUID,
    password: str,
    actor_password: str,
    address: str | None = None,
) -> User:
    """Give a person a new password (admins; a superuser's only by a superuser), once the
    admin has confirmed their own current password (``actor_password``; a wrong one counts as
    a failed login of theirs). Every login of the person ends (browser sessions, live
    connections, API tokens); the returned user carries the new session version (an admin
    resetting their own password logs in again with it).

    Raises Forbidden, NotFound, Throttled, Invalid (too short; a wrong ``actor_password`` on
    the field ``current_password``).
    """
    user = get_user_for(actor=actor, user_id=user_id)
    permissions.require_user_manager(actor, user)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(PASSWORD_TOO_SHORT, field="password")
    _confirm_own_password(actor, actor_password, address)
    # Hashed before the write transaction: scrypt must not hold SQLite's write lock.
    user = _replace_password(actor=actor, user_id=user_id, password_hash=hash_password(password))
    security_event(
        "password_changed" if user.id == actor.id else "password_reset", user=user.id, by=actor.id
    )
    return user


def change_password(
    *, actor: User, current_password: str, new_password: str, address: str | None = None
) -> User:
    """Anyone changes their own password, giving their current one (a wrong one counts as a
    failed login). Their other logins and API tokens end; the returned user carries the new
    session version. Raises Throttled, Invalid (too short, wrong current password)."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise Invalid(PASSWORD_TOO_SHORT, field="password")
    _confirm_own_password(actor, current_password, address)
    user = _replace_password(
        actor=actor, user_id=actor.id, password_hash=hash_password(new_password)
    )
    security_event("password_changed", user=user.id, by=actor.id)
    return user


def _confirm_own_password(actor: User, password: str, address: str | None) -> None:
    """Raise Invalid unless ``password`` is ``actor``'s current one (throttled like a login)."""
    throttle().check(actor.email, address)
    stored = db.session.scalar(select(User.password_hash).where(User.id == actor.id))
    if not passwords.check_password(stored, password or ""):
        throttle().fail(actor.email, address, channel="WEB")
        security_event("password_confirm_failed", user=actor.id, address=address)
        raise Invalid(WRONG_CURRENT_PASSWORD, field="current_password")


@unit_of_work
def _replace_password(*, actor: User, user_id: uuid.UUID, password_hash: str) -> User:
    user = (
        db.session.get(User, user_id, populate_existing=True)
        if user_id == actor.id
        else _load_for_write(actor, user_id)
    )
    if user is None:
        raise NotFound(USER_NOT_FOUND)
    user.password_hash = password_hash
    db.session.flush()
    sign_out_everywhere(user=user)
    # API tokens were obtained with the old password: they stop working too.
    from attendance_app.services.school import tokens

    tokens.revoke_all(user_id=user.id, reason="password")
    db.session.refresh(user)
    return user
