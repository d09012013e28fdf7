"""Migrations that move data, run on a database of their own from an older revision."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from attendance_app import create_app
from attendance_app.extensions import db
from attendance_app.services.school.people import name_search_key
from tests.conftest import TEST_SETTINGS


@pytest.fixture
def empty_database(database_url: str, tmp_path) -> Iterator[str]:
    """A new, empty database beside the test run's (a file for SQLite, a database for
    PostgreSQL), dropped afterwards."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrating.sqlite3'}"
        return
    url = make_url(database_url)
    name = f"{url.database}_m{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


CREATED = datetime(2025, 9, 1, 8, 0)
USERS = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("first_name", sa.String()),
    sa.column("last_name", sa.String()),
    sa.column("role", sa.String()),
    sa.column("is_active", sa.Boolean()),
    sa.column("session_version", sa.Integer()),
    sa.column("created_at", sa.DateTime()),
    sa.column("updated_at", sa.DateTime()),
)


def test_people_who_existed_before_the_search_key_are_found_after_it(empty_database):
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": empty_database})
    people = {uuid.uuid4(): ("Zoë", "Ñúñez"), uuid.uuid4(): ("Jamal", "Silva")}
    with app.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as conn:
            conn.execute(
                USERS.insert(),
                [
                    {
                        "id": uid,
                        "email": f"{last.lower()}@school.test",
                        "password_hash": "x",
                        "first_name": first,
                        "last_name": last,
                        "role": "TEACHER",
                        "is_active": True,
                        "session_version": 1,
                        "created_at": CREATED,
                        "updated_at": CREATED,
                    }
                    for uid, (first, last) in people.items()
                ],
            )
        upgrade()
        with db.engine.connect() as conn:
            keys = dict(conn.execute(sa.text("SELECT id, name_search FROM users")).all())
        db.engine.dispose()

    assert {uuid.UUID(str(k)): v for k, v in keys.items()} == {
        uid: name_search_key(first, last) for uid, (first, last) in people.items()
    }
