"""Roster taps under load, as a percentage of the bare floor's req/s in the same run.

    .venv/bin/python -m bench.taps [--db sqlite|postgres] [--mode eventlet|gevent]
                                   [--seconds 8] [--conc 8] [--roster 35] [--listeners 1]
                                   [--profile OUT]

Issue 10 asks that marks, PATCHes *and roster taps* reach 10 % of the floor; ``make bench``
(perfcmp) drives only the JSON API, so the tap, the one request a teacher makes thirty times a
lesson, had no load figure. This starts the floor (``../shared/bench/floor``) and our server
(one process, fresh database, production settings), builds perfcmp's school (a teacher, a class
of ``--roster`` students, an ACTIVE session), then runs, with ``--conc`` connections for
``--seconds`` each: the floor's ``GET /api/ping``, our taps, the floor again. A tap is what the
page sends: the teacher's cookie session (logged in through the real form), htmx's headers with
the page's CSRF token, ``POST /sessions/<id>/students/<id>/status`` with a ``status``; each
connection taps its own students round and round (PRESENT → LATE → ABSENT), so the first round
creates records and the rest change them, and no two connections touch the same record.
Meanwhile ``--listeners`` Socket.IO clients (default one: the teacher's own page) are joined to
the session, so every tap also pays its broadcast, as in a lesson.

Passwords are hashed cheaply unless ``BENCH_PASSWORD_HASH`` says otherwise (each connection
logs in once, before the clock starts).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid

from bench.common import ADMIN_EMAIL, ADMIN_PASSWORD, Stack, floor, load_perfcmp, ours, quantile
from bench.fanout import Listeners
from bench.perf import floor_rps, header
from bench.schoolday import start_profile, summarize_profile
from bench.versus import CHEAP_HASH

TEACHER_PASSWORD = "teacher-pass-123"  # perfcmp's build_school
_CSRF = re.compile(r'<meta\s+name="csrf-token"\s+content="([^"]+)"')
_INPUT_CSRF = re.compile(r'<input\b[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')


class Browser:
    """One keep-alive connection with a cookie jar: the page's side of a tap."""

    def __init__(self, base: str) -> None:
        url = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        self.cookies: dict[str, str] = {}

    def call(
        self, method: str, path: str, form: dict | None = None, headers: dict | None = None
    ) -> tuple[int, str]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=sent)
        response = self.conn.getresponse()
        text = response.read().decode()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response.status, text


def csrf(html: str) -> str:
    found = _CSRF.search(html) or _INPUT_CSRF.search(html)
    if not found:
        raise SystemExit("bench.taps: the page carries no CSRF token")
    return found.group(1)


def login(base: str, email: str, session_id: str) -> tuple[Browser, dict]:
    """A logged-in teacher's connection and the headers htmx sends from the roster page."""
    browser = Browser(base)
    _, page = browser.call("GET", "/login")
    form = {"email": email, "password": TEACHER_PASSWORD, "csrf_token": csrf(page)}
    status, _ = browser.call("POST", "/login", form)
    if status != 302:
        raise SystemExit(f"bench.taps: login answered {status}")
    status, roster = browser.call("GET", f"/sessions/{session_id}")
    if status != 200:
        raise SystemExit(f"bench.taps: the roster page answered {status}")
    return browser, {"HX-Request": "true", "X-CSRFToken": csrf(roster)}


def tap_load(base: str, school: dict, seconds: float, conc: int) -> dict:
    """``conc`` teachers' connections tapping for ``seconds``: req/s, p50/p95 ms, errors."""
    session_id, students = school["session"], school["students"]
    logged_in = [login(base, school["email"], session_id) for _ in range(conc)]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        browser, headers = logged_in[k]
        mine = students[k::conc]
        i = 0
        while time.perf_counter() < stop:
            student = mine[i % len(mine)]
            status = ("PRESENT", "LATE", "ABSENT")[(i // len(mine)) % 3]
            path = f"/sessions/{session_id}/students/{student}/status"
            started = time.perf_counter()
            code, _ = browser.call("POST", path, {"status": status}, headers)
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                if code != 200:
                    errors[0] += 1
            i += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conc)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": len(latencies) / wall,
        "p50": quantile(latencies, 0.5) * 1000,
        "p95": quantile(latencies, 0.95) * 1000,
        "n": len(latencies),
        "errors": errors[0],
    }


