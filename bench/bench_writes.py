"""Benchmark: the CPU and wall time of one single write, in process.

    .venv/bin/python -m bench.bench_writes [--requests 300] [--rounds 3] [--calls]
                                           [--profile mark|patch|tap] [--listener]
                                           [--tree mark|patch|tap]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.bench_writes

Three writes, each its own request through the Flask test client (no network), on a fresh
database (a temporary SQLite file, or a fresh PostgreSQL database next to DATABASE_URL):

- ``mark``: ``POST /api/attendance/mark/`` of one student, a new record (token login);
- ``patch``: ``PATCH /api/attendance/{id}/`` cycling PRESENT → LATE → ABSENT (token login);
- ``tap``: the roster's htmx ``POST /sessions/<id>/students/<id>/status`` (cookie login,
  CSRF header), cycling through a session's students so taps both create and change.

``--listener``: the class's teacher listens over Socket.IO (flask_socketio's test client, in
process) to the session the PATCHes and the taps change, as the roster page does in a lesson,
so each of those also reads and emits its broadcast (the client's decoding of it is counted
too). Without it nobody listens and the broadcasts are skipped.

Prints, per write and round, the median wall time and the median ``time.process_time()``
CPU per request, and the statements one request runs. On a shared, loaded machine the CPU
median is the steadier figure; compare before and after in one sitting.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from attendance_app.extensions import db
from bench.bench_marking import migrated_app


def timed(fn: Callable[[int], None], n: int) -> tuple[float, float]:
    """(median wall, median CPU) of ``n`` calls of ``fn``, in ms."""
    walls, cpus = [], []
    for i in range(n):
        w, c = time.perf_counter(), time.process_time()
        fn(i)
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def calls_per_request(fn: Callable[[int], None], n: int) -> float:
    """The Python calls (``cProfile``'s total) per call of ``fn``, over ``n`` calls: a figure
    the machine's load does not move."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    for i in range(n):
        fn(i)
    profile.disable()
    return pstats.Stats(profile).total_calls / n


def print_profile(fn: Callable[[int], None], n: int) -> None:
    """cProfile's cumulative view of ``n`` calls of ``fn``: our functions and the libraries'
    that take the most, per call."""
    import cProfile
    import io
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    for i in range(n):
        fn(i)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(60)
    print(out.getvalue())


def call_tree(fn: Callable[[int], None], n: int, under: str = "attendance_app/") -> None:
    """Python calls (those cProfile counts, C functions included) per call of ``fn``, over
    ``n`` calls, made inside each function whose file path holds ``under`` (inclusive), and
    inside each function it calls directly: where one write's calls go, whatever the load."""
    from collections import Counter, defaultdict

    inclusive: Counter[str] = Counter()
    edges: defaultdict[str, Counter[str]] = defaultdict(Counter)
    stack: list[tuple[str, int]] = []
    total = [0]

    def name_of(frame, event, arg) -> str:
        if event.startswith("c_"):
            return f"<c> {getattr(arg, '__qualname__', arg)}"
        code = frame.f_code
        path = code.co_filename.split("site-packages/")[-1].replace(str(Path.cwd()) + "/", "")
        return f"{path}:{code.co_firstlineno} {code.co_qualname}"

    def hook(frame, event, arg) -> None:
        if event in ("call", "c_call"):
            total[0] += 1
            stack.append((name_of(frame, event, arg), total[0]))
        elif stack:  # return, c_return, c_exception
            name, at = stack.pop()
            calls = total[0] - at + 1
            inclusive[name] += calls
            if stack:
                edges[stack[-1][0]][name] += calls

    sys.setprofile(hook)
    for i in range(n):
        fn(i)
    sys.setprofile(None)
    print(f"  {total[0] / n:,.0f} calls per request; inclusive per request, its callees':")
    for name, calls in inclusive.most_common():
        if under in name:
            print(f"  {calls / n:8,.1f}  {name}")
            for callee, below in edges[name].most_common(12):
                print(f"  {'':8}  {below / n:8,.1f}  {callee}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--calls", action="store_true", help="also print Python calls per request (cProfile)"
    )
    parser.add_argument(
        "--profile",
        choices=["mark", "patch", "tap"],
        help="print where one write's CPU goes (cProfile, cumulative, 100 requests)",
    )
    parser.add_argument(
        "--tree",
        choices=["mark", "patch", "tap"],
        help="print the Python calls made inside each function of one write (100 requests)",
    )
    parser.add_argument(
        "--listener",
        action="store_true",
        help="the teacher listens to the PATCHed and tapped session (they pay their broadcast)",
    )
    args = parser.parse_args()

    from tests.factories import PASSWORD, make_admin, make_class, make_session
    from tests.web.conftest import csrf_from, htmx_headers

    app, drop = migrated_app()
    try:
        admin = make_admin(app)
        klass = make_class(app, admin=admin, students=35)
        per_session = len(klass.students)
        needed = (
            args.rounds * (args.requests + 1)
            + (100 if args.calls or args.profile else 0)
            + (100 if args.tree else 0)
            + 5
        )
        sessions = [make_session(app, klass) for _ in range(needed // per_session + 2)]
        api = app.test_client()
        token = {"Authorization": f"Token {klass.teacher.token}"}
        pairs = iter([(s, st) for s in sessions[1:] for st in klass.students])

        def mark(_: int) -> None:
            session_id, student = next(pairs)
            r = api.post(
                "/api/attendance/mark/",
                json={
                    "session_id": str(session_id),
                    "student_id": str(student.profile_id),
                    "status": "PRESENT",
                },
                headers=token,
            )
            assert r.status_code == 201, r.text

        first = api.post(
            "/api/attendance/mark/",
            json={
                "session_id": str(sessions[0]),
                "student_id": str(klass.students[0].profile_id),
                "status": "PRESENT",
            },
            headers=token,
        )
        record_id = first.get_json()["attendance"]["id"]
        listener = None
        if args.listener:
            from attendance_app.extensions import socketio

            listener = socketio.test_client(app, auth={"token": klass.teacher.token})
            joined = listener.emit("join_session", {"session_id": str(sessions[0])}, callback=True)
            assert joined["ok"], joined
            listener.get_received()

        def patch(i: int) -> None:
            status = ("LATE", "ABSENT", "PRESENT")[i % 3]
            r = api.patch(f"/api/attendance/{record_id}/", json={"status": status}, headers=token)
            assert r.status_code == 200, r.text
            if listener is not None:
                assert any(m["name"] == "attendance" for m in listener.get_received())

        browser = app.test_client()
        page = browser.get("/login")
        r = browser.post(
            "/login",
            data={
                "email": klass.teacher.email,
                "password": PASSWORD,
                "csrf_token": csrf_from(page.text),
            },
        )
        assert r.status_code == 302, r.status_code
        tap_session = sessions[0]
        headers = htmx_headers(browser.get(f"/sessions/{tap_session}").text)

        def tap(i: int) -> None:
            student = klass.students[i % per_session]
            r = browser.post(
                f"/sessions/{tap_session}/students/{student.profile_id}/status",
                data={"status": ("ABSENT", "LATE", "PRESENT")[(i // per_session) % 3]},
                headers=headers,
            )
            assert r.status_code == 200, r.text
            if listener is not None:
                assert any(m["name"] == "attendance" for m in listener.get_received())

        statements: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany) -> None:
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        engine_name = engine.dialect.name
        print(f"bench_writes on {engine_name}: {args.requests} requests a round")
        offset = 0
        for fn in (mark, patch, tap):
            fn(offset)  # warm
            offset += 1
        if args.profile:
            fn = {"mark": mark, "patch": patch, "tap": tap}[args.profile]
            print_profile(lambda i, fn=fn, start=offset: fn(start + i), 100)
            offset += 100
        if args.tree:
            fn = {"mark": mark, "patch": patch, "tap": tap}[args.tree]
            call_tree(lambda i, fn=fn, start=offset: fn(start + i), 100)
            offset += 100
        if args.calls:
            for name, fn in (("mark", mark), ("patch", patch), ("tap", tap)):
                calls = calls_per_request(lambda i, fn=fn, start=offset: fn(start + i), 100)
                offset += 100
                print(f"  {name}: {calls:,.0f} Python calls per request")
        for rnd in range(args.rounds):
            for name, fn in (("mark", mark), ("patch", patch), ("tap", tap)):
                wall, cpu = timed(lambda i, fn=fn, start=offset: fn(start + i), args.requests)
                offset += args.requests
                print(f"  round {rnd + 1} {name:5}: wall {wall:.2f} ms, CPU {cpu:.2f} ms")
        # Counted last: once any listener has been added, SQLAlchemy dispatches its execution
        # events around every statement of the engine for good (~7 µs each), even after the
        # listener is removed, which the figures above would otherwise pay.
        for name, fn in (("mark", mark), ("patch", patch), ("tap", tap)):
            event.listen(engine, "before_cursor_execute", count)
            fn(offset)
            offset += 1
            event.remove(engine, "before_cursor_execute", count)
            print(f"  {name}: {len(statements)} statements")
            statements.clear()
    finally:
        drop()


if __name__ == "__main__":
    main()
