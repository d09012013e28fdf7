"""Benchmark: marking throughput and latency through the real app and database.

    .venv/bin/python bench/bench_marking.py [--students 500] [--marks 200]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_marking.py

Builds a class through the services in a fresh database (a temporary SQLite file, or a
fresh PostgreSQL database next to DATABASE_URL), then times with the Flask test client
(no network): single marks (POST /api/attendance/mark/), a bulk mark of the whole class, a
bulk-mark initialisation, and the session view. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from attendance_app import create_app
from attendance_app.config import normalise_database_url
from attendance_app.extensions import db


def fresh_database() -> tuple[str, callable]:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        folder = Path(tempfile.mkdtemp())
        # The file and its WAL go with their folder (they were left in /tmp, run after run).
        return f"sqlite:///{folder / 'bench.sqlite3'}", lambda: shutil.rmtree(folder, True)
    url = make_url(normalise_database_url(base))
    name = f"attendance_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url.set(database=name).render_as_string(hide_password=False), drop


def migrated_app():
    """The app on a fresh database (:func:`fresh_database`) with its schema migrated, and the
    function that drops that database: where every in-process benchmark starts."""
    url, drop = fresh_database()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SOCKETIO_ASYNC_MODE": "threading",
            "ENV_NAME": "test",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    from flask_migrate import upgrade

    try:
        with app.app_context():
            upgrade()
    except BaseException:
        drop()
        raise
    return app, drop


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--marks", type=int, default=200)
    args = parser.parse_args()

    app, drop = migrated_app()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.factories import make_admin, make_class, make_session, make_students

        admin = make_admin(app)
        students = make_students(app, args.students)
        klass = make_class(app, admin=admin, students=students)
        client = app.test_client()
        auth = {"Authorization": f"Bearer {klass.teacher.token}"}
        engine = url.split(":")[0]
        print(f"bench_marking on {engine}: class of {args.students} students")

        # Single marks, each its own request and transaction.
        session_id = make_session(app, klass)
        timings = []
        for student in students[: args.marks]:
            started = time.perf_counter()
            response = client.post(
                "/api/attendance/mark/",
                json={
                    "session_id": str(session_id),
                    "student_id": str(student.profile_id),
                    "status": "PRESENT",
                },
                headers=auth,
            )
            timings.append(time.perf_counter() - started)
            assert response.status_code == 201, response.json
        timings.sort()
        print(
            f"single mark x{len(timings)}: median {ms(statistics.median(timings))}, "
            f"p95 {ms(timings[int(len(timings) * 0.95) - 1])}, "
            f"{len(timings) / sum(timings):.0f} marks/s"
        )

        started = time.perf_counter()
        response = client.get(f"/api/attendance/session/{session_id}/", headers=auth)
        print(f"session view ({args.marks} records): {ms(time.perf_counter() - started)}")

        session_id = make_session(app, klass)
        records = [{"student_id": str(s.profile_id), "status": "ABSENT"} for s in students]
        started = time.perf_counter()
        response = client.post(
            "/api/attendance/mark/",
            json={"session_id": str(session_id), "records": records},
            headers=auth,
        )
        assert response.status_code == 201, response.json
        print(f"bulk mark of {len(records)}: {ms(time.perf_counter() - started)}")

        session_id = make_session(app, klass)
        started = time.perf_counter()
        response = client.post(
            "/api/attendance/bulk-mark/", json={"session_id": str(session_id)}, headers=auth
        )
        assert response.status_code == 201 and response.json["count"] == args.students
        print(f"bulk-mark initialisation of {args.students}: {ms(time.perf_counter() - started)}")
    finally:
        with app.app_context():
            db.engine.dispose()
        drop()


if __name__ == "__main__":
    main()
