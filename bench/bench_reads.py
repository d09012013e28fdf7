"""Benchmark: the heavy HTML reads in process (Flask test client, no network, no load).

    .venv/bin/python -m bench.bench_reads [--students 500] [--repeat 20]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.bench_reads

Builds, through the services, a class of ``--students`` with five ended lessons (mini-histories
to show) and a started session with every student marked, then times, logged in as the
teacher: the roster page, the roster grid (htmx), the "end session" page, and, as an admin, the
dashboard. Prints the median and p95 of ``--repeat`` requests of each, the median CPU time
of this process (the app and SQLite run in it; on a loaded machine it moves far less than the
wall time) and the statements each ran. Compare numbers within one run or between commits
on a quiet machine.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from sqlalchemy import event

from attendance_app.extensions import db
from bench.bench_marking import migrated_app, ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bench_reads")
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)

    app, drop = migrated_app()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        from tests.factories import (
            make_admin,
            make_class,
            make_session,
            make_students,
            mark_many,
        )
        from tests.web.conftest import login_as

        admin = make_admin(app)
        students = make_students(app, args.students)
        klass = make_class(app, admin=admin, students=students)
        statuses = ("PRESENT", "ABSENT", "LATE")
        for lesson in range(5):
            ended = make_session(app, klass)
            mark_many(
                app, klass, ended, [(s, statuses[(i + lesson) % 3]) for i, s in enumerate(students)]
            )
        session_id = make_session(app, klass)
        mark_many(app, klass, session_id, [(s, statuses[i % 3]) for i, s in enumerate(students)])

        teacher = app.test_client()
        assert login_as(teacher, klass.teacher).status_code == 302
        boss = app.test_client()
        assert login_as(boss, admin).status_code == 302
        pages = [
            ("roster page", teacher, f"/sessions/{session_id}"),
            ("roster grid (htmx)", teacher, f"/sessions/{session_id}/grid"),
            ("end-session page", teacher, f"/sessions/{session_id}/end"),
            ("dashboard (admin)", boss, "/"),
        ]
        print(f"bench_reads on {url.split(':')[0]}: class of {args.students}, 5 earlier lessons")
        for name, client, path in pages:
            with app.app_context():
                engine = db.engine
            statements = []

            def count(*_a, _s=statements):
                _s.append(1)

            event.listen(engine, "before_cursor_execute", count)
            timings, cpu = [], []
            for _ in range(args.repeat):
                started, cpu_started = time.perf_counter(), time.process_time()
                headers = {"HX-Request": "true"} if "grid" in path else {}
                response = client.get(path, headers=headers)
                timings.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                assert response.status_code == 200, (path, response.status_code)
            event.remove(engine, "before_cursor_execute", count)
            timings.sort()
            print(
                f"{name}: median {ms(statistics.median(timings))}, "
                f"p95 {ms(timings[math.ceil(len(timings) * 0.95) - 1])}, "
                f"CPU median {ms(statistics.median(cpu))}, "
                f"{len(statements) // args.repeat} statements"
            )
    finally:
        with app.app_context():
            db.engine.dispose()
        drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