def build_school(base: str, roster: int) -> dict:
    """A teacher (whose email the bench knows, to log in through the form), ``roster``
    students, a class and an ACTIVE session, over the contract's API as perfcmp builds its."""
    perfcmp = load_perfcmp()
    admin = perfcmp.Client(base)
    answer = admin.call(
        "POST", "/api/auth/token/", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    api = perfcmp.Client(base, perfcmp.expect(*answer, 200, "admin token")["token"])
    tag = uuid.uuid4().hex[:8]
    email = f"tap-teacher-{tag}@example.com"

    def made(path: str, body: dict, what: str, code: int = 201) -> dict:
        return perfcmp.expect(*api.call("POST", path, body), code, what)

    teacher = made("/api/users/", {"email": email, "password": TEACHER_PASSWORD,
                                   "first_name": "Tap", "last_name": "Teacher",
                                   "role": "TEACHER"}, "teacher")  # fmt: skip
    students = [
        made("/api/users/", {"email": f"tap-{tag}-{i}@example.com", "password": "student-pass-123",
                             "first_name": f"S{i}", "last_name": "Student", "role": "STUDENT",
                             "student_id": f"T{tag}{i:05d}"}, "student")["student"]["id"]
        for i in range(roster)
    ]  # fmt: skip
    subject = made("/api/subjects/", {"code": f"T{tag}", "name": "Taps"}, "subject")
    klass = made("/api/classes/", {"subject_id": subject["id"], "name": f"T{tag}",
                                   "teacher_id": teacher["teacher"]["id"]}, "class")  # fmt: skip
    made(f"/api/classes/{klass['id']}/enrollments/", {"student_ids": students}, "enrol")
    session = made("/api/sessions/", {"class_id": klass["id"]}, "session")
    made(f"/api/sessions/{session['id']}/start/", {}, "start", 200)
    return {"email": email, "session": session["id"], "students": students}


def teacher_token(base: str, email: str) -> str:
    perfcmp = load_perfcmp()
    answer = perfcmp.Client(base).call(
        "POST", "/api/auth/token/", {"email": email, "password": TEACHER_PASSWORD}
    )
    return perfcmp.expect(*answer, 200, "teacher token")["token"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.taps", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--mode", choices=["eventlet", "gevent"], default="eventlet")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--conc", type=int, default=8)
    parser.add_argument("--roster", type=int, default=35)
    parser.add_argument(
        "--listeners",
        type=int,
        default=1,
        help="Socket.IO clients joined to the session meanwhile (default 1: the teacher's own "
        "roster page, which every real tap has open); 0 for none",
    )
    parser.add_argument(
        "--profile", metavar="OUT", help="sample our server with py-spy during the taps (OUT.txt)"
    )
    args = parser.parse_args(argv)
    if args.roster < args.conc:
        parser.error("--roster must be at least --conc (each connection taps its own students)")
    os.environ.setdefault("BENCH_PASSWORD_HASH", CHEAP_HASH)
    perfcmp = load_perfcmp()
    header(args, "roster taps under load vs the floor")
    with Stack() as stack:
        bare = floor(stack)
        us = ours(stack, args.db, args.mode)
        school = build_school(us.url, args.roster)
        before = floor_rps(perfcmp, bare.url, args.seconds, args.conc)
        listening = contextlib.nullcontext()
        if args.listeners:
            token = teacher_token(us.url, school["email"])
            listening = Listeners(us.url, token, school["session"], args.listeners, procs=1)
        with listening as listeners:
            if listeners is not None and listeners.error_count:
                raise SystemExit(f"bench.taps: listeners failed: {listeners.errors}")
            spy = start_profile(stack, us.pid, args.seconds, args.profile) if args.profile else None
            taps = tap_load(us.url, school, args.seconds, args.conc)
            if spy is not None:
                spy.popen.wait(60)
            heard = len(listeners.collect()) if listeners is not None else 0
        after = floor_rps(perfcmp, bare.url, args.seconds, args.conc)
    floor_mean = (before["rps"] + after["rps"]) / 2
    if args.listeners:
        print(f"listeners: {args.listeners}, statistics events received: {heard}")
    print(f"floor GET /api/ping: {before['rps']:.0f} req/s before, {after['rps']:.0f} after")
    print(
        f"taps ({args.db}, {args.mode}, {args.conc} connections): {taps['rps']:.0f} req/s "
        f"(p50 {taps['p50']:.1f} ms, p95 {taps['p95']:.1f} ms, {taps['n']} taps), "
        f"{taps['rps'] / floor_mean * 100:.1f} % of the floor (goal ≥ 10 %); "
        f"errors (not 200): {taps['errors'] + before['errors'] + after['errors']}"
    )
    if args.profile:
        print(summarize_profile(args.profile, 25))
    return 0 if taps["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
