"""What one broadcast costs our server per listener: Python calls and CPU time from the emit
to the last listener's frame handed to the kernel, on the real eventlet stack.

    .venv/bin/python -m bench.emit_calls [--listeners 1,50,200] [--marks 20]
                                         [--db sqlite|postgres] [--records 1]
                                         [--records-as tuple|list]
                                         [--queue redis://127.0.0.1:6379/0] [ROOT ...]

For each checkout ROOT (default: this one; an old one made with ``git archive main | tar -x
-C /tmp/old``) and each listener count, in a fresh interpreter so each imports its own code:
a fresh database (a SQLite file, or a new PostgreSQL database next to ``DATABASE_URL``,
dropped after), a teacher, a class of ``--marks`` students and an ACTIVE session;
the app served by eventlet's WSGI server in that interpreter (as ``attendance_app.server``
serves it); N python-socketio listeners over WebSocket in client processes
(``bench.fanout.Listeners``), joined to the session. Then, in the server's process:

- **statistics** / **attendance**: one broadcast of each (their payloads as ``broadcast``
  builds them; the ``attendance`` of ``--records`` records, one by default, in a tuple
  as ``broadcast`` sends them since h/fanredis, or ``--records-as list`` as before),
  ``socketio.emit`` to the session's room (and the admins'), then green-thread switches
  until every listener's writer has sent its frame: Python calls (cProfile's count, exact
  whatever the load) and CPU ms (``process_time``), per emit;
- **mark**: every student marked through ``POST /api/attendance/mark/`` (Flask test client,
  teacher's token; its ``statistics`` and ``attendance`` broadcasts to the N real sockets),
  the same until the writers are idle: Python calls and CPU ms per mark.

The slope between two listener counts is the cost per listener. ``--queue``: the server
emits through that message queue (its own channel), as each of several processes does; each
measure then also waits until the server's queue listener has read back every message it
published (every process reads its own), and two more are taken: **remote statistics** /
**remote attendance**, the same broadcasts published by another process (a raw PUBLISH of
the message python-socketio's ``PubSubManager.emit`` builds, sent on a plain socket outside
the profile's count but for its two calls), from their arrival to the last frame sent.
Loopback only; bounded.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import os, sys, warnings
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet
eventlet.monkey_patch()
import cProfile, json, logging, pstats, statistics, tempfile, time
from urllib.parse import urlparse
root, queue, url = sys.argv[1], sys.argv[4], sys.argv[5]
n, marks, size, shape = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[6]), sys.argv[7]
sys.path.insert(0, root)
os.chdir(root)
import eventlet.event
import eventlet.patcher
import eventlet.wsgi
from flask_migrate import upgrade
from attendance_app import create_app
from attendance_app.extensions import socketio
from attendance_app.live import ADMINS_ROOM, room_for
from tests import factories
from tests.conftest import TEST_SETTINGS

url = url or "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="emit-calls-"), "db.sqlite3")
channel = f"emit-calls-{os.getpid()}"
app = create_app({**TEST_SETTINGS, "TESTING": False, "SOCKETIO_ASYNC_MODE": "eventlet",
                  "SQLALCHEMY_DATABASE_URI": url, "SOCKETIO_MESSAGE_QUEUE": queue or None,
                  "SOCKETIO_CHANNEL": channel})
logging.disable(logging.WARNING)
with app.app_context():
    upgrade()
admin = factories.make_admin(app)
teacher = factories.make_teacher(app)
students = factories.make_students(app, marks)
klass = factories.make_class(app, admin=admin, teacher=teacher, students=students)
session_id = factories.make_session(app, klass)
room = room_for(session_id)

# With a queue: count what the server publishes and what its queue listener has handled
# (the instance's two pub/sub hooks wrapped before the listener starts, at the first
# connection), so a measure can wait until the server has read back its own messages.
manager = socketio.server.manager
queued = bool(queue)
counts = {"published": 0, "handled": 0, "remote": 0}
waiter = [None]
if queued:
    publish = manager._publish
    def counted_publish(data):
        counts["published"] += 1
        return publish(data)
    manager._publish = counted_publish
    listen = manager._listen
    def counted_listen():
        for message in listen():
            yield message
            counts["handled"] += 1
            if waiter[0] is not None and counts["handled"] >= waiter[1]:
                waiter[0].send()
                waiter[0] = None
    manager._listen = counted_listen
    redis_at = urlparse(queue)
    raw = eventlet.patcher.original("socket").create_connection(
        (redis_at.hostname or "127.0.0.1", redis_at.port or 6379))

listener = eventlet.listen(("127.0.0.1", 0))
port = listener.getsockname()[1]
eventlet.spawn(eventlet.wsgi.server, listener, app, log_output=False)
print(json.dumps({"url": f"http://127.0.0.1:{port}", "token": teacher.token,
                  "session": str(session_id)}), flush=True)

def members():
    return len(socketio.server.manager.rooms.get("/", {}).get(room, {}))

deadline = time.monotonic() + 600
while members() < n and time.monotonic() < deadline:
    eventlet.sleep(0.1)
assert members() == n, (members(), n)
eventlet.sleep(2 + n / 50)  # the joins' presence announcement is over

def queue_read_back():
    # Every message published (by us or, remotely, for us) has been through our queue
    # listener.
    target = counts["published"] + counts["remote"]
    if queued and counts["handled"] < target:
        waiter[:] = [eventlet.event.Event(), target]
        waiter[0].wait()

def writers_idle(profile=None):
    # Every engine.io socket's queue empty, after giving its writer the hub (the check
    # itself not profiled).
    for _ in range(1000):
        eventlet.sleep(0)
        if profile:
            profile.disable()
        idle = all(s.queue.empty() for s in socketio.server.eio.sockets.values())
        if profile:
            profile.enable()
        if idle:
            eventlet.sleep(0)
            return
    raise RuntimeError("writers never went idle")

def measure(action, count):
    calls, cpu = [], []
    for i in range(count):
        profile = cProfile.Profile()
        c0 = time.process_time()
        profile.enable()
        action(i)
        queue_read_back()
        writers_idle(profile)
        profile.disable()
        cpu.append((time.process_time() - c0) * 1000)
        calls.append(pstats.Stats(profile).total_calls)
        if os.environ.get("EMIT_CALLS_PROFILE") and i == count - 1:
            profile.dump_stats(os.environ["EMIT_CALLS_PROFILE"] + "." + action.__name__)
        eventlet.sleep(0.02)
    return statistics.median(calls), statistics.median(cpu)

sid = str(session_id)
payload = {"session_id": sid, "statistics": {"total_enrolled": 30, "present": 12,
           "absent": 3, "late": 1, "not_marked": 14, "attendance_rate": 43.33}, "seq": 17}
record = {"id": "0b7f5a3e-6a43-4f4e-9d51-5a7c2f0e8d11", "student": {
    "id": "5e0c7f1e-2b9d-4c1a-8e7f-3d6a9b2c4e51", "student_id": "S0042"}, "status": "PRESENT",
    "notes": "arrived with a note from the office", "excused": False,
    "absence_reason": None, "marked_at": "2026-12-07T09:05:12.345678Z",
    "updated_at": "2026-12-07T09:05:12.345678Z", "marked_by": "Ada Teacher",
    "checked_in": False, "version": 1, "late_minutes": None, "alert": ""}
shaped = {"list": list, "tuple": tuple}[shape]
records = {"session_id": sid, "records": shaped({**record, "id": f"{k:08x}" + record["id"][8:]}
           for k in range(size)), "removed_students": [], "seq": 18}

def emit_statistics(_i):
    socketio.emit("statistics", payload, to=[room, ADMINS_ROOM])

def emit_attendance(_i):
    socketio.emit("attendance", records, to=room)

def remote(event, data, to):
    # The message another process's PubSubManager.emit publishes, built and framed before
    # the profile starts; sent on a plain blocking socket (two calls in the count).
    message = json.dumps({"method": "emit", "event": event, "data": [data], "binary": False,
                          "namespace": "/", "room": to, "skip_sid": None, "callback": None,
                          "host_id": "bench-remote"}).encode()
    parts = [b"PUBLISH", channel.encode(), message]
    command = b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    def remote_emit(_i):
        counts["remote"] += 1
        raw.sendall(command)
        raw.recv(64)  # ":1\r\n": our listener has it
    return remote_emit

api = app.test_client()
bearer = {"Authorization": f"Bearer {teacher.token}"}
def mark(i):
    body = {"session_id": str(session_id), "student_id": str(students[i].profile_id),
            "status": "PRESENT"}
    response = api.post("/api/attendance/mark/", json=body, headers=bearer)
    assert response.status_code == 201, response.get_data(as_text=True)

result = {}
for name, action in [("statistics", emit_statistics), ("attendance", emit_attendance)] + (
    [("remote_statistics", remote("statistics", payload, [room, ADMINS_ROOM])),
     ("remote_attendance", remote("attendance", records, room))] if queued else []):
    measure(action, 5)  # warm-up
    result[name] = measure(action, 50)
mark(0); queue_read_back(); writers_idle()  # warm-up
result["mark"] = measure(lambda i: mark(i + 1), marks - 1)
print(json.dumps(result), flush=True)
"""


