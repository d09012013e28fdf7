"""Where a roster tap's Python calls go, part by part, per checkout: a deterministic measure.

    .venv/bin/python -m bench.tap_parts [--taps 60] [--db sqlite|postgres] [ROOT ...]

For each checkout ROOT (default: this one; an old one made with ``git archive main | tar -x
-C /tmp/old``), in a fresh interpreter so each imports its own code: a fresh database (a
SQLite file, or a fresh PostgreSQL database next to ``DATABASE_URL`` with ``--db
postgres``), a class of 35 (tests/factories.py), its ACTIVE session, the teacher logged in
through the /login form and listening to the session over Socket.IO (flask_socketio's test
client, as the roster page does in a lesson), then ``--taps`` taps (the page's htmx ``POST
…/status``: cookie login, CSRF header) cycling through the students and statuses.

Every Python and C call made inside ``Flask.wsgi_app`` is counted (``sys.setprofile``; the
test client's own work outside it is not), each given to the innermost *part* on the stack:
the functions below mark where a part starts. A part's figure is its own calls, not those of
a part it calls (the user's load inside the session clock counts as the user's load).
Exact whatever the machine's load; run the checkouts one after another and compare.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import logging, os, re, sys, tempfile
root, taps, db_kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, root)
os.chdir(root)
from bench.bench_marking import migrated_app
from tests import factories
from tests.web.conftest import csrf_from, htmx_headers

if db_kind == "sqlite":
    os.environ.pop("DATABASE_URL", None)
else:
    os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
app, drop = migrated_app()
logging.disable(logging.INFO)
# (file ending, function name) -> part; the innermost marked function on the stack wins.
PARTS = {
    ("flask_login/login_manager.py", "_load_user"): "user load (Flask-Login + loader)",
    ("services/school/people.py", "load_user_for_login"): "user load (Flask-Login + loader)",
    ("web/auth.py", "_session_clock"): "session clock (touch, two-factor)",
    ("attendance_app/cookie_session.py", "open_session"): "session cookie (open + save)",
    ("attendance_app/cookie_session.py", "save_session"): "session cookie (open + save)",
    ("attendance_app/csrf.py", "protect"): "CSRF",
    ("werkzeug/wrappers/request.py", "_load_form_data"): "form parse",
    ("web/roster.py", "roster_set_status"): "view (own work)",
    ("services/marking/taps.py", "set_status"): "tap service (before commit)",
    ("services/events.py", "dispatch_committed"): "after commit (broadcast)",
    ("services/marking/roster.py", "tile"): "tile read",
    ("attendance_app/web/__init__.py", "render_partial"): "render",
}
OTHER = "Flask/Werkzeug around the view"
try:
    admin = factories.make_admin(app)
    klass = factories.make_class(app, admin=admin, students=35)
    sid = factories.make_session(app, klass)
    from attendance_app.extensions import socketio
    listener = socketio.test_client(app, auth={"token": klass.teacher.token})
    joined = listener.emit("join_session", {"session_id": str(sid)}, callback=True)
    assert joined["ok"], joined
    browser = app.test_client()
    page = browser.get("/login")
    r = browser.post("/login", data={"email": klass.teacher.email, "password": factories.PASSWORD,
                                      "csrf_token": csrf_from(page.text)})
    assert r.status_code == 302, r.status_code
    headers = htmx_headers(browser.get(f"/sessions/{sid}").text)
    students = klass.students
    n = len(students)

    def tap(i):
        student = students[i % n]
        status = ("ABSENT", "LATE", "PRESENT")[(i // n) % 3]
        r = browser.post(f"/sessions/{sid}/students/{student.profile_id}/status",
                         data={"status": status}, headers=headers)
        assert r.status_code == 200, r.text
        assert any(m["name"] == "attendance" for m in listener.get_received())

    for i in range(2 * n):  # warm: every student marked once, then changed once
        tap(i)
    counts = {}
    stack = []
    marks = {}

    def part_of(code):
        found = marks.get(code)
        if found is None:
            found = ""
            for (ending, name), part in PARTS.items():
                if code.co_name == name and code.co_filename.endswith(ending):
                    found = part
            marks[code] = found
        return found

    def profiler(frame, event, arg):
        if event == "call":
            part = part_of(frame.f_code)
            if part:
                stack.append((frame, part))
            current = stack[-1][1] if stack else OTHER
            counts[current] = counts.get(current, 0) + 1
        elif event == "c_call":
            current = stack[-1][1] if stack else OTHER
            counts[current] = counts.get(current, 0) + 1
        elif event == "return":
            if stack and stack[-1][0] is frame:
                stack.pop()

    inner = app.wsgi_app

    def counted(environ, start_response):
        sys.setprofile(profiler)
        try:
            return inner(environ, start_response)
        finally:
            sys.setprofile(None)

    app.wsgi_app = counted
    for i in range(2 * n, 2 * n + taps):
        tap(i)
    app.wsgi_app = inner
    total = sum(counts.values())
    for part, calls in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"| {part} | {calls / taps:,.0f} |")
    print(f"| **total** | **{total / taps:,.0f}** |")
finally:
    drop()
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.tap_parts", description=__doc__)
    parser.add_argument("--taps", type=int, default=60)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("roots", nargs="*", default=[str(ROOT)])
    args = parser.parse_args(argv)
    for root in args.roots:
        print(f"\n{root} ({args.db})\n\n| part | Python calls per tap |\n|---|---|", flush=True)
        subprocess.run(
            [sys.executable, "-c", _CHILD, str(Path(root).resolve()), str(args.taps), args.db],
            cwd=root,
            check=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
