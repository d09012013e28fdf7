"""Who may call what: every route of the app's URL map and every Socket.IO handler, as each
of seven callers, allowed or refused as the contract says (API.md: Roles, Security, and each
route's rule).

The table below is the expectation, one row per (endpoint, method): the callers allowed.
Everyone else is refused: the API answers 401 to the anonymous and 403 to the signed-in,
pages redirect the anonymous to /login and answer 403 to the signed-in (``REFUSED_WITH``
names the few rows that answer 404 instead, so ids cannot be probed). "Allowed" means the
permission check let the caller through: the answer is a success, a redirect elsewhere than
/login, or a rule's 400/409 that only someone allowed can reach.

A route without a row fails ``test_every_route_and_handler_has_a_row``.

Speed: one world (people, classes, sessions, records) serves every read and every refusal
(a refused request must change nothing, and the test checks that the world still stands);
a request that is allowed to change something gets a world of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import func, select

from attendance_app.extensions import db, socketio
from attendance_app.models import Attendance, AttendanceChange, Role, User
from attendance_app.services.notifying import notifications
from attendance_app.services.school import guardians
from attendance_app.services.school import throttle as _throttle  # noqa: F401
from tests.conftest import empty_database
from tests.factories import (
    PASSWORD,
    ClassInfo,
    Person,
    make_admin,
    make_class,
    make_session,
    make_student,
    make_superuser,
    make_teacher,
    mark,
)
from tests.factories import (
    actor as factories_actor,
)
from tests.web.conftest import csrf_from

# --- the callers ---------------------------------------------------------------------------

ANON = "anonymous"
STUDENT = "a student"  # enrolled in another teacher's class, not in the class concerned
THE_STUDENT = "the student"  # the student the request is about, enrolled in the class
TEACHER = "the class's teacher"
OTHER_TEACHER = "another teacher"  # teaches a class of their own
ADMIN = "admin"
SUPER = "superuser"
CALLERS = (ANON, STUDENT, THE_STUDENT, TEACHER, OTHER_TEACHER, ADMIN, SUPER)

EVERYONE = frozenset(CALLERS)
SIGNED_IN = EVERYONE - {ANON}
STAFF = frozenset({TEACHER, OTHER_TEACHER, ADMIN, SUPER})
STUDENTS = frozenset({STUDENT, THE_STUDENT})
CLASS_STAFF = frozenset({TEACHER, ADMIN, SUPER})  # the class's teacher, or an admin
ADMINS = frozenset({ADMIN, SUPER})
SUPERUSERS = frozenset({SUPER})
THE_STUDENT_AND_STAFF = frozenset({THE_STUDENT}) | CLASS_STAFF
RECIPIENT = frozenset({TEACHER})  # a notification's own recipient
NOBODY: frozenset[str] = frozenset()

# --- the matrix ----------------------------------------------------------------------------
# (endpoint, method) or (endpoint, method, variant) → the callers allowed. A variant names
# a different target (e.g. "superuser": the person acted on is a superuser).

MATRIX: dict[tuple[str, ...], frozenset[str]] = {
    # Sign-in itself: open to everyone (a signed-in visitor is sent home).
    ("web.login", "GET"): EVERYONE,
    ("web.login", "POST"): EVERYONE,
    ("web.logout", "POST"): SIGNED_IN,
    # The code step: without a password step first, it sends anyone back to /login.
    ("web.login_code", "GET"): EVERYONE,
    ("web.login_code", "POST"): EVERYONE,
    ("api.token_create", "POST"): EVERYONE,
    ("api.token_revoke", "DELETE"): SIGNED_IN,
    ("api.openapi_json", "GET"): EVERYONE,
    ("api_docs.show", "GET"): EVERYONE,
    ("static", "GET"): EVERYONE,
    # Home, one's own account and notifications.
    ("web.home", "GET"): SIGNED_IN,
    ("web.account_password", "GET"): SIGNED_IN,
    ("web.account_password", "POST"): SIGNED_IN,
    # Two-factor sign-in is for ADMIN and TEACHER accounts (contract, Security): a student's
    # page says so, and they have none to turn off (400), but cannot turn it on.
    ("web.account_two_factor", "GET"): SIGNED_IN,
    ("web.account_two_factor_enable", "POST"): STAFF,
    ("web.account_two_factor_disable", "POST"): SIGNED_IN,
    ("web.account_recovery_codes", "POST"): SIGNED_IN,
    ("web.notification_list", "GET"): SIGNED_IN,
    ("web.notification_count", "GET"): SIGNED_IN,
    ("web.notification_read_all", "POST"): SIGNED_IN,
    ("web.notification_open", "POST"): RECIPIENT,
    ("web.notification_read", "POST"): RECIPIENT,
    ("api.notification_list", "GET"): SIGNED_IN,
    ("api.notification_read_all", "POST"): SIGNED_IN,
    ("api.notification_read", "POST"): RECIPIENT,
    # Users, subjects, classes (ADMIN), and what a teacher may read of their own classes.
    ("api.users_list", "GET"): ADMINS,
    ("api.users_create", "POST"): ADMINS,
    # Subjects are the school's catalogue; a list of classes is scoped (a student's is empty).
    ("api.subjects_list", "GET"): SIGNED_IN,
    ("api.subjects_create", "POST"): ADMINS,
    ("api.classes_list", "GET"): SIGNED_IN,
    ("api.classes_create", "POST"): ADMINS,
    ("api.classes_detail", "GET"): CLASS_STAFF,
    ("api.enrollments_create", "POST"): ADMINS,
    ("api.enrollments_delete", "DELETE"): ADMINS,
    ("api.class_register", "GET"): CLASS_STAFF,
    # Sessions (the class's TEACHER or ADMIN).
    ("api.sessions_create", "POST"): CLASS_STAFF,
    ("api.sessions_list", "GET"): CLASS_STAFF,
    ("api.sessions_detail", "GET"): CLASS_STAFF,
    ("api.sessions_start", "POST"): CLASS_STAFF,
    ("api.sessions_end", "POST"): CLASS_STAFF,
    ("api.sessions_check_in_code", "POST"): CLASS_STAFF,
    # Attendance (Module 4).
    ("api.attendance_mark", "POST"): CLASS_STAFF,
    ("api.attendance_mark", "POST", "bulk"): CLASS_STAFF,
    ("api.attendance_bulk_mark", "POST"): CLASS_STAFF,
    ("api.attendance_session", "GET"): CLASS_STAFF,
    ("api.attendance_update", "PUT"): CLASS_STAFF,
    ("api.attendance_update", "PATCH"): CLASS_STAFF,
    ("api.attendance_student", "GET"): THE_STUDENT_AND_STAFF,
    # Excuses: the class's teacher or an admin, also on ENDED sessions (contract).
    ("api.attendance_excuse", "POST"): CLASS_STAFF,
    ("api.attendance_excuse", "DELETE"): CLASS_STAFF,
    ("api.attendance_late_minutes", "POST"): CLASS_STAFF,
    # Students only; one not enrolled reaches rule 4's 400, as for marking (contract).
    ("api.attendance_check_in", "POST"): STUDENTS,
    # Guardians (ADMIN); the emailed unsubscribe link needs no login (its token is the key).
    ("api.guardians_list", "GET"): ADMINS,
    ("api.guardians_create", "POST"): ADMINS,
    ("api.guardians_delete", "DELETE"): ADMINS,
    ("web.admin_guardian_add", "POST"): ADMINS,
    ("web.admin_guardian_notify", "POST"): ADMINS,
    ("web.admin_guardian_remove_confirm", "GET"): ADMINS,
    ("web.admin_guardian_remove", "POST"): ADMINS,
    ("web.guardian_unsubscribe_confirm", "GET"): EVERYONE,
    ("web.guardian_unsubscribe", "POST"): EVERYONE,
    # Analytics and exports.
    ("api.analytics_student", "GET"): THE_STUDENT_AND_STAFF,
    ("api.analytics_class", "GET"): CLASS_STAFF,
    # Naming a student: as for their history (a student must name their own student_id).
    ("api.attendance_export", "GET"): THE_STUDENT_AND_STAFF,
    # Pages of a class and its sessions (the class's teacher or an admin).
    ("web.class_page", "GET"): CLASS_STAFF,
    ("web.class_analytics_page", "GET"): CLASS_STAFF,
    ("web.session_create", "POST"): CLASS_STAFF,
    ("web.session_start", "POST"): CLASS_STAFF,
    ("web.session_end_confirm", "GET"): CLASS_STAFF,
    ("web.session_end", "POST"): CLASS_STAFF,
    ("web.roster_page", "GET"): CLASS_STAFF,
    ("web.roster_grid", "GET"): CLASS_STAFF,
    ("web.roster_set_status", "POST"): CLASS_STAFF,
    ("web.roster_notes", "POST"): CLASS_STAFF,
    ("web.roster_mark_unmarked", "POST"): CLASS_STAFF,
    ("web.roster_undo", "POST"): CLASS_STAFF,
    ("web.roster_excuse", "POST"): CLASS_STAFF,
    ("web.roster_late_minutes", "POST"): CLASS_STAFF,
    ("web.roster_excuse_withdraw", "POST"): CLASS_STAFF,
    ("web.excuse_record", "POST"): CLASS_STAFF,
    ("web.withdraw_record_excuse", "POST"): CLASS_STAFF,
    ("web.check_in_code_page", "GET"): CLASS_STAFF,
    ("web.check_in_code_panel", "GET"): CLASS_STAFF,
    ("web.check_in_page", "GET"): STUDENTS,
    ("web.check_in_page", "POST"): STUDENTS,
    ("web.student_history", "GET"): THE_STUDENT_AND_STAFF,
    # The admin's pages.
    ("web.dashboard_board", "GET"): ADMINS,
    ("web.admin_records", "GET"): ADMINS,
    ("web.admin_record", "GET"): ADMINS,
    ("web.admin_record_delete_confirm", "GET"): ADMINS,
    ("web.admin_record_delete", "POST"): ADMINS,
    # A record of an ENDED (locked) session: superusers only.
    ("web.admin_record_delete", "POST", "ended"): SUPERUSERS,
    ("web.admin_subjects", "GET"): ADMINS,
    ("web.admin_subject_create", "POST"): ADMINS,
    ("web.admin_subject", "GET"): ADMINS,
    ("web.admin_subject_update", "POST"): ADMINS,
    ("web.admin_classes", "GET"): ADMINS,
    ("web.admin_class_create", "POST"): ADMINS,
    ("web.admin_class", "GET"): ADMINS,
    ("web.admin_class_update", "POST"): ADMINS,
    ("web.admin_class_students", "GET"): ADMINS,
    ("web.admin_class_enroll", "POST"): ADMINS,
    ("web.admin_class_unenroll_confirm", "GET"): ADMINS,
    ("web.admin_class_unenroll", "POST"): ADMINS,
    ("web.admin_import", "GET"): ADMINS,
    ("web.admin_import_template", "GET"): ADMINS,
    ("web.admin_import_preview", "POST"): ADMINS,
    ("web.admin_import_apply", "POST"): ADMINS,
    ("web.admin_people", "GET"): ADMINS,
    ("web.admin_person_create", "POST"): ADMINS,
    ("web.admin_person", "GET"): ADMINS,
    ("web.admin_person_update", "POST"): ADMINS,
    ("web.admin_person_deactivate_confirm", "GET"): ADMINS,
    ("web.admin_person_deactivate", "POST"): ADMINS,
    ("web.admin_person_reactivate", "POST"): ADMINS,
    ("web.admin_person_password", "POST"): ADMINS,
    ("web.admin_person_two_factor_reset", "POST"): ADMINS,
    # The same acts on a superuser: only another superuser (contract, Security).
    ("web.admin_person_update", "POST", "superuser"): SUPERUSERS,
    ("web.admin_person_deactivate", "POST", "superuser"): SUPERUSERS,
    ("web.admin_person_password", "POST", "superuser"): SUPERUSERS,
    ("web.admin_person_two_factor_reset", "POST", "superuser"): SUPERUSERS,
}

#: Socket.IO handlers (default namespace) → the callers allowed. A refused connection
#: leaves nothing to call the others with.
SOCKET_MATRIX: dict[str, frozenset[str]] = {
    "connect": SIGNED_IN,
    "disconnect": SIGNED_IN,
    # Joining a session's room: a TEACHER for their own classes, ADMIN any; STUDENTs refused.
    "join_session": CLASS_STAFF,
    "leave_session": SIGNED_IN,
}

#: Rows whose refusal, for the signed-in, is 404 rather than 403 (one's own things only:
#: another user's notification does not exist for you).
REFUSED_WITH: dict[tuple[str, ...], str] = {
    ("web.notification_open", "POST"): "404",
    ("web.notification_read", "POST"): "404",
    ("api.notification_read", "POST"): "404",
}

#: Changes after which the next allowed caller would find nothing to act on.
ONE_SHOT = {
    "web.admin_record_delete",
    "api.enrollments_delete",
    "web.admin_class_unenroll",
    "api.guardians_delete",
    "web.admin_guardian_remove",
}

# --- the world -----------------------------------------------------------------------------


@dataclass
class World:
    """Everyone and everything a request may be about, built through the services."""

    app: Flask
    people: dict[str, Person]
    klass: ClassInfo
    other_class: ClassInfo
    unmarked: Person  # enrolled in ``klass``, no record in the active session
    active: uuid.UUID  # an ACTIVE session of ``klass``, ``record`` of the student in it
    scheduled: uuid.UUID
    ended: uuid.UUID  # ENDED, with ``ended_record``
    record: uuid.UUID
    ended_record: uuid.UUID
    record_change: uuid.UUID  # the audit row of ``record``'s mark (for Undo)
    notification: uuid.UUID  # the class teacher's
    guardian: uuid.UUID  # the student's
    superuser: Person
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    csrf_tokens: dict[str, str] = field(default_factory=dict)

    def page_client(self, caller: str) -> FlaskClient:
        """A browser for ``caller``: signed in through the real form (anonymous: none)."""
        if caller not in self.clients:
            client = self.app.test_client()
            page = client.get("/login")
            if caller != ANON:
                person = self.people[caller]
                resp = client.post(
                    "/login",
                    data={
                        "email": person.email,
                        "password": PASSWORD,
                        "csrf_token": csrf_from(page.text),
                    },
                )
                assert resp.status_code == 302, (caller, resp.status_code)
            self.clients[caller] = client
        return self.clients[caller]

    def csrf(self, caller: str) -> str:
        """The caller's CSRF token (one per browser session, read once from a page)."""
        if caller not in self.csrf_tokens:
            client = self.page_client(caller)
            page = client.get("/login" if caller == ANON else "/account/password")
            self.csrf_tokens[caller] = csrf_from(page.text)
        return self.csrf_tokens[caller]


