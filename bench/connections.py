"""Connection capacity: N concurrent Socket.IO connections held by one server process, and
the memory each costs.

    .venv/bin/python -m bench.connections [--mode eventlet|gevent] [--connections 3000]
                                          [--max-connections 4000] [--procs 6]

Starts our server (``flask --app wsgi serve``, one process, fresh SQLite database) on a fresh
port, with its connection cap as shipped (``--max-connections 0``: the default of
``attendance_app/server.py``, 5,000) or set through ``MAX_CONNECTIONS``. Warms it up
with a few connections, reads its resident memory (VmRSS), connects N authenticated
python-socketio clients over WebSocket (asyncio, spread over ``--procs`` processes), each
joined to one of ``--sessions`` ACTIVE sessions, reads the memory again, then marks a few
students in the first session and measures how long each ``statistics`` event takes to reach
its listeners while all the others are held. Prints connected / failed,
time to connect, RSS before and after, kB per connection and the broadcast latency.
Loopback only; bounded (every connect times out).
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.common import (
    Stack,
    fresh_database,
    prepare_ours,
    quantile,
    rss_kib,
    start_ours,
    wait_http,
)
from bench.fanout import Listeners, admin_client, build_session
from bench.perf import header
from bench.schoolday import Client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.connections", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["eventlet", "gevent"], default="eventlet")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument(
        "--max-connections", type=int, default=0, help="the server's cap (0: as shipped)"
    )
    parser.add_argument("--procs", type=int, default=6, help="client processes")
    parser.add_argument("--marks", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=100, help="rooms the clients join")
    args = parser.parse_args(argv)
    header(args, "connection capacity of one process")
    with Stack() as stack:
        env = prepare_ours(fresh_database(args.db, stack), args.mode)
        if args.max_connections:
            env["MAX_CONNECTIONS"] = str(args.max_connections)
        else:
            env.pop("MAX_CONNECTIONS", None)
        proc = start_ours(stack, env)
        wait_http(proc, "/login")
        school = build_session(proc.url, args.marks)
        # Spread over sessions like a school's rooms.
        admin = admin_client(proc.url)
        sessions = [school["session"]]
        for _ in range(args.sessions - 1):
            body = {"class_id": school["class"]}
            made = admin.call("setup", "POST", "/api/sessions/", body, 201)
            admin.call("setup", "POST", f"/api/sessions/{made['id']}/start/", None, 200)
            sessions.append(made["id"])
        with Listeners(proc.url, school["token"], school["session"], 20, 2) as warm:
            assert warm.connected == 20, warm.errors
            warm.collect()
        time.sleep(2)
        before = rss_kib(proc.pid)
        started = time.monotonic()
        with Listeners(
            proc.url, school["token"], sessions, args.connections, args.procs, 15
        ) as listeners:
            took = time.monotonic() - started
            time.sleep(3)
            after = rss_kib(proc.pid)
            api = Client(proc.url, school["token"])
            sent = {}
            for k, student in enumerate(school["students"], start=1):
                body = {"session_id": school["session"], "student_id": student, "status": "LATE"}
                sent[k] = time.monotonic()
                api.call("mark", "POST", "/api/attendance/mark/", body, 201)
                time.sleep(3)
            arrivals = listeners.collect()
            watching = len(range(0, listeners.connected, args.sessions))
        first = {}
        for listener, marked, at in arrivals:
            if marked in sent:
                first.setdefault((listener, marked), at)
        lat = sorted((at - sent[k]) * 1000 for (_, k), at in first.items())
        cap = args.max_connections or "as shipped"
        per = (after - before) / listeners.connected if listeners.connected else float("nan")
        print(
            f"\n| mode | cap | connected | failed | connect time | RSS before | RSS after "
            f"| per connection | broadcast p50 / p95 / max | missed |\n"
            f"|---|---|---|---|---|---|---|---|---|---|\n"
            f"| {args.mode} | {cap} | {listeners.connected} | {listeners.error_count} "
            f"| {took:.1f} s | {before / 1024:.0f} MiB | {after / 1024:.0f} MiB | {per:.1f} kB "
            f"| {quantile(lat, 0.5):.0f} / {quantile(lat, 0.95):.0f} / "
            f"{lat[-1] if lat else float('nan'):.0f} ms "
            f"| {watching * len(sent) - len(lat)} |"
        )
        if listeners.errors:
            print(f"connect errors, e.g.: {listeners.errors}")
    return 0 if listeners.error_count == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
