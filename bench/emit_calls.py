"""What one broadcast costs our server per listener: Python calls and CPU time from the emit
to the last listener's frame handed to the kernel, on the real eventlet stack.

    .venv/bin/python -m bench.emit_calls [--listeners 1,50,200] [--marks 20]
                                         [--queue redis://127.0.0.1:6379/0] [ROOT ...]

For each checkout ROOT (default: this one; an old one made with ``git archive main | tar -x
-C /tmp/old``) and each listener count, in a fresh interpreter so each imports its own code:
a fresh SQLite database, a teacher, a class of ``--marks`` students and an ACTIVE session;
the app served by eventlet's WSGI server in that interpreter (as ``attendance_app.server``
serves it); N python-socketio listeners over WebSocket in client processes
(``bench.fanout.Listeners``), joined to the session. Then, in the server's process:

- **emit**: the ``statistics`` broadcast of one mark (its payload as ``broadcast`` builds
  it), ``socketio.emit`` to the session's room and the admins', then green-thread switches
  until every listener's writer has sent its frame: Python calls (cProfile's count, exact
  whatever the load) and CPU ms (``process_time``), per emit;
- **mark**: every student marked through ``POST /api/attendance/mark/`` (Flask test client,
  teacher's token; its ``statistics`` and ``attendance`` broadcasts to the N real sockets),
  the same until the writers are idle: Python calls and CPU ms per mark.

The slope between two listener counts is the cost per listener. ``--queue``: the server
emits through that message queue (its own channel), as several processes do. Loopback only;
bounded.
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
root, n, marks, queue = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, root)
os.chdir(root)
import eventlet.wsgi
from flask_migrate import upgrade
from attendance_app import create_app
from attendance_app.extensions import socketio
from attendance_app.live import ADMINS_ROOM, room_for
from tests import factories
from tests.conftest import TEST_SETTINGS

url = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="emit-calls-"), "db.sqlite3")
app = create_app({**TEST_SETTINGS, "TESTING": False, "SOCKETIO_ASYNC_MODE": "eventlet",
                  "SQLALCHEMY_DATABASE_URI": url, "SOCKETIO_MESSAGE_QUEUE": queue or None,
                  "SOCKETIO_CHANNEL": f"emit-calls-{os.getpid()}"})
logging.disable(logging.WARNING)
with app.app_context():
    upgrade()
admin = factories.make_admin(app)
teacher = factories.make_teacher(app)
students = factories.make_students(app, marks)
klass = factories.make_class(app, admin=admin, teacher=teacher, students=students)
session_id = factories.make_session(app, klass)
room = room_for(session_id)
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
        writers_idle(profile)
        profile.disable()
        cpu.append((time.process_time() - c0) * 1000)
        calls.append(pstats.Stats(profile).total_calls)
        if os.environ.get("EMIT_CALLS_PROFILE") and i == count - 1:
            profile.dump_stats(os.environ["EMIT_CALLS_PROFILE"] + "." + action.__name__)
        eventlet.sleep(0.02)
    return statistics.median(calls), statistics.median(cpu)

payload = {"session_id": str(session_id), "statistics": {"total_enrolled": 30, "present": 12,
           "absent": 3, "late": 1, "not_marked": 14, "attendance_rate": 43.33}, "seq": 17}
def emit(_i):
    socketio.emit("statistics", payload, to=[room, ADMINS_ROOM])

api = app.test_client()
bearer = {"Authorization": f"Bearer {teacher.token}"}
def mark(i):
    body = {"session_id": str(session_id), "student_id": str(students[i].profile_id),
            "status": "PRESENT"}
    response = api.post("/api/attendance/mark/", json=body, headers=bearer)
    assert response.status_code == 201, response.get_data(as_text=True)

measure(emit, 5)  # warm-up
emit_calls, emit_cpu = measure(emit, 50)
mark(0); writers_idle()  # warm-up
mark_calls, mark_cpu = measure(lambda i: mark(i + 1), marks - 1)
print(json.dumps({"emit_calls": emit_calls, "emit_cpu": emit_cpu, "mark_calls": mark_calls,
                  "mark_cpu": mark_cpu}), flush=True)
"""


def run(root: str, n: int, marks: int, procs: int, queue: str) -> dict:
    import json

    from bench.fanout import Listeners

    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(Path(root).resolve()), str(n), str(marks), queue],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
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
    parser.add_argument(
        "--queue", default="", help="a message queue, e.g. redis://127.0.0.1:6379/0"
    )
    parser.add_argument("roots", nargs="*", default=[str(ROOT)])
    args = parser.parse_args(argv)
    print("| checkout | listeners | calls / emit | CPU ms / emit | calls / mark | CPU ms / mark |")
    print("|---|---|---|---|---|---|")
    for n in (int(x) for x in args.listeners.split(",")):
        for root in args.roots:
            r = run(root, n, args.marks, args.procs, args.queue)
            print(
                f"| {root} | {n} | {r['emit_calls']:.0f} | {r['emit_cpu']:.2f} "
                f"| {r['mark_calls']:.0f} | {r['mark_cpu']:.2f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