def build_world(app: Flask) -> World:
    admin = make_admin(app)
    teacher = make_teacher(app)
    other_teacher = make_teacher(app)
    the_student = make_student(app)
    a_student = make_student(app)
    unmarked = make_student(app, with_token=False)
    superuser = make_superuser(app, with_token=True)
    klass = make_class(app, admin=admin, teacher=teacher, students=[the_student, unmarked])
    other_class = make_class(app, admin=admin, teacher=other_teacher, students=[a_student])
    active = make_session(app, klass)
    scheduled = make_session(app, klass, start=False)
    ended = make_session(app, klass)
    record = mark(app, klass, active, the_student, "ABSENT")
    ended_record = mark(app, klass, ended, the_student, "LATE")
    from tests.factories import end_session

    end_session(app, klass, ended)
    with app.app_context():
        change = db.session.scalar(
            select(AttendanceChange.id).where(AttendanceChange.attendance_id == record)
        )
        (notification,) = notifications.deliver(
            [
                (
                    notifications.Recipient(teacher.user_id, teacher.email),
                    notifications.Message(kind=_a_notification_kind(), title="A test notification"),
                )
            ]
        )
        guardian = guardians.add_guardian(
            actor=factories_actor(admin.user_id),
            student_id=the_student.profile_id,
            name="Grace Parent",
            email=f"parent-{uuid.uuid4().hex[:6]}@home.test",
            relationship="Mother",
        ).id
        db.session.commit()
        db.session.remove()
    return World(
        app=app,
        people={
            STUDENT: a_student,
            THE_STUDENT: the_student,
            TEACHER: teacher,
            OTHER_TEACHER: other_teacher,
            ADMIN: admin,
            SUPER: superuser,
        },
        klass=klass,
        other_class=other_class,
        unmarked=unmarked,
        active=active,
        scheduled=scheduled,
        ended=ended,
        record=record,
        ended_record=ended_record,
        record_change=change,
        notification=notification,
        guardian=guardian,
        superuser=superuser,
    )


