"""Benchmark: the two bulk paths, N runs each, median and p95.

    .venv/bin/python -m bench.bench_bulk [--students 500] [--runs 20] [--profile DIR]
        [--listener] [--calls N] [--settle] [--vacuum] [--pg-runs]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.bench_bulk

Builds one class through the services in a fresh database (a temporary SQLite file, or a
fresh PostgreSQL database next to DATABASE_URL), then, with the Flask test client (no
network), times ``--runs`` times each, every run on a fresh ACTIVE session of that class:

- a bulk mark of the whole class (POST /api/attendance/mark/ with ``records``, a mix of
  PRESENT, ABSENT and LATE, some with notes);
- a bulk-mark initialisation (POST /api/attendance/bulk-mark/) of the whole class.

Before timing, ``--history`` ended sessions of the class are marked (the alert check reads
them); each timed session is deleted after its run (``--keep`` keeps them), so every run
meets the same data. Prints per path: median, p95, min, the statements one request ran and
its CPU time (on SQLite the database's work is in it; on PostgreSQL it is not: there the
server's CPU is printed beside it, the time the bench database's backends ran, read from
``/proc`` when PostgreSQL runs on this machine — less sensitive to a shared machine's
load than wall time).
``--listener``: the class's teacher is connected over Socket.IO (flask_socketio's test client:
the server's own rooms, emit and packet encoding, packets handed to the client in process)
and joined to each timed session's room before its request, as in class: the request then
includes the live broadcast (statistics read before the commit, the ``attendance`` event of
every record after it). Each run checks the broadcast carried every record.
``--calls N``: N more requests per path under cProfile, their Python calls per request
(deterministic, unlike times on a shared machine).
``--settle`` applies the production server's garbage-collector settings
(``attendance_app.heap.settle``: the start-up heap frozen, young collections less often)
once the class is built, as ``server.py`` does before serving; without it a full collection
of the whole heap (~100–250 ms here) can land in a timed run. Either way each path's line
says how many collections of the oldest generation ran during its timed runs.
``--vacuum`` (PostgreSQL) runs ``VACUUM (ANALYZE)`` on the bench database after each run's
session is deleted, outside the timing: the next run meets the same data with no dead rows
and current planner statistics, as on a server whose autovacuum keeps up (this machine's
PostgreSQL runs with ``autovacuum = off``, so without it the deleted rows pile up, ~1,000 a
run, and the tables are never analysed). ``--pg-runs`` (PostgreSQL) prints every run: wall
and server CPU, its two slowest statements, the dead rows it met, whether autovacuum ran on
the bench database or the server checkpointed meanwhile, and the CPU a fixed piece of Python
took just before it (``machine_speed``: on a shared machine the same work's CPU time swings
with what runs beside it, the server's too).
``--profile DIR`` also writes a cProfile of every path's runs (``DIR/bulk_mark.prof`` …;
read with ``python -m pstats``). Session creation is outside the timings.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, text

from attendance_app.database import write_gate
from attendance_app.extensions import db
from bench.bench_marking import migrated_app

STATUSES = ("PRESENT", "ABSENT", "LATE")
#: SQLite's default page size, the bench database's.
PAGE_SIZE = 4096


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def p95(values: list[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]


def backends_cpu(pids: list[int]) -> float | None:
    """The CPU seconds the processes ``pids`` have run, from ``/proc/PID/schedstat`` (its
    first field, in nanoseconds: ``/proc/PID/stat``'s ticks are 10 ms); None when one cannot
    be read (PostgreSQL on another machine) or there is none (SQLite)."""
    if not pids:
        return None
    total = 0
    try:
        for pid in pids:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return total / 1e9


def wal_state(database: str) -> tuple[int, int, int] | None:
    """(salt, frames in the WAL, frames checkpointed into the database) from the SQLite
    file's wal-index (``-shm``: the first header copy's salt-1 and mxFrame, then the
    checkpoint info's nBackfill, native byte order), or None without one. Deterministic
    where wall time is not: a request that checkpointed moved nBackfill."""
    try:
        header = Path(f"{database}-shm").read_bytes()[:100]
    except OSError:
        return None
    if len(header) < 100:
        return None
    salt, frames, backfilled = (
        int.from_bytes(header[32:36], sys.byteorder),
        int.from_bytes(header[16:20], sys.byteorder),
        int.from_bytes(header[96:100], sys.byteorder),
    )
    return salt, frames, backfilled


def thread_written() -> int:
    """Bytes this thread has handed to write system calls (``/proc/thread-self/io``'s
    wchar): a request that copied the WAL into the database itself wrote ~4 MB more than
    its own ~1 MB of WAL frames; a checkpoint in another thread is not counted."""
    try:
        for line in Path("/proc/thread-self/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def checkpointed(before: tuple[int, int, int], after: tuple[int, int, int]) -> bool:
    """Whether a checkpoint copied frames into the database between two ``wal_state``s
    (a restarted WAL, new salt, starts with none copied)."""
    if before[0] == after[0]:
        return after[2] > before[2]
    return after[2] > 0


def machine_speed() -> float:
    """The CPU seconds a fixed piece of Python takes now (~5 ms on a quiet machine): on a
    shared machine the same work's CPU time swings with what runs beside it, the server's
    too, so a run's server CPU is read beside this."""
    started = time.thread_time()
    sum(i * i for i in range(100_000))
    return time.thread_time() - started


def bulk_class(app: Any, students: int, history: int) -> tuple[Any, list[Any]]:
    """The benches' class: ``students`` students and ``history`` ended sessions before the
    timed ones (every tenth student absent, a different tenth each time), so the alert check
    reads a history; built through the tests' factories (bench.bulk_pg_costs builds the same)."""
    from tests.factories import (
        end_session,
        make_admin,
        make_class,
        make_session,
        make_students,
        mark_many,
    )

    admin = make_admin(app)
    pupils = make_students(app, students)
    klass = make_class(app, admin=admin, students=pupils)
    for h in range(history):
        marks = [(s, "PRESENT" if (i + h) % 10 else "ABSENT") for i, s in enumerate(pupils)]
        session_id = make_session(app, klass)
        mark_many(app, klass, session_id, marks)
        end_session(app, klass, session_id)
    return klass, pupils


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per path first")
    parser.add_argument(
        "--history",
        type=int,
        default=10,
        help="ended sessions of the class marked before timing (90%% present), which the "
        "alert check reads",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each timed session (the history grows run by run) instead of deleting it",
    )
    parser.add_argument(
        "--vacuum",
        action="store_true",
        help="PostgreSQL: VACUUM (ANALYZE) the bench database after each run's session is "
        "deleted, outside the timing, so the next run does not pay for the deletion",
    )
    parser.add_argument("--profile", type=Path, default=None, help="write cProfiles here")
    parser.add_argument(
        "--listener",
        action="store_true",
        help="the teacher listens on Socket.IO in each session's room (the live broadcast)",
    )
    parser.add_argument(
        "--calls", type=int, default=0, help="N more requests per path: Python calls per request"
    )
    parser.add_argument(
        "--statements", action="store_true", help="print each statement's time (last run)"
    )
    parser.add_argument(
        "--wal",
        action="store_true",
        help="SQLite: each run's wall time, the WAL frames it appended, the bytes its thread "
        "wrote and whether a checkpoint ran meanwhile or in the request itself",
    )
    parser.add_argument(
        "--pg-runs",
        action="store_true",
        help="PostgreSQL: each run's wall and server CPU, its two slowest statements, the "
        "dead rows the run met, autovacuum workers on the bench database and checkpoints",
    )
    parser.add_argument(
        "--settle",
        action="store_true",
        help="the production server's garbage-collector settings (attendance_app.heap.settle)",
    )
    args = parser.parse_args()

    app, drop = migrated_app()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        from tests.factories import make_session

        klass, students = bulk_class(app, args.students, args.history)
        client = app.test_client()
        auth = {"Authorization": f"Bearer {klass.teacher.token}"}
        listener = None
        if args.listener:
            from attendance_app.extensions import socketio

            listener = socketio.test_client(app, auth={"token": klass.teacher.token})
            assert listener.is_connected()
        statements = [0]
        timed: list[tuple[float, str]] = []
        with app.app_context():

            @event.listens_for(db.engine, "before_cursor_execute")
            def count(conn, _cursor, statement, *_a: object) -> None:
                statements[0] += 1
                conn.info["bench_started"] = time.perf_counter()

            @event.listens_for(db.engine, "after_cursor_execute")
            def took(conn, _cursor, statement, *_a: object) -> None:
                timed.append((time.perf_counter() - conn.info["bench_started"], statement))

        engine = url.split(":")[0]
        database = url.removeprefix("sqlite:///")
        print(
            f"bench_bulk on {engine}: class of {args.students}, {args.history} earlier sessions, "
            f"{args.runs} runs per path"
            + (", sessions kept" if args.keep else ", each run's session deleted after it")
            + (", the teacher listening on Socket.IO" if listener else "")
        )

        def new_session() -> str:
            """A fresh ACTIVE session of the class, the listener (if any) in its room."""
            session_id = str(make_session(app, klass))
            if listener is not None:
                listener.get_received()
                ack = listener.emit("join_session", {"session_id": session_id}, callback=True)
                assert ack["ok"], ack
                listener.get_received()
            return session_id

        def heard(session_id: str) -> None:
            """The listener got the request's broadcast: statistics, then every record."""
            if listener is None:
                return
            received = [
                message
                for message in listener.get_received()
                if message["name"] in ("statistics", "attendance")  # not presence
            ]
            names = [message["name"] for message in received]
            assert names == ["statistics", "attendance"], names
            assert len(received[1]["args"][0]["records"]) == len(students)
            listener.emit("leave_session", {"session_id": session_id})
            listener.get_received()

        def drop_session(session_id: str) -> None:
            """Every run meets the same data: the session and its records go (CASCADE)."""
            if args.keep:
                return
            with app.app_context():
                # As the app's own writers do, through the process's SQLite write gate (a
                # writer outside it would keep the WAL from restarting after checkpoints).
                gate = write_gate(db.engine) or contextlib.nullcontext()
                with gate:
                    db.session.execute(
                        text("DELETE FROM class_sessions WHERE id = :id"),
                        {"id": uuid.UUID(session_id).hex if engine == "sqlite" else session_id},
                    )
                    db.session.commit()
                db.session.remove()
                if args.vacuum and engine != "sqlite":
                    with db.engine.connect() as connection:
                        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                            text("VACUUM (ANALYZE)")
                        )

        records = []
        for i, s in enumerate(students):
            record = {"student_id": str(s.profile_id), "status": STATUSES[i % 3]}
            if i % 10 == 0:
                record["notes"] = f"note {i}"
            records.append(record)

        def bulk_mark(session_id: str) -> None:
            response = client.post(
                "/api/attendance/mark/",
                json={"session_id": session_id, "records": records},
                headers=auth,
            )
            assert response.status_code == 201, response.json
            assert response.json["count"] == len(students)

        def initialise(session_id: str) -> None:
            response = client.post(
                "/api/attendance/bulk-mark/", json={"session_id": session_id}, headers=auth
            )
            assert response.status_code == 201, response.json
            assert response.json["count"] == len(students)

        if args.settle:
            from attendance_app import heap

            heap.settle()
        full_collections = [0]

        def on_gc(phase: str, info: dict) -> None:
            if phase == "stop" and info["generation"] == 2:
                full_collections[0] += 1

        gc.callbacks.append(on_gc)

        def backend_pids() -> list[int]:
            """The bench database's PostgreSQL client backends (not its autovacuum workers,
            busy after each run's deletion); none on SQLite."""
            if engine == "sqlite":
                return []
            with app.app_context():
                pids = list(
                    db.session.scalars(
                        text(
                            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                            " AND backend_type = 'client backend'"
                        )
                    )
                )
                db.session.remove()
            return pids

        def pg_state() -> tuple[int, int, int, list[int]]:
            """(dead rows in the tables a run writes, autovacuums and autoanalyzes of them so
            far, checkpoints so far (the server's, every database's), the autovacuum workers
            on the bench database now), read outside the timing."""
            with app.app_context():
                dead, autos = db.session.execute(
                    text(
                        "SELECT sum(n_dead_tup), sum(autovacuum_count + autoanalyze_count)"
                        " FROM pg_stat_user_tables WHERE relname IN"
                        " ('attendance', 'attendance_changes', 'class_sessions')"
                    )
                ).one()
                checkpoints = db.session.scalar(
                    text("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
                )
                workers = list(
                    db.session.scalars(
                        text(
                            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                            " AND backend_type = 'autovacuum worker'"
                        )
                    )
                )
                db.session.remove()
            return int(dead), int(autos), int(checkpoints), workers

        paths: list[tuple[str, Callable[[str], None]]] = [
            (f"bulk mark of {args.students}", bulk_mark),
            (f"bulk-mark initialisation of {args.students}", initialise),
        ]
        for label, run in paths:
            for _ in range(args.warmup):
                session_id = new_session()
                run(session_id)
                heard(session_id)
                drop_session(session_id)
            walls, cpus, counts, server_cpus = [], [], [], []
            thread_cpus: list[float] = []
            wal_runs: list[tuple[float, int, bool, int]] = []
            pg_runs: list[str] = []
            collections = 0
            shown: list[tuple[float, str]] = []
            profiler = cProfile.Profile() if args.profile else None
            for _ in range(args.runs):
                session_id = new_session()
                pids = backend_pids()
                pg_runs_on = args.pg_runs and engine != "sqlite"
                state = pg_state() if pg_runs_on else None
                speed = machine_speed() if pg_runs_on else 0.0
                statements[0] = 0
                timed.clear()
                if profiler:
                    profiler.enable()
                before = full_collections[0]
                server = backends_cpu(pids)
                wal_before = wal_state(database) if args.wal else None
                written = thread_written()
                own = time.thread_time()
                cpu, wall = time.process_time(), time.perf_counter()
                run(session_id)
                walls.append(time.perf_counter() - wall)
                written = thread_written() - written
                wal_after = wal_state(database) if args.wal else None
                if wal_before and wal_after:
                    appended = wal_after[1] - wal_before[1] if wal_after[0] == wal_before[0] else -1
                    wal_runs.append(
                        (walls[-1], appended, checkpointed(wal_before, wal_after), written)
                    )
                cpus.append(time.process_time() - cpu)
                thread_cpus.append(time.thread_time() - own)
                collections += full_collections[0] - before
                after = backends_cpu(pids)
                if server is not None and after is not None:
                    server_cpus.append(after - server)
                if profiler:
                    profiler.disable()
                counts.append(statements[0])
                shown = list(timed)
                if state is not None:
                    _dead, autos, checkpoints, workers = pg_state()
                    slowest = sorted(shown, reverse=True)[:2]
                    pg_runs.append(
                        f"{walls[-1] * 1000:.0f}/"
                        + (f"{(after - server) * 1000:.0f}" if server and after else "?")
                        + f" [{' '.join(f'{t * 1000:.0f}' for t, _s in slowest)}]"
                        + f" dead {state[0]} speed {speed * 1000:.1f}"
                        + (f" autovac+{autos - state[1]}" if autos > state[1] else "")
                        + (" AV" if state[3] or workers else "")
                        + (f" ckpt+{checkpoints - state[2]}" if checkpoints > state[2] else "")
                    )
                heard(session_id)
                drop_session(session_id)
            calls = ""
            if args.calls:
                counting = cProfile.Profile()
                for _ in range(args.calls):
                    session_id = new_session()
                    counting.enable()
                    run(session_id)
                    counting.disable()
                    heard(session_id)
                    drop_session(session_id)
                total = pstats.Stats(counting).total_calls  # type: ignore[attr-defined]
                calls = f"; {total // args.calls:,} Python calls per request"
            print(
                f"{label}: median {ms(statistics.median(walls))}, p95 {ms(p95(walls))}, "
                f"min {ms(min(walls))}; CPU median {ms(statistics.median(cpus))}"
                f" (the request's thread {ms(statistics.median(thread_cpus))})"
                + (
                    f" (server CPU median {ms(statistics.median(server_cpus))},"
                    f" p95 {ms(p95(server_cpus))})"
                    if server_cpus
                    else ""
                )
                + f"; {max(counts)} statements; {collections} full collections{calls}"
            )
            if wal_runs:
                # The request's thread wrote its frames (page + 24-byte header each) and,
                # if it checkpointed, pages into the database too: past twice its frames.
                in_request = [n >= 0 and b > 2 * n * (PAGE_SIZE + 24) for _w, n, _c, b in wal_runs]
                # The WAL file keeps its largest size (SQLite restarts it from its start).
                largest = Path(f"{database}-wal").stat().st_size // (PAGE_SIZE + 24)
                print(
                    f"  WAL: {sum(c for _w, _n, c, _b in wal_runs)} of {len(wal_runs)} runs saw"
                    f" a checkpoint, {sum(in_request)} made one in the request's thread;"
                    f" the WAL's file has held up to {largest:,} pages;"
                    " per run: ms/frames appended/KB the request's thread wrote"
                    " (* a checkpoint meanwhile, ! in the request's thread):"
                )
                print(
                    "  "
                    + " ".join(
                        f"{w * 1000:.0f}/{n}/{b // 1024}{'*' if c else ''}{'!' if r else ''}"
                        for (w, n, c, b), r in zip(wal_runs, in_request, strict=True)
                    )
                )
            if pg_runs:
                print(
                    "  per run: wall/server CPU ms [two slowest statements, ms], dead rows met,"
                    " the fixed Python's CPU ms just before (machine_speed),"
                    " autovacuums/analyzes done meanwhile, AV: an autovacuum worker on this"
                    " database at the start or end, checkpoints meanwhile:"
                )
                for line in pg_runs:
                    print(f"    {line}")
            if args.statements:
                for seconds, statement in shown:
                    print(f"  {ms(seconds):>9}  {' '.join(statement.split())[:110]}")
            if profiler and args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                name = "bulk_mark" if run is bulk_mark else "initialise"
                profiler.dump_stats(args.profile / f"{name}.prof")
    finally:
        with app.app_context():
            db.engine.dispose()
        drop()


if __name__ == "__main__":
    main()
