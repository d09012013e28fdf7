"""Schema-driven fuzzing of the JSON API: schemathesis reads /api/openapi.json and sends
requests generated from it to the app in-process (WSGI), with a real database and an
ADMIN's real token. No answer may be a 500, a status code the spec does not list, or a body
outside the schema the spec gives for it.

Bounded for CI: ``FUZZ_EXAMPLES`` examples per operation (the count of requests sent is
printed at the end; docs/SECURITY.md quotes it).
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from attendance_app.api.openapi import build_spec
from tests.factories import make_admin, make_class, make_session, mark

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
#: Requests sent, for the report (printed at the end of the run).
SENT: list[str] = []


@pytest.fixture(scope="module")
def fuzz_world(app):
    """An admin (whose token signs every request) and a class with sessions and a record, so
    generated ids sometimes hit nothing and the fixed ones exist. Emptied at the end."""
    from tests.conftest import empty_database

    empty_database(app)
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2)
    session_id = make_session(app, klass)
    record = mark(app, klass, session_id, klass.students[0], "PRESENT")
    ids = {
        "session_id": str(session_id),
        "attendance_id": str(record),
        "student_id": str(klass.students[0].profile_id),
        "class_id": str(klass.id),
    }
    yield SimpleNamespace(admin=admin, ids=ids)
    empty_database(app)


@pytest.fixture(autouse=True)
def _empty_database():
    """The fuzzing world stays for the module (``fuzz_world`` empties the database)."""
    yield


def _operations(app):
    """Every operation of the spec the app serves (read from the app, not a second one:
    another create_app would give the shared Socket.IO server new, handler-less state)."""
    schema = schemathesis.openapi.from_dict(build_spec(app))
    for result in schema.get_all_operations():
        yield result.ok()


def _strategy(operation, ids: dict[str, str]):
    """Valid requests and invalid ones (wrong types, missing fields, bad values), and valid
    ones about things that exist (so success bodies are checked too, not only 404s)."""
    known = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    if known:
        strategies.append(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=known)
        )
    return st.one_of(*strategies)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_the_api_answers_every_generated_request_as_documented(app, fuzz_world):
    headers = {"Authorization": f"Bearer {fuzz_world.admin.token}"}
    failures = []
    for operation in _operations(app):
        # Revoking the token would end the run's credentials (tests/api/test_auth_api.py).
        if operation.method.upper() == "DELETE" and operation.path == "/api/auth/token/":
            continue

        @given(case=_strategy(operation, fuzz_world.ids))
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            SENT.append(f"{case.method} {case.path}")
            case.call_and_validate(app=app, headers=headers, checks=CHECKS)

        try:
            fuzz()
        except Exception as err:  # noqa: BLE001 - every operation's failure is reported
            failures.append(f"{operation.method.upper()} {operation.path}: {err}")
    print(f"\nfuzzed requests: {len(SENT)}")
    assert not failures, "\n\n".join(failures)