def _a_notification_kind():
    from attendance_app.models import NotificationKind

    return next(iter(NotificationKind))


# --- the requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request: where, and with what body (JSON for the API, a form for pages)."""

    path: str
    query: dict | None = None
    json: dict | None = None
    form: dict | None = None
    headers: dict = field(default_factory=dict)


def path_params(w: World, key: tuple[str, ...]) -> dict:
    """The URL's variables, taken from the world (the row's variant may change the target)."""
    endpoint, _method, *variant = key
    params = {
        "session_id": w.active,
        "student_id": w.people[THE_STUDENT].profile_id,
        "class_id": w.klass.id,
        "subject_id": w.klass.subject_id,
        "user_id": w.people[THE_STUDENT].user_id,
        "record_id": w.record,
        "attendance_id": w.record,
        "notification_id": w.notification,
        "guardian_id": w.guardian,
        "token": _unsubscribe_token(w),
        "filename": "css/app.css",
        "path": "index.css",
    }
    if endpoint in {"api.sessions_start", "web.session_start"}:
        params["session_id"] = w.scheduled
    if endpoint.startswith(("web.roster_set_status", "web.roster_notes")):
        params["student_id"] = w.unmarked.profile_id
    if variant == ["superuser"]:
        params["user_id"] = w.superuser.user_id
    if variant == ["ended"]:
        params["record_id"] = w.ended_record
    return params


