"""Benchmark: the JSON session view in process, with the garbage collector's pauses.

    .venv/bin/python -m bench.bench_view [--students 500] [--repeat 300] [--settle]

Builds, through the services, a class of ``--students`` with a started session in which every
student is marked, then times ``GET /api/attendance/session/{id}/`` as the teacher (token),
``--repeat`` times after 20 warm-ups: wall and CPU (``time.process_time()``) p50 / p95 / max,
and every garbage collection meanwhile (``gc.callbacks``): count and time per generation.
``--settle`` first applies the production server's settings (``attendance_app.heap.settle``),
so one run with and one without show what they change (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import gc
import resource
import time

from attendance_app.extensions import db
from bench.bench_marking import migrated_app, ms


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bench_view")
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--settle", action="store_true")
    args = parser.parse_args(argv)

    app, drop = migrated_app()
    try:
        from tests.factories import make_admin, make_class, make_session, make_students, mark_many

        admin = make_admin(app)
        students = make_students(app, args.students)
        klass = make_class(app, admin=admin, students=students)
        session_id = make_session(app, klass)
        statuses = ("PRESENT", "ABSENT", "LATE")
        mark_many(app, klass, session_id, [(s, statuses[i % 3]) for i, s in enumerate(students)])
        client = app.test_client()
        headers = {"Authorization": f"Bearer {klass.teacher.token}"}
        path = f"/api/attendance/session/{session_id}/"
        for _ in range(20):
            assert client.get(path, headers=headers).status_code == 200
        if args.settle:
            from attendance_app import heap

            heap.settle()

        pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        started = [0.0]

        def on_gc(phase: str, info: dict) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pauses[info["generation"]].append(time.perf_counter() - started[0])

        gc.callbacks.append(on_gc)
        wall, cpu = [], []
        try:
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                response = client.get(path, headers=headers)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                assert response.status_code == 200
        finally:
            gc.callbacks.remove(on_gc)
        print(
            f"bench_view: {args.students} students, {len(response.data):,} bytes, "
            f"GC threshold {gc.get_threshold()}, {gc.get_freeze_count():,} objects frozen"
        )
        for name, values in (("wall", wall), ("CPU", cpu)):
            print(
                f"{name}: p50 {ms(quantile(values, 0.5))}, p95 {ms(quantile(values, 0.95))}, "
                f"max {ms(max(values))}, mean {ms(sum(values) / len(values))}"
            )
        for generation, times in pauses.items():
            longest = ms(max(times)) if times else "-"
            print(
                f"gen {generation}: {len(times)} collections, {ms(sum(times))} in all, "
                f"longest {longest}"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak:.0f} MiB")
    finally:
        with app.app_context():
            db.engine.dispose()
        drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
