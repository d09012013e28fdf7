"""From a mark's request to its ``statistics`` emit, in process, per checkout: where the live
fan-out's server-side latency goes.

    .venv/bin/python -m bench.mark_to_emit [--marks 30] [--rounds 6] [ROOT ...]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.mark_to_emit

For each checkout ROOT (default: this one; an old one made with ``git archive main | tar -x
-C /tmp/old``), in a fresh interpreter so each imports its own code: a fresh database (a
SQLite file, or a PostgreSQL database next to ``DATABASE_URL``, dropped at the end), a
teacher with a token, a class of ``--marks`` students and, per round, a new ACTIVE session
with one Socket.IO listener joined to it (Flask-SocketIO's test client, so the broadcast is
not skipped as unwatched). Then every student is marked through ``POST
/api/attendance/mark/`` (Flask test client, token), and per mark the bench notes the time
(wall, ``perf_counter``, and CPU, ``process_time``) from the request's start to the moment
the ``statistics`` event is handed to the Socket.IO server, the ``attendance`` event, and
the response's end; and
each SQL statement's start offset and duration (SQLAlchemy cursor events), keyed by its
first words. Prints medians and p90s over all rounds (the first round is a warm-up, left
out). No network and no listener processes: what the POST costs the server before its
listeners can be told. Run the checkouts alternately, twice at least.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import cProfile, logging, os, pstats, re, statistics, sys, tempfile, time, uuid
from collections import defaultdict
root, marks, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, root)
os.chdir(root)
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from attendance_app import create_app
from attendance_app.extensions import db, socketio
from tests import factories
from tests.conftest import TEST_SETTINGS

base = os.environ.get("DATABASE_URL", "")
drop = lambda: None
if base.startswith("postgres"):
    from attendance_app.config import normalise_database_url
    url = make_url(normalise_database_url(base))
    name = f"attendance_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    def drop():
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    url = url.set(database=name).render_as_string(hide_password=False)
else:
    url = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="mark-to-emit-"), "db.sqlite3")
try:
    app = create_app({**TEST_SETTINGS, "TESTING": False, "SQLALCHEMY_DATABASE_URI": url})
    logging.disable(logging.INFO)
    with app.app_context():
        upgrade()
    admin = factories.make_admin(app)
    teacher = factories.make_teacher(app)
    students = factories.make_students(app, marks)
    klass = factories.make_class(app, admin=admin, teacher=teacher, students=students)
    bearer = {"Authorization": f"Bearer {teacher.token}"}
    api = app.test_client()

    now = {"t0": 0.0, "c0": 0.0}
    emits, statements = [], []
    server_emit = socketio.server.emit
    counting = {"profile": None}
    records_at = []
    def timed_emit(event_name, *args, **kwargs):
        if event_name == "attendance" and now["t0"]:
            records_at.append((time.perf_counter() - now["t0"], time.process_time() - now["c0"]))
        if event_name == "statistics":
            emits.append((time.perf_counter() - now["t0"], time.process_time() - now["c0"]))
            if counting["profile"] is not None:
                counting["profile"].disable()
        return server_emit(event_name, *args, **kwargs)
    socketio.server.emit = timed_emit

    def words(statement):
        return " ".join(re.sub(r"\s+", " ", statement).strip().split(" ")[:4])[:48]
    with app.app_context():
        engine = db.engine
    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t"] = time.perf_counter()
    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        start = conn.info.pop("bench_t", None)
        if start is not None and now["t0"]:
            statements.append((words(statement), start - now["t0"], time.perf_counter() - start))

    from sqlalchemy.orm import Session as OrmSession
    @event.listens_for(engine, "commit")
    def _commit(conn):
        if now["t0"]:
            statements.append(("(COMMIT called)", time.perf_counter() - now["t0"], 0.0))
    @event.listens_for(OrmSession, "after_commit")
    def _committed(session):
        if now["t0"]:
            statements.append(("(committed)", time.perf_counter() - now["t0"], 0.0))

    profile = cProfile.Profile() if os.environ.get("MARK_TO_EMIT_PROFILE") else None
    to_emit, to_emit_cpu, to_end, to_end_cpu, calls, all_calls = [], [], [], [], [], []
    to_records, to_records_cpu = [], []
    per_statement = defaultdict(list)
    for rnd in range(rounds):
        session_id = factories.make_session(app, klass)
        listener = socketio.test_client(app, auth={"token": teacher.token})
        assert listener.emit("join_session", {"session_id": str(session_id)}, callback=True)["ok"]
        for student in students:
            body = {"session_id": str(session_id), "student_id": str(student.profile_id),
                    "status": "PRESENT"}
            emits.clear(); statements.clear(); records_at.clear()
            now["t0"], now["c0"] = time.perf_counter(), time.process_time()
            if rnd == 1:  # Python calls to the emit (cProfile's count: exact, whatever the load)
                counting["profile"] = cProfile.Profile()
                counting["profile"].enable()
            whole = cProfile.Profile() if rnd == 2 else None  # and to the response's end
            if whole:
                whole.enable()
            if profile and rnd == rounds - 1:
                profile.enable()
            response = api.post("/api/attendance/mark/", json=body, headers=bearer)
            if profile:
                profile.disable()
            end, end_cpu = time.perf_counter() - now["t0"], time.process_time() - now["c0"]
            now["t0"] = 0.0
            if whole:
                whole.disable()
                all_calls.append(pstats.Stats(whole).total_calls)
            if counting["profile"] is not None:
                counting["profile"].disable()
                calls.append(pstats.Stats(counting["profile"]).total_calls)
                counting["profile"] = None
            assert response.status_code == 201, response.get_data(as_text=True)
            assert len(emits) == 1, emits
            if rnd == 0:
                continue
            to_emit.append(emits[0][0]); to_emit_cpu.append(emits[0][1])
            to_end.append(end); to_end_cpu.append(end_cpu)
            assert len(records_at) == 1, records_at
            to_records.append(records_at[0][0]); to_records_cpu.append(records_at[0][1])
            for i, (label, start, took) in enumerate(statements):
                per_statement[(i, label)].append((start, took, start < emits[0][0]))
        listener.disconnect()
        factories.end_session(app, klass, session_id)

    def q(values, p):
        values = sorted(values)
        return values[min(len(values) - 1, int(p * len(values)))] * 1000
    n = len(to_emit)
    def row(label, values, scale=1000):
        print(f"| request start → {label} | {q(values, .5) * scale / 1000:.2f} "
              f"| {q(values, .9) * scale / 1000:.2f} |")
    row("statistics emit, Python calls", calls, 1)
    row("response end, Python calls", all_calls, 1)
    row("statistics emit, wall ms", to_emit)
    row("statistics emit, CPU ms", to_emit_cpu)
    row("attendance emit, wall ms", to_records)
    row("attendance emit, CPU ms", to_records_cpu)
    row("response end, wall ms", to_end)
    row("response end, CPU ms", to_end_cpu)
    print(f"\n{n} marks. Statements per mark (start offset / duration, ms, medians):\n")
    print("| statement | per mark | starts at | takes | before emit |")
    print("|---|---|---|---|---|")
    for (_, label), rows in sorted(per_statement.items()):
        before = sum(r[2] for r in rows) / len(rows)
        starts, takes = (statistics.median(r[i] for r in rows) * 1000 for i in (0, 1))
        print(f"| {label} | {len(rows) / n:.1f} | {starts:.2f} | {takes:.3f} | {before:.0%} |")
    if profile:
        profile.dump_stats(os.environ["MARK_TO_EMIT_PROFILE"])
    with app.app_context():
        db.engine.dispose()
finally:
    drop()
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.mark_to_emit", description=__doc__)
    parser.add_argument("--marks", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("roots", nargs="*", default=[str(ROOT)])
    args = parser.parse_args(argv)
    for root in args.roots:
        print(f"\n{root}\n\n| ms | p50 | p90 |\n|---|---|---|", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(Path(root).resolve()),
                str(args.marks),
                str(args.rounds),
            ],
            cwd=root,
            check=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
