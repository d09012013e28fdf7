"""Schema-driven fuzzing of the JSON API: schemathesis reads /api/openapi.json and sends
requests generated from it to the app in-process (WSGI), with a real database and an
ADMIN's real token. No answer may be a 500, a status code the spec does not list, or a body
outside the schema the spec gives for it.

Bounded for CI: ``FUZZ_EXAMPLES`` examples per operation (the count of requests sent is
printed at the end; docs/SECURITY.md quotes it).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from attendance_app.api.openapi import build_spec
from tests.factories import make_admin, make_class, make_session, mark

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
#: Requests sent, for the report (printed by ``test_fuzzing_sent_requests``).
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
    mark(app, klass, session_id, klass.students[0], "PRESENT")
    yield admin
    empty_database(app)


@pytest.fixture(autouse=True)
def _empty_database():
    """The fuzzing world stays for the module (``fuzz_world`` empties the database)."""
    yield


def _spec() -> dict:
    """The spec as the app serves it (built from the routes' docstrings; no database used)."""
    from attendance_app import create_app
    from tests.conftest import TEST_SETTINGS

    spec_app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return build_spec(spec_app)


schema = schemathesis.openapi.from_dict(_spec())


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_request_as_documented(case, app, fuzz_world):
    # Revoking the token would end the run's credentials: that operation is exercised
    # elsewhere (tests/api/test_auth_api.py).
    if case.method == "DELETE" and case.path == "/api/auth/token/":
        return
    SENT.append(f"{case.method} {case.path}")
    case.call_and_validate(
        app=app,
        headers={"Authorization": f"Bearer {fuzz_world.token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def test_fuzzing_sent_requests(request):
    """Runs after the fuzzing above (same module): how many requests it sent."""
    print(f"\nfuzzed requests: {len(SENT)}")
