"""Does a SQLite writer waiting for another stall the event loop? (issue 10, "never block the
loop").

    .venv/bin/python -m bench.sqlite_hub [--mode eventlet|gevent] [--hold 0.3]

In one monkey-patched process on a fresh SQLite file: writer A opens a unit of work and
yields inside it for ``--hold`` seconds (as a Redis round trip of the login throttle or any
other network call inside a transaction does); writer B starts a unit of work meanwhile; a
ticker green thread wakes every 5 ms the whole time. Printed for the shipped code (writers
of a process queue on ``database.write_gate``) and with the gate disabled (B waits inside
SQLite's ``busy_timeout``, on the event loop's only thread): the ticker's longest gap, how
long B waited and whether B succeeded.

Then the WAL's checkpoints: a writer commits ``--commits`` units of work of ~100 pages each
(past SQLite's 1,000-page automatic checkpoint several times, and past the background's
``RESTART_PAGES``) while the ticker runs, with the shipped background checkpoints
(``attendance_app.checkpoints``: an OS thread copies the log) and with SQLite's own (the
commit that crosses 1,000 pages copies it, on the event loop's thread), each on a fresh
database file: the ticker's longest gap, the slowest commit, and how many checkpoints ran in
the background.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.sqlite_hub", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["eventlet", "gevent"], default="eventlet")
    parser.add_argument("--hold", type=float, default=0.3)
    parser.add_argument("--commits", type=int, default=60)
    args = parser.parse_args(argv)
    if args.mode == "eventlet":
        import eventlet

        eventlet.monkey_patch()
        spawn, sleep = eventlet.spawn, eventlet.sleep
    else:
        from gevent import monkey

        monkey.patch_all()
        import gevent

        spawn, sleep = gevent.spawn, gevent.sleep

    from flask_migrate import upgrade
    from sqlalchemy import text

    from attendance_app import checkpoints, create_app
    from attendance_app.extensions import db
    from attendance_app.services import transaction

    folder = tempfile.mkdtemp(prefix="attendance-hub-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/hub.sqlite3"})
    with app.app_context():
        upgrade()
    shipped_gate = transaction.write_gate

    def run(gated: bool) -> tuple[float, float, str]:
        transaction.write_gate = shipped_gate if gated else (lambda engine: None)
        gaps: list[float] = []
        done = {"stop": False}

        def ticker() -> None:
            last = time.perf_counter()
            while not done["stop"]:
                sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        @transaction.unit_of_work
        def holding() -> None:
            sleep(args.hold)

        @transaction.unit_of_work
        def quick() -> None:
            pass

        outcome: dict[str, object] = {}

        def writer_a() -> None:
            with app.app_context():
                holding()

        def writer_b() -> None:
            sleep(0.05)
            with app.app_context():
                start = time.perf_counter()
                try:
                    quick()
                    outcome["result"] = "ok"
                except Exception as exc:  # noqa: BLE001 - reported, not handled
                    outcome["result"] = f"error: {str(exc).splitlines()[0][:60]}"
                outcome["wait"] = time.perf_counter() - start

        threads = [spawn(ticker), spawn(writer_a), spawn(writer_b)]
        threads[1].wait() if hasattr(threads[1], "wait") else threads[1].join()
        threads[2].wait() if hasattr(threads[2], "wait") else threads[2].join()
        done["stop"] = True
        sleep(0.02)
        return max(gaps), float(outcome["wait"]), str(outcome["result"])

    print(f"# bench.sqlite_hub --mode {args.mode} --hold {args.hold}")
    print("| writers of one process | ticker's longest gap | B waited | B |")
    print("|---|---|---|---|")
    for gated in (True, False):
        gap, wait, result = run(gated)
        label = "queue on write_gate (shipped)" if gated else "gate disabled (busy_timeout)"
        print(f"| {label} | {gap * 1000:,.0f} ms | {wait * 1000:,.0f} ms | {result} |")

    shipped_file_path = checkpoints.file_path

    def checkpointing(background: bool) -> tuple[float, float, int]:
        """(the ticker's longest gap, the slowest commit, background checkpoints)."""
        # Without a file path the engine keeps SQLite's own automatic checkpoints.
        checkpoints.file_path = shipped_file_path if background else (lambda database: None)
        path = tempfile.mkdtemp(prefix="attendance-hub-") + "/pages.sqlite3"
        pages_app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
        checkpoints.file_path = shipped_file_path
        with pages_app.app_context():
            db.session.execute(text("CREATE TABLE pages (b BLOB)"))
            db.session.commit()
        gaps: list[float] = []
        commits: list[float] = []
        done = {"stop": False}

        def ticker() -> None:
            last = time.perf_counter()
            while not done["stop"]:
                sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        @transaction.unit_of_work
        def hundred_pages() -> None:
            db.session.execute(
                text("INSERT INTO pages SELECT randomblob(4000) FROM json_each(:n)"),
                {"n": "[" + ",".join("0" * 100) + "]"},
            )

        def writer() -> None:
            with pages_app.app_context():
                for _ in range(args.commits):
                    start = time.perf_counter()
                    hundred_pages()
                    commits.append(time.perf_counter() - start)
                    sleep(0.01)

        threads = [spawn(ticker), spawn(writer)]
        threads[1].wait() if hasattr(threads[1], "wait") else threads[1].join()
        sleep(checkpoints.CHECKPOINT_SECONDS + 0.1)  # the last round, if any
        done["stop"] = True
        sleep(0.02)
        rounds = checkpoints.for_database(path).rounds if background else 0
        return max(gaps), max(commits), rounds

    print()
    print(f"# WAL checkpoints: {args.commits} commits of ~100 pages, a 5 ms ticker")
    print("| checkpoints | ticker's longest gap | slowest commit | in the background |")
    print("|---|---|---|---|")
    for background in (True, False):
        gap, slowest, rounds = checkpointing(background)
        label = "background (shipped)" if background else "in the commit (SQLite's own)"
        print(f"| {label} | {gap * 1000:,.0f} ms | {slowest * 1000:,.0f} ms | {rounds} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
