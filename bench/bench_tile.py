"""Benchmark: what the roster's tile costs to draw, in a tap's answer and in the whole page.

    .venv/bin/python -m bench.bench_tile [--students 500] [--pages 20] [--taps 100]

Builds, through the services, a class of ``--students`` with a started session (three in four
marked, some late, some excused, some with a note), signs its teacher in through ``/login``
and then, in process (Flask test client, no network):

- ``page``: ``GET /sessions/<id>`` ``--pages`` times after 3 warm-ups: median
  ``time.process_time()`` per page, its size, and the Python calls of one page;
- ``tap``: the roster's htmx ``POST .../status`` ``--taps`` times, cycling through the
  students: median CPU per tap, Python calls per tap and, of those, the calls spent in
  rendering the answer (the tile, the statistics, the announcement: ``render_partial``).

Calls are ``sys.setprofile``'s call events (Python and builtin), a figure the machine's load
does not move. To compare two checkouts in one sitting, run this file from one of them with
``PYTHONPATH`` set to the other (it imports the app, ``bench`` and ``tests`` from there).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable


class CallCounter:
    """Counts call events (Python and C) while enabled; ``inside`` counts only those made
    while the wrapped function (the tap's answer's renderer) runs."""

    def __init__(self) -> None:
        self.total = 0
        self.inside = 0
        self.depth = 0

    def __call__(self, frame, event, arg) -> None:
        if event in ("call", "c_call"):
            self.total += 1
            if self.depth:
                self.inside += 1

    def run(self, fn: Callable[[], object]) -> None:
        sys.setprofile(self)
        try:
            fn()
        finally:
            sys.setprofile(None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bench_tile")
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--taps", type=int, default=100)
    args = parser.parse_args(argv)

    import attendance_app.web.roster as roster_view
    from attendance_app.models import AbsenceReason, Channel
    from attendance_app.services.marking import excuses
    from bench.bench_marking import migrated_app
    from tests.factories import (
        PASSWORD,
        actor,
        make_admin,
        make_class,
        make_session,
        make_students,
        mark,
        mark_many,
    )
    from tests.web.conftest import csrf_from, htmx_headers

    app, drop = migrated_app()
    try:
        admin = make_admin(app)
        students = make_students(app, args.students)
        klass = make_class(app, admin=admin, students=students)
        session_id = make_session(app, klass)
        statuses = ("PRESENT", "ABSENT", "LATE", None)
        mark_many(
            app,
            klass,
            session_id,
            [(s, statuses[i % 4]) for i, s in enumerate(students) if statuses[i % 4]],
        )
        # A few of the unmarked (i % 4 == 3) get an absence with a note; half of those an excuse.
        for n, s in enumerate(students[3:200:20]):
            record_id = mark(app, klass, session_id, s, "ABSENT", notes="Arrived with a letter")
            if n % 2:
                with app.app_context():
                    excuses.excuse_absence(
                        actor=actor(klass.teacher.user_id),
                        attendance_id=record_id,
                        reason=AbsenceReason.ILLNESS,
                        note="Letter",
                        channel=Channel.WEB,
                    )
        client = app.test_client()
        page = client.get("/login")
        r = client.post(
            "/login",
            data={
                "email": klass.teacher.email,
                "password": PASSWORD,
                "csrf_token": csrf_from(page.text),
            },
        )
        assert r.status_code == 302, r.status_code
        path = f"/sessions/{session_id}"
        for _ in range(3):
            body = client.get(path).text
        headers = htmx_headers(body)

        cpu = []
        for _ in range(args.pages):
            c0 = time.process_time()
            response = client.get(path)
            cpu.append(time.process_time() - c0)
            assert response.status_code == 200
        counter = CallCounter()
        counter.run(lambda: client.get(path))
        print(
            f"bench_tile: {args.students} students; page {len(response.data):,} bytes, "
            f"CPU median {statistics.median(cpu) * 1000:.1f} ms "
            f"(min {min(cpu) * 1000:.1f}), {counter.total:,} calls"
        )

        # What renders the tap's answer: ``web.render_partial`` (``render_template`` before it).
        renderer = "render_partial" if hasattr(roster_view, "render_partial") else "render_template"
        original = getattr(roster_view, renderer)

        def counted_render(*a, **kw):
            counter.depth += 1
            try:
                return original(*a, **kw)
            finally:
                counter.depth -= 1

        setattr(roster_view, renderer, counted_render)
        taps = [0]

        def tap() -> None:
            i = taps[0]
            taps[0] += 1
            student = students[i % len(students)]
            r = client.post(
                f"{path}/students/{student.profile_id}/status",
                data={"status": ("ABSENT", "LATE", "PRESENT")[(i // len(students)) % 3]},
                headers=headers,
            )
            assert r.status_code == 200, r.text

        tap()
        cpu = []
        for _ in range(args.taps):
            c0 = time.process_time()
            tap()
            cpu.append(time.process_time() - c0)
        counter = CallCounter()
        for _ in range(args.taps):
            counter.run(tap)
        setattr(roster_view, renderer, original)
        print(
            f"  tap: CPU median {statistics.median(cpu) * 1000:.2f} ms, "
            f"{counter.total / args.taps:,.0f} calls, of which render "
            f"{counter.inside / args.taps:,.0f}"
        )
    finally:
        drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