def _unsubscribe_token(w: World) -> str:
    with w.app.app_context():
        return guardians.unsubscribe_token(w.guardian)


def body_for(w: World, key: tuple[str, ...]) -> dict | None:
    """A valid body for the row's request: what an allowed caller would send."""
    endpoint, _method, *variant = key
    the = w.people[THE_STUDENT]
    code = f"ACC{uuid.uuid4().hex[:5].upper()}"
    bodies: dict[str, Callable[[], dict]] = {
        "api.token_create": lambda: {"email": the.email, "password": PASSWORD},
        "api.users_create": lambda: {
            "email": f"new-{uuid.uuid4().hex[:8]}@school.test",
            "password": PASSWORD,
            "first_name": "New",
            "last_name": "Person",
            "role": "TEACHER",
        },
        "api.subjects_create": lambda: {"code": code, "name": "A subject"},
        "api.classes_create": lambda: {
            "subject_id": str(w.klass.subject_id),
            "name": f"{code} Section B",
            "teacher_id": str(w.klass.teacher.profile_id),
        },
        "api.enrollments_create": lambda: {"student_ids": [str(w.people[STUDENT].profile_id)]},
        "api.sessions_create": lambda: {"class_id": str(w.klass.id)},
        "api.attendance_mark": lambda: (
            {
                "session_id": str(w.active),
                "records": [{"student_id": str(w.unmarked.profile_id), "status": "LATE"}],
            }
            if variant == ["bulk"]
            else {
                "session_id": str(w.active),
                "student_id": str(w.unmarked.profile_id),
                "status": "PRESENT",
            }
        ),
        "api.attendance_bulk_mark": lambda: {"session_id": str(w.active)},
        "api.attendance_update": lambda: {"status": "LATE", "notes": "bus"},
        "api.attendance_excuse": lambda: {"reason": "ILLNESS"},
        "api.attendance_late_minutes": lambda: {"minutes": 5},
        "web.roster_late_minutes": lambda: {"minutes": "5"},
        "api.guardians_create": lambda: {
            "name": "Sam Parent",
            "email": f"sam-{uuid.uuid4().hex[:6]}@home.test",
            "relationship": "Father",
        },
        "web.admin_guardian_add": lambda: {
            "name": "Sam Parent",
            "email": f"sam-{uuid.uuid4().hex[:6]}@home.test",
            "relationship": "Father",
        },
        "web.roster_excuse": lambda: {"reason": "ILLNESS"},
        "web.excuse_record": lambda: {"reason": "ILLNESS"},
        # A wrong code: only an allowed caller reaches the code check (400, not 403).
        "api.attendance_check_in": lambda: {"session_id": str(w.active), "code": "000000"},
        "web.login": lambda: {"email": the.email, "password": PASSWORD},
        "web.account_password": lambda: {
            "current_password": PASSWORD,
            "password": PASSWORD + "-new",
        },
        "web.account_two_factor_enable": lambda: {"code": "000000"},
        "web.account_two_factor_disable": lambda: {"code": "000000"},
        "web.account_recovery_codes": lambda: {"code": "000000"},
        "web.roster_set_status": lambda: {"status": "PRESENT"},
        "web.roster_notes": lambda: {"notes": "a note"},
        "web.roster_undo": lambda: {"change": str(w.record_change)},
        "web.check_in_page": lambda: {"session": str(w.active), "code": "000000"},
        "web.admin_subject_create": lambda: {"code": code, "name": "A subject"},
        "web.admin_subject_update": lambda: {"code": code, "name": "Renamed"},
        "web.admin_class_create": lambda: {
            "name": f"{code} Section C",
            "subject_id": str(w.klass.subject_id),
            "teacher_id": str(w.klass.teacher.profile_id),
        },
        "web.admin_class_update": lambda: {
            "name": f"{code} Section D",
            "subject_id": str(w.klass.subject_id),
            "teacher_id": str(w.klass.teacher.profile_id),
        },
        "web.admin_class_enroll": lambda: {"student_ids": str(w.people[STUDENT].profile_id)},
        "web.admin_import_apply": lambda: {"content": _import_csv()},
        "web.admin_person_create": lambda: {
            "email": f"new-{uuid.uuid4().hex[:8]}@school.test",
            "first_name": "New",
            "last_name": "Person",
            "role": "TEACHER",
            "password": PASSWORD,
        },
        "web.admin_person_update": lambda: {
            "email": (w.superuser if variant == ["superuser"] else the).email,
            "first_name": "Renamed",
            "last_name": "Person",
            "student_number": "" if variant == ["superuser"] else the.number,
        },
        "web.admin_person_password": lambda: {
            "password": PASSWORD + "-reset",
            "current_password": PASSWORD,
        },
    }
    make = bodies.get(endpoint)
    return make() if make else None


