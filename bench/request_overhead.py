"""What every request pays around the view: a few cheap requests, in process, per checkout.

    .venv/bin/python -m bench.request_overhead [--runs 300] [ROOT ...]

For each checkout ROOT (default: this one; an old one made with ``git archive main | tar -x
-C /tmp/old``), in a fresh interpreter so each imports its own code: a fresh SQLite file,
``make_classroom`` and an ACTIVE session (tests/factories.py), a teacher logged in through
the /login form, then per request kind the Python calls of one request (cProfile) and the
CPU time per request (``time.process_time()``, the best of 5 batches of ``--runs``).
The kinds: a token-authenticated session detail (200) and unknown session (404), no
credentials (401), an /api/ path with no route (404: the pipeline with no view and no
database), and two pages (home, roster). Run the checkouts alternately, twice at least.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import cProfile, logging, os, pstats, re, sys, tempfile, time, uuid
root, runs = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, root)
os.chdir(root)
from flask_migrate import upgrade
from attendance_app import create_app
from tests import factories
from tests.conftest import TEST_SETTINGS
folder = tempfile.mkdtemp(prefix="request-overhead-")
url = "sqlite:///" + os.path.join(folder, "db.sqlite3")
app = create_app({**TEST_SETTINGS, "TESTING": False, "SQLALCHEMY_DATABASE_URI": url})
logging.disable(logging.INFO)
with app.app_context():
    upgrade()
room = factories.make_classroom(app)
sid = factories.make_session(app, room.klass)
unknown = uuid.UUID(int=1)
bearer = {"Authorization": f"Bearer {room.admin.token}"}
api, web = app.test_client(), app.test_client()
form = web.get("/login").get_data(as_text=True)
csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
login = {"email": room.teacher.email, "password": factories.PASSWORD, "csrf_token": csrf}
assert web.post("/login", data=login).status_code == 302
kinds = [
    ("API session detail", 200, lambda: api.get(f"/api/sessions/{sid}/", headers=bearer)),
    ("API unknown session", 404, lambda: api.get(f"/api/sessions/{unknown}/", headers=bearer)),
    ("API no credentials", 401, lambda: api.get(f"/api/sessions/{sid}/")),
    ("API no route", 404, lambda: api.get("/api/nothing-here/", headers=bearer)),
    ("page: home", 200, lambda: web.get("/")),
    ("page: roster", 200, lambda: web.get(f"/sessions/{sid}")),
]
for label, status, send in kinds:
    assert send().status_code == status, label
    for _ in range(50):
        send()
    profile = cProfile.Profile()
    profile.enable()
    send()
    profile.disable()
    calls = pstats.Stats(profile).total_calls
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(runs):
            send()
        best = min(best, (time.process_time() - start) / runs)
    print(f"| {label} | {calls} | {best * 1e6:.0f} |", flush=True)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.request_overhead", description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("roots", nargs="*", default=[str(ROOT)])
    args = parser.parse_args(argv)
    for root in args.roots:
        print(f"\n{root}\n\n| request | Python calls | µs CPU / request |", flush=True)
        print("|---|---|---|", flush=True)
        subprocess.run(
            [sys.executable, "-c", _CHILD, str(Path(root).resolve()), str(args.runs)],
            cwd=root,
            check=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
