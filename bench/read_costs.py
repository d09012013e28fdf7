"""What perfcmp's read workloads cost per request, in process, per checkout: Python calls,
statements and CPU time.

    .venv/bin/python -m bench.read_costs [--runs 300] [--no-keep] [ROOT ...]

Builds once, with this checkout's factories (``tests/factories.py``), a school shaped as
perfcmp's (``../shared/bench/perfcmp.py``) leaves it when it reaches the reads: one teacher,
a class of 35 with an ACTIVE session where everyone is marked, a class of 500 likewise
(PRESENT, LATE, ABSENT in turn), and the first of the 35 marked in 60 more sessions of 60
more classes of that teacher (perfcmp's "fresh" sessions: its history has 61 records). Then
for each checkout ROOT (default: this one; an old one made with ``git archive main | tar -x
-C /tmp/old``), in a fresh interpreter on its own copy of that database, as the teacher
(token), as perfcmp asks them: ``GET /api/attendance/student/{id}/`` (history),
``/api/attendance/session/{id}/`` of the 35 (view35) and of the 500 (view500). Per request
kind: the Python calls of one request (cProfile), the statements it runs (an engine
listener: what SQLAlchemy executes, BEGINs included) and the CPU time per request
(``time.process_time()``, the best of 5 batches of ``--runs``, after ``heap.settle()`` as the
server does). The views repeat with no write in between, as under perfcmp: kept bodies
(``SESSION_VIEW_CACHE_BYTES``); ``--no-keep`` turns that off. Name a root twice or more to
alternate (``old new old new``); the bodies of each root are compared with the first's.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_BUILD = r"""
import json, logging, sys
root, url, meta = sys.argv[1:4]
sys.path.insert(0, root)
from flask_migrate import upgrade
from attendance_app import create_app
from tests import factories as f
app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SOCKETIO_ASYNC_MODE": "threading",
                  "ENV_NAME": "test", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
logging.disable(logging.INFO)
with app.app_context():
    upgrade()
admin, teacher = f.make_admin(app), f.make_teacher(app)
small, big = f.make_students(app, 35), f.make_students(app, 500)
statuses = ("PRESENT", "LATE", "ABSENT")
sessions = []
for students, turn in ((small, False), (big, True)):
    klass = f.make_class(app, admin=admin, teacher=teacher, students=students)
    session = f.make_session(app, klass)
    f.mark_many(app, klass, session, [(s, statuses[i % 3] if turn else "PRESENT")
                                      for i, s in enumerate(students)])
    sessions.append(str(session))
for k in range(60):
    klass = f.make_class(app, admin=admin, teacher=teacher, students=small)
    f.mark(app, klass, f.make_session(app, klass), small[0], statuses[k % 3])
json.dump({"token": teacher.token, "small": sessions[0], "big": sessions[1],
           "student": str(small[0].profile_id)}, open(meta, "w"))
"""

_MEASURE = r"""
import cProfile, json, logging, os, pstats, sys, time
root, url, meta, runs, keep, bodies = sys.argv[1:7]
runs, keep = int(runs), keep == "1"
sys.path.insert(0, root)
from sqlalchemy import event
from attendance_app import create_app, heap
from attendance_app.extensions import db
settings = {"SQLALCHEMY_DATABASE_URI": url, "SOCKETIO_ASYNC_MODE": "threading", "ENV_NAME": "test"}
if not keep:
    settings["SESSION_VIEW_CACHE_BYTES"] = 0
app = create_app(settings)
logging.disable(logging.INFO)
m = json.load(open(meta))
client = app.test_client()
headers = {"Authorization": f"Bearer {m['token']}"}
kinds = [("history", f"/api/attendance/student/{m['student']}/"),
         ("view35", f"/api/attendance/session/{m['small']}/"),
         ("view500", f"/api/attendance/session/{m['big']}/")]
with app.app_context():
    engine = db.engine
statements = [0]
def count(*_args):
    statements[0] += 1
event.listen(engine, "before_cursor_execute", count)
for _ in range(20):
    for _, path in kinds:
        client.get(path, headers=headers)
heap.settle()
for label, path in kinds:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (label, response.status_code)
    with open(os.path.join(bodies, label), "wb") as out:
        out.write(response.data)
    statements[0] = 0
    client.get(path, headers=headers)
    ran = statements[0]
    profile = cProfile.Profile()
    profile.enable()
    client.get(path, headers=headers)
    profile.disable()
    calls = pstats.Stats(profile).total_calls
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(runs):
            client.get(path, headers=headers)
        best = min(best, (time.process_time() - start) / runs)
    size = len(response.data)
    print(f"| {label} | {calls:,} | {ran} | {best * 1e6:,.0f} | {size:,} |", flush=True)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.read_costs", description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--no-keep", action="store_true", help="no kept session views")
    parser.add_argument("roots", nargs="*", default=[str(ROOT)])
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="read-costs-"))
    try:
        school, meta = folder / "school.sqlite3", folder / "school.json"
        subprocess.run(
            [sys.executable, "-c", _BUILD, str(ROOT), f"sqlite:///{school}", str(meta)],
            cwd=ROOT,
            check=True,
        )
        first: dict[str, bytes] = {}
        for n, root in enumerate(args.roots):
            root = str(Path(root).resolve())
            copy, bodies = folder / f"run{n}.sqlite3", folder / f"bodies{n}"
            shutil.copy(school, copy)
            bodies.mkdir()
            print(f"\n{root}\n\n| request | Python calls | statements | µs CPU / request | bytes |")
            print("|---|---|---|---|---|", flush=True)
            keep = "0" if args.no_keep else "1"
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _MEASURE,
                    root,
                    f"sqlite:///{copy}",
                    str(meta),
                    str(args.runs),
                    keep,
                    str(bodies),
                ],
                cwd=root,
                check=True,
            )
            for body in sorted(bodies.iterdir()):
                data = body.read_bytes()
                if first.setdefault(body.name, data) != data:
                    print(f"**{body.name}: the body differs from the first root's**")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
