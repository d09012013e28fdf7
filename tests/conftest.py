"""Fixtures: a real database (SQLite file, or a fresh PostgreSQL database when DATABASE_URL
points at PostgreSQL) built by the migrations, emptied after every test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from attendance_app import create_app
from attendance_app.config import normalise_database_url
from attendance_app.extensions import db
from tests import factories

TEST_SETTINGS = {
    "ENV_NAME": "test",
    "TESTING": True,
    "SECRET_KEY": "test-secret",
    "SOCKETIO_ASYNC_MODE": "threading",
    # Fast hashing in tests only; production uses scrypt (config.py).
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "SOCKETIO_MESSAGE_QUEUE": None,
    # No email unless a test sets up its own SMTP server (tests/services/test_outbox.py).
    "MAIL_SERVER": None,
    "WEEKLY_SUMMARY": "off",
    "GUARDIAN_DIGEST_TIME": "off",
}


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql"))


#: Fixtures that open the run's database; a ``database_independent`` test may use none of them.
DATABASE_FIXTURES = ("app", "database_url")


def pytest_collection_modifyitems(config, items):
    """Tests of SQLite's own settings (those using the ``sqlite_only`` fixture) run in the
    SQLite pass only, tests of PostgreSQL behaviour (``postgres_only``) in the PostgreSQL
    pass only; in the other pass they are deselected, not skipped.

    A test marked ``database_independent`` must not use the run's database (no fixture that
    opens it), so it runs the same whatever the run's database is: .ci/run runs it once."""
    for item in items:
        if item.get_closest_marker("database_independent"):
            used = [name for name in DATABASE_FIXTURES if name in item.fixturenames]
            if used:
                raise pytest.UsageError(
                    f"{item.nodeid} is marked database_independent but uses {', '.join(used)}"
                )
    other = "sqlite_only" if _is_postgres(os.environ.get("DATABASE_URL", "")) else "postgres_only"
    kept, dropped = [], []
    for item in items:
        (dropped if other in getattr(item, "fixturenames", ()) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """A database of our own for this test run (and xdist worker)."""
    base = os.environ.get("DATABASE_URL", "")
    if not _is_postgres(base):
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")
        return
    url = make_url(normalise_database_url(base))
    name = f"attendance_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A commit returns before its WAL reaches the disk (the test servers' sessions too:
        # a database's setting). What other connections see, and when, is unchanged; only a
        # crash of the machine's PostgreSQL could lose the last commits of a throwaway
        # database. Every commit waiting on an fsync cost the PostgreSQL pass ~15% of its time.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit TO off'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    """One app for the run; its schema built by the Alembic migrations, as in production."""
    from flask_migrate import upgrade

    application = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": database_url})
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _empty_database(request) -> Iterator[None]:
    """Every test starts from an empty database (rows deleted after each test) and with no
    failed logins counted (the test client always comes from 127.0.0.1). A
    ``database_independent`` test does not open the run's database, so has none to empty."""
    if request.node.get_closest_marker("database_independent"):
        yield
        return
    app = request.getfixturevalue("app")
    yield
    empty_database(app)


def empty_database(app: Flask) -> None:
    """Delete every row and forget failed logins."""
    with app.app_context():
        from attendance_app.services.school.throttle import throttle

        throttle().reset()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        # DELETE, children first: for the few rows a test makes it is much faster than
        # TRUNCATE, which rewrites every table's files on PostgreSQL (~0.2 s a test).
        with db.engine.begin() as conn:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """An app context for tests that call services directly (not with the HTTP client)."""
    with app.app_context():
        yield
        db.session.remove()


class ApiClient:
    """The test client with a token: ``api.post("/api/...", json={...})``."""

    def __init__(self, client: FlaskClient, token: str | None):
        self.client = client
        self.token = token

    def _headers(self, headers: dict | None) -> dict:
        out = dict(headers or {})
        if self.token is not None:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    def __getattr__(self, method: str):
        if method not in {"get", "post", "put", "patch", "delete", "open"}:
            raise AttributeError(method)
        call = getattr(self.client, method)

        def send(path: str, headers: dict | None = None, **kw):
            return call(path, headers=self._headers(headers), **kw)

        return send


@pytest.fixture
def api_as(app: Flask):
    """``api_as(person)`` → an ApiClient authenticated with that person's token."""

    def make(person) -> ApiClient:
        return ApiClient(app.test_client(), getattr(person, "token", person))

    return make


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    @property
    def besides_authentication(self) -> int:
        """The statements other than a token's lookup, which a request makes or not depending
        on whether its connection found the token valid since the last write (SQLite:
        ``services.school.tokens._Seen``)."""
        return sum(
            "FROM api_tokens" not in s and "JOIN api_tokens" not in s for s in self.statements
        )


@pytest.fixture
def count_queries(app: Flask):
    """``with count_queries() as q: ...`` then ``q.count`` SQL statements were executed."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        counter = QueryCounter()

        def before(conn, cursor, statement, parameters, context, executemany):
            counter.statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


# --- shared schools, built through tests/factories.py (the service layer) -------------------


@pytest.fixture
def test101(app: Flask) -> factories.Test101:
    """Ada Admin and the contract's "TEST101 Section A" taught by Tina Lee: John Doe (S12345),
    Jane Roe (S12346), Ken Ito (S12347) and Lia Ong (S12348), each with a token."""
    return factories.make_test101_class(app)


@pytest.fixture
def test101_session(app: Flask, test101: factories.Test101) -> uuid.UUID:
    """An ACTIVE session of ``test101``'s class, started now, nobody marked."""
    return factories.make_session(app, test101.klass)


@pytest.fixture
def classroom(app: Flask) -> factories.Classroom:
    """An admin, a teacher with a class of three (Adams, Baker, Clark; no tokens), another
    teacher who teaches nothing and a student in no class."""
    return factories.make_classroom(app)


@pytest.fixture
def two_teacher_school(app: Flask) -> factories.TwoTeacherSchool:
    """An admin; MATH101 "Algebra A" taught by Tina Lee to Zed Baker, Ann Baker (S10002) and
    Cara Adams; HIST101 "History B" taught by Hal Ng to Ann, Cara and Olga Other. Everyone has
    a token; no sessions."""
    return factories.make_two_teacher_school(app)