def _import_csv() -> str:
    n = uuid.uuid4().hex[:6]
    return (
        "student_number,first_name,last_name,email\n"
        f"N{n},Imported,Student,imported-{n}@school.test\n"
    )


def call_for(w: World, key: tuple[str, ...]) -> Call:
    endpoint, _method, *_ = key
    with w.app.test_request_context():
        path = url_for(
            endpoint,
            **{k: v for k, v in path_params(w, key).items() if k in _rule_args(w.app, endpoint)},
        )
    body = body_for(w, key)
    query = {
        "api.sessions_list": {"class_id": str(w.klass.id)},
        # A STUDENT must name their own student_id (403 when missing or another's).
        "api.attendance_export": {"student_id": str(w.people[THE_STUDENT].profile_id)},
    }.get(endpoint)
    if endpoint.startswith("api."):
        return Call(path, query=query, json=body)
    if endpoint == "web.admin_import_preview":
        return Call(path, form={"file": (_bytes_io(_import_csv()), "students.csv")})
    return Call(path, form=body or {})


def _bytes_io(text: str):
    import io

    return io.BytesIO(text.encode())


def _rule_args(app: Flask, endpoint: str) -> set[str]:
    return {arg for rule in app.url_map.iter_rules(endpoint) for arg in rule.arguments}