def run(root: str, n: int, marks: int, procs: int, queue: str, db: str, records: list) -> dict:
    import json

    from bench.common import Stack, fresh_database
    from bench.fanout import Listeners

    with Stack() as stack:
        url = fresh_database(db, stack, "emitcalls") if db == "postgres" else ""
        argv = [sys.executable, "-c", _CHILD, str(Path(root).resolve()), str(n), str(marks)]
        argv += [queue, url, *records]
        child = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            where = json.loads(child.stdout.readline())
            if n:
                with Listeners(where["url"], where["token"], where["session"], n, procs) as group:
                    result = json.loads(child.stdout.readline())
                    group.collect()
            else:
                result = json.loads(child.stdout.readline())
            return result
        finally:
            child.kill()
            child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.emit_calls", description=__doc__)
    parser.add_argument("--listeners", default="1,50,200")
    parser.add_argument("--marks", type=int, default=20)
    parser.add_argument("--procs", type=int, default=4, help="listener processes")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--records", type=int, default=1, help="in the attendance broadcast")
    parser.add_argument("--records-as", choices=["tuple", "list"], default="tuple")
    parser.add_argument(
        "--queue", default="", help="a message queue, e.g. redis://127.0.0.1:6379/0"
    )
    parser.add_argument("roots", nargs="*", default=[str(ROOT)])
    args = parser.parse_args(argv)
    measures = ["statistics", "attendance"]
    if args.queue:
        measures += ["remote_statistics", "remote_attendance"]
    measures.append("mark")
    print(f"# {args.db}, queue {args.queue or 'none'}; Python calls (CPU ms) per broadcast / mark")
    print("| checkout | listeners | " + " | ".join(m.replace("_", " ") for m in measures) + " |")
    print("|---|---|" + "---|" * len(measures))
    for n in (int(x) for x in args.listeners.split(",")):
        for root in args.roots:
            records = [str(args.records), args.records_as]
            r = run(root, n, args.marks, args.procs, args.queue, args.db, records)
            cells = " | ".join(f"{r[m][0]:.0f} ({r[m][1]:.2f})" for m in measures)
            print(f"| {root} | {n} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
