"""Benchmark: how fast a tap reaches every open view of a session (live fan-out).

    .venv/bin/python bench/bench_fanout.py [--listeners 100] [--taps 30] [--mode gevent]
           [--processes 1|2]

Starts real server processes (``python -m attendance_app.server``; with --processes 2 both
share the local Redis and listeners are spread over them) on a fresh SQLite database (or a
fresh PostgreSQL database next to DATABASE_URL), connects N python-socketio listeners over
WebSocket to one session, then marks students through the JSON API, one after another, and
measures for every listener the time from sending the POST to receiving the ``attendance``
event. Prints p50 / p95 / max. Loopback only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import socketio  # noqa: E402

from bench.bench_marking import migrated_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--taps", type=int, default=30)
    parser.add_argument("--mode", default="gevent", choices=["eventlet", "gevent"])
    parser.add_argument("--processes", type=int, default=1, choices=[1, 2])
    args = parser.parse_args()

    from attendance_app.extensions import db
    from tests.factories import make_admin, make_class, make_session, make_students
    from tests.live.conftest import REDIS_URL, start_server

    app, drop = migrated_app()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    servers = []
    listeners: list[socketio.Client] = []
    try:
        admin = make_admin(app)
        students = make_students(app, args.taps)
        klass = make_class(app, admin=admin, students=students)
        session_id = make_session(app, klass)

        channel = f"bench-{uuid.uuid4().hex[:8]}"
        queue = REDIS_URL if args.processes > 1 else None
        servers = [
            start_server(url, args.mode, message_queue=queue, channel=channel)
            for _ in range(args.processes)
        ]
        received: dict[str, list[float]] = {}
        lock = threading.Lock()

        def make_listener(i: int) -> socketio.Client:
            client = socketio.Client(reconnection=False)

            @client.on("attendance")
            def _on(data):
                now = time.perf_counter()
                with lock:
                    for rec in data["records"]:
                        received.setdefault(rec["student"]["id"], []).append(now)

            client.connect(
                servers[i % len(servers)].url,
                auth={"token": admin.token},
                transports=["websocket"],
                wait_timeout=10,
            )
            assert client.call("join_session", {"session_id": str(session_id)})["ok"]
            return client

        listeners = [make_listener(i) for i in range(args.listeners)]
        latencies: list[float] = []
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {klass.teacher.token}"
        for student in students:
            key = str(student.profile_id)
            sent = time.perf_counter()
            response = api.post(
                f"{servers[-1].url}/api/attendance/mark/",
                json={"session_id": str(session_id), "student_id": key, "status": "PRESENT"},
                timeout=10,
            )
            assert response.status_code == 201, response.text
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with lock:
                    if len(received.get(key, [])) >= len(listeners):
                        break
                time.sleep(0.001)
            with lock:
                arrivals = received.get(key, [])
            assert len(arrivals) == len(listeners), f"{len(arrivals)} of {len(listeners)}"
            latencies.extend(t - sent for t in arrivals)
        latencies.sort()
        ms = [v * 1000 for v in latencies]
        print(
            f"bench_fanout {args.mode}, {args.processes} process(es), {args.listeners} listeners, "
            f"{args.taps} taps: POST→event p50 {statistics.median(ms):.1f} ms, "
            f"p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms, max {ms[-1]:.1f} ms"
        )
    finally:
        for client in listeners:
            client.disconnect()
        for server in servers:
            server.stop()
        with app.app_context():
            db.engine.dispose()
        drop()


if __name__ == "__main__":
    main()