# --- sending and judging ---------------------------------------------------------------------


def send(w: World, key: tuple[str, ...], caller: str):
    endpoint, method, *_ = key
    call = call_for(w, key)
    if endpoint.startswith("api."):
        token = w.people[caller].token if caller != ANON else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return w.app.test_client().open(
            call.path, method=method, query_string=call.query, json=call.json, headers=headers
        )
    client = w.page_client(caller)
    if method == "GET":
        return client.get(call.path)
    data = {**(call.form or {}), "csrf_token": w.csrf(caller)}
    return client.open(call.path, method=method, data=data)


def outcome(resp) -> str:
    """What the answer says about the permission check."""
    if resp.status_code >= 500:
        return f"error {resp.status_code}"
    if resp.status_code in (301, 302, 303, 307, 308):
        # login_required sends the anonymous to /login?next=…; /logout to the plain /login.
        location = urlsplit(resp.headers.get("Location", ""))
        refused = location.path == "/login" and "next=" in location.query
        return "login" if refused else "allowed"
    if resp.status_code < 300 or resp.status_code in (400, 409):
        return "allowed"
    return str(resp.status_code)


def expected(key: tuple[str, ...], caller: str, allowed: frozenset[str]) -> str:
    if caller in allowed:
        return "allowed"
    if caller == ANON:
        return "401" if key[0].startswith("api.") else "login"
    return REFUSED_WITH.get(key, "403")


def fingerprint(app: Flask) -> tuple[int, ...]:
    """Enough of the database to see that a refused request changed nothing."""
    with app.app_context():
        out = (
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(Attendance)),
            db.session.scalar(select(func.count()).select_from(AttendanceChange)),
            db.session.scalar(select(func.count(User.id)).where(User.is_active.is_(True))),
        )
        db.session.remove()
    return out


# --- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(app: Flask) -> Iterator[World]:
    """One world for the module's reads and refusals (emptied when the module ends)."""
    empty_database(app)
    yield build_world(app)
    empty_database(app)


@pytest.fixture(autouse=True)
def _empty_database() -> Iterator[None]:
    """This module keeps its world between tests (``world`` empties the database)."""
    yield


def _route_keys(app: Flask) -> set[tuple[str, str]]:
    keys = set()
    for rule in app.url_map.iter_rules():
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            keys.add((rule.endpoint, method))
    return keys


def test_every_route_and_handler_has_a_row(app: Flask):
    rows = {key[:2] for key in MATRIX}
    missing = sorted(_route_keys(app) - rows)
    assert not missing, "\n".join(
        f"route {endpoint} {method} has no row in the access matrix" for endpoint, method in missing
    )
    assert sorted(rows - _route_keys(app)) == [], "rows for routes that do not exist"
    handlers = set(socketio.server.handlers["/"])
    assert sorted(handlers - set(SOCKET_MATRIX)) == [], "socket handlers with no row"
    assert sorted(set(SOCKET_MATRIX) - handlers) == []


@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda key: " ".join(key))
def test_route_allows_exactly_its_row(app: Flask, world: World, key):
    allowed = MATRIX[key]
    mutates = key[1] != "GET"
    before = fingerprint(app)
    got, want = {}, {}
    for caller in CALLERS:
        want[caller] = expected(key, caller, allowed)
        if mutates and caller in allowed:
            continue  # below, in a world of its own
        got[caller] = outcome(send(world, key, caller))
    assert fingerprint(app) == before, "a refused or read-only request changed the database"
    # The allowed callers of a change share a world of their own (one after the other: a
    # second "end" is a rule's 400, still past the permission check), except where the first
    # would leave nothing for the next (a deleted record, a removed enrolment).
    fresh = None
    for caller in CALLERS:
        if mutates and caller in allowed:
            if fresh is None or key[0] in ONE_SHOT:
                fresh = build_world(app)
            got[caller] = outcome(send(fresh, key, caller))
    wrong = [f"{c}: expected {want[c]}, got {got[c]}" for c in CALLERS if got[c] != want[c]]
    assert not wrong, f"{' '.join(key)}: " + "; ".join(wrong)


def _socket(app: Flask, person: Person | None):
    auth = {"token": person.token} if person else None
    return socketio.test_client(app, auth=auth)


@pytest.mark.parametrize("handler", sorted(SOCKET_MATRIX))
def test_socket_handler_allows_exactly_its_row(app: Flask, world: World, handler: str):
    allowed = SOCKET_MATRIX[handler]
    got = {}
    for caller in CALLERS:
        client = _socket(app, world.people.get(caller))
        if not client.is_connected():
            got[caller] = "refused"
            continue
        if handler == "join_session":
            ack = client.emit("join_session", {"session_id": str(world.active)}, callback=True)
            got[caller] = "allowed" if ack.get("ok") else "refused"
        elif handler == "leave_session":
            ack = client.emit("leave_session", {"session_id": str(world.active)}, callback=True)
            got[caller] = "allowed" if ack.get("ok") else "refused"
        elif handler == "disconnect":
            client.disconnect()
            got[caller] = "refused" if client.is_connected() else "allowed"
        else:
            got[caller] = "allowed"
        if client.is_connected():
            client.disconnect()
    assert got == {c: "allowed" if c in allowed else "refused" for c in CALLERS}


def test_the_matrix_covers_every_route_for_every_caller():
    """The figure docs/SECURITY.md quotes: rows × callers (plus socket handlers)."""
    assert len(CALLERS) == 7
    assert len(MATRIX) * len(CALLERS) >= 100 * 7
    assert all(set(allowed) <= set(CALLERS) for allowed in MATRIX.values())
    assert Role.ADMIN  # the roles of the contract: ADMIN (and superusers), TEACHER, STUDENT
