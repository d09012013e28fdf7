"""A school day over the contract's API, then a check of what the server kept against what it
acknowledged.

    .venv/bin/python -m bench.schoolday --targets us:sqlite:eventlet,us:postgres:gevent,drf:postgres
    .venv/bin/python -m bench.schoolday --targets us:postgres:gevent:x1,us:postgres:gevent:x2
    .venv/bin/python -m bench.schoolday --targets mine=http://127.0.0.1:5000   # already running

Targets (run one after another, each on fresh servers and a fresh database):
``us:DB:MODE`` our server, one process (``flask --app wsgi serve``); ``us:DB:MODE:xN`` N
processes on Redis behind nginx with ``deploy/nginx.conf``; ``drf:DB`` the DRF peer
(``../shared/bench/drf-peer``); ``NAME=URL`` any server that speaks the contract and has the
admin ``admin@example.com`` / ``admin-pass-123``.

The school (over the API, as the admin): a pool of students, ``--teachers`` teachers with
``--classes`` classes each, every class a random ``--class-size`` of the pool (students take
several subjects, as in a school). Then every teacher, in a thread of their own and without
pause, gives lessons, one after another, for ``--seconds`` (a lesson under way is finished):
create and start a session, open it, mark most students one by one (opening the session again
every few marks, and now and then sending a mark twice, which must answer 409), correct some
(PATCH), mark a group in one bulk request, mark the rest absent with ``bulk-mark``, open it,
look at a student's history, end it, and now and then try a correction after the end (must
answer 400). Every response must have the contract's status code; anything else, or no
answer, is an error.

Afterwards, as the admin, every session the teachers touched is read back: each acknowledged
record must be there once, for its student, with the last acknowledged status; every student
of the class must have exactly one record; the statistics must agree with the records; ended
sessions must be ENDED. Prints requests/s, p50/p95 (overall and per kind of request) and the
check: lost, duplicated and wrong records, errors. Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ADMIN_EMAIL, ADMIN_PASSWORD, Stack, drf_peer, ours, quantile
from bench.perf import header

STATUSES = ("PRESENT", "ABSENT", "LATE")


class Error(Exception):
    pass


class Client:
    """One keep-alive HTTP connection with a token; records the latency of every call."""

    def __init__(self, base: str, token: str | None = None, stats: Stats | None = None):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.token = token
        self.stats = stats
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(self, kind: str, method: str, path: str, body=None, expect: int = 200):
        if kind == "setup":  # setup may leave a connection idle past the keep-alive timeout
            for attempt in range(2):
                try:
                    return self._call(kind, method, path, body, expect)
                except Error:
                    if attempt:
                        raise
        return self._call(kind, method, path, body, expect)

    def _call(self, kind: str, method: str, path: str, body, expect: int):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError) as err:
            # A dropped keep-alive connection is the client's matter, not the server's: a
            # request that was never answered is still counted as an error, never retried
            # (a retried mark would not be "what the server acknowledged").
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            if self.stats:
                self.stats.error(kind, f"{method} {path}: {err!r}")
            raise Error(str(err)) from err
        elapsed = time.perf_counter() - started
        if self.stats:
            self.stats.record(kind, elapsed)
        if response.status != expect:
            if self.stats:
                self.stats.error(kind, f"{method} {path}: {response.status} {raw[:200]!r}")
            raise Error(f"{method} {path}: expected {expect}, got {response.status}")
        return json.loads(raw) if raw else None


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors.append(f"{kind}: {what}")


@dataclass
class Lesson:
    """What the server acknowledged for one session."""

    session_id: str
    roster: list[str]
    acked: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # student → (id, status)
    ended: bool = False


# --- the school -------------------------------------------------------------------------------


def build_school(base: str, args: argparse.Namespace, rng: random.Random) -> dict:
    anon = Client(base)
    login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    admin = Client(base, anon.call("setup", "POST", "/api/auth/token/", login)["token"])
    tag = uuid.uuid4().hex[:8]
    person = {"password": "school-pass-123", "last_name": "Day"}
    numbers: dict[str, str] = {}  # student number → Student id
    for i in range(args.students):
        body = {
            **person,
            "email": f"s{tag}{i}@example.com",
            "first_name": f"S{i}",
            "role": "STUDENT",
            "student_id": f"D{tag}{i:04d}",
        }
        created = admin.call("setup", "POST", "/api/users/", body, 201)
        numbers[created["student"]["student_id"]] = created["student"]["id"]
    pool = list(numbers.values())
    subject = admin.call("setup", "POST", "/api/subjects/", {"code": f"D{tag}", "name": "Day"}, 201)
    teachers = []
    for t in range(args.teachers):
        email = f"t{tag}{t}@example.com"
        body = {**person, "email": email, "first_name": f"T{t}", "role": "TEACHER"}
        teacher_id = admin.call("setup", "POST", "/api/users/", body, 201)["teacher"]["id"]
        classes = []
        for c in range(args.classes):
            body = {
                "subject_id": subject["id"],
                "name": f"D{tag} {t}-{c}",
                "teacher_id": teacher_id,
            }
            klass = admin.call("setup", "POST", "/api/classes/", body, 201)
            roster = rng.sample(pool, args.class_size)
            path = f"/api/classes/{klass['id']}/enrollments/"
            admin.call("setup", "POST", path, {"student_ids": roster}, 201)
            classes.append((klass["id"], roster))
        login = {"email": email, "password": person["password"]}
        token = anon.call("setup", "POST", "/api/auth/token/", login)["token"]
        teachers.append({"token": token, "classes": classes})
    return {"admin": admin.token, "teachers": teachers, "numbers": numbers}


# --- a teacher's day --------------------------------------------------------------------------


def give_lesson(api: Client, class_id: str, roster: list[str], numbers, rng, lessons) -> None:
    session = api.call("create", "POST", "/api/sessions/", {"class_id": class_id}, 201)
    lesson = Lesson(session["id"], roster)
    lessons.append(lesson)
    sid = lesson.session_id
    view = f"/api/attendance/session/{sid}/"
    api.call("start", "POST", f"/api/sessions/{sid}/start/", None, 200)
    api.call("view", "GET", view)
    order = roster[:]
    rng.shuffle(order)
    n_single, n_bulk = int(len(order) * 0.6), int(len(order) * 0.25)
    singles, bulk, rest = (
        order[:n_single],
        order[n_single : n_single + n_bulk],
        order[n_single + n_bulk :],
    )

    def status() -> str:
        return rng.choices(STATUSES, weights=(80, 10, 10))[0]

    for k, student in enumerate(singles, start=1):
        body = {"session_id": sid, "student_id": student, "status": status()}
        rec = api.call("mark", "POST", "/api/attendance/mark/", body, 201)["attendance"]
        if rec["student"]["id"] != student or rec["status"] != body["status"]:
            api.stats.error("mark", f"acknowledged {rec} for {body}")
        lesson.acked[student] = (rec["id"], rec["status"])
        if rng.random() < 0.05:  # a double tap: the second must be refused
            api.call("mark twice", "POST", "/api/attendance/mark/", body, 409)
        if k % 6 == 0:
            api.call("view", "GET", view)
    for student in rng.sample(singles, len(singles) // 5):  # corrections
        record_id, old = lesson.acked[student]
        new = rng.choice([s for s in STATUSES if s != old])
        body = {"status": new, "notes": "corrected"} if rng.random() < 0.3 else {"status": new}
        rec = api.call("patch", "PATCH", f"/api/attendance/{record_id}/", body)["attendance"]
        if rec["id"] != record_id or rec["status"] != new:
            api.stats.error("patch", f"acknowledged {rec} for {body}")
        lesson.acked[student] = (record_id, new)
    if bulk:
        records = [{"student_id": s, "status": status()} for s in bulk]
        body = {"session_id": sid, "records": records}
        done = api.call("bulk mark", "POST", "/api/attendance/mark/", body, 201)
        for sent, rec in zip(records, done["attendance_records"], strict=True):
            student = numbers.get(rec["student_id"])
            if student != sent["student_id"] or rec["status"] != sent["status"]:
                api.stats.error("bulk mark", f"acknowledged {rec} for {sent}")
            lesson.acked[sent["student_id"]] = (rec["id"], rec["status"])
    body = {"session_id": sid, "default_status": "ABSENT"}
    done = api.call("bulk-mark rest", "POST", "/api/attendance/bulk-mark/", body, 201)
    if done["count"] != len(rest):
        api.stats.error("bulk-mark rest", f"count {done['count']}, expected {len(rest)}")
    for student in rest:
        lesson.acked[student] = (None, "ABSENT")
    api.call("view", "GET", view)
    api.call("history", "GET", f"/api/attendance/student/{rng.choice(roster)}/")
    api.call("end", "POST", f"/api/sessions/{sid}/end/", None, 200)
    lesson.ended = True
    if rng.random() < 0.2:  # a correction after the end is refused (rule 3)
        record_id = lesson.acked[singles[0]][0]
        api.call("patch locked", "PATCH", f"/api/attendance/{record_id}/", {"status": "LATE"}, 400)


def teacher_day(base, teacher, numbers, stats, deadline, seed, lessons) -> None:
    rng = random.Random(seed)
    api = Client(base, teacher["token"], stats)
    api.stats = stats
    n = 0
    while time.monotonic() < deadline:
        class_id, roster = teacher["classes"][n % len(teacher["classes"])]
        n += 1
        try:
            give_lesson(api, class_id, roster, numbers, rng, lessons)
        except Error:
            continue  # counted; the next lesson starts afresh


# --- the check --------------------------------------------------------------------------------


def check(base: str, admin_token: str, lessons: list[Lesson]) -> Counter:
    api = Client(base, admin_token)
    out: Counter = Counter()
    for lesson in lessons:
        out["sessions"] += 1
        body = api.call("check", "GET", f"/api/attendance/session/{lesson.session_id}/")
        records = body["records"]
        out["records"] += len(records)
        by_student = defaultdict(list)
        for rec in records:
            by_student[rec["student"]["id"]].append(rec)
        out["duplicated"] += sum(len(v) - 1 for v in by_student.values() if len(v) > 1)
        out["wrong"] += sum(len(v) for s, v in by_student.items() if s not in lesson.acked)
        for student, (record_id, status) in lesson.acked.items():
            kept = by_student.get(student, [])
            if not kept:
                out["lost"] += 1
            elif (record_id and kept[0]["id"] != record_id) or kept[0]["status"] != status:
                out["wrong"] += 1
        stats = body["statistics"]
        counts = Counter(rec["status"] for rec in records)
        expected = {
            "present": counts["PRESENT"],
            "absent": counts["ABSENT"],
            "late": counts["LATE"],
            "not_marked": stats["total_enrolled"] - len(records),
        }
        if any(stats[k] != v for k, v in expected.items()):
            out["wrong statistics"] += 1
        if lesson.ended and (
            body["session"]["status"] != "ENDED" or not body["session"]["is_locked"]
        ):
            out["wrong session status"] += 1
        if lesson.ended and len(by_student) != len(lesson.roster):
            out["lost"] += len(lesson.roster) - len(by_student)
    return out


# --- running it -------------------------------------------------------------------------------


def start_profile(stack: Stack, pid: int, seconds: float, out: str):
    """py-spy samples the server (without pausing it) for the load's duration."""
    import shutil

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    argv = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    return stack.spawn("py-spy", [*argv, "--nonblocking", "--format", "raw", "--output", out])


def summarize_profile(path: str, top: int = 25) -> str:
    """The functions of our code (and the libraries' biggest) by share of samples they are
    on the stack of (inclusive), from py-spy's collapsed stacks."""
    total = 0
    inclusive: Counter = Counter()
    own: Counter = Counter()
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return f"(no profile at {path})"
    for line in lines:
        stack_text, _, count = line.rpartition(" ")
        if not count.isdigit():  # a frame whose source text holds a newline (generated code)
            continue
        n = int(count)
        frames = stack_text.split(";")
        total += n
        names = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in frames]
        for name in set(names):
            inclusive[name] += n
        own[names[-1]] += n
    if not total:
        return "(empty profile)"
    rows = [f"profile {path}: {total} samples", "| inclusive | self | function |", "|---|---|---|"]
    interesting = [
        (name, n)
        for name, n in inclusive.most_common()
        if "attendance_app" in name or own[name] / total > 0.02
    ]
    for name, n in interesting[:top]:
        rows.append(f"| {n / total:.0%} | {own[name] / total:.0%} | {name} |")
    return "\n".join(rows)


def run_school_day(base: str, args: argparse.Namespace, profile=None) -> dict:
    """The school day against ``base``; ``profile(seconds)`` is called as the load starts."""
    rng = random.Random(args.seed)
    started = time.monotonic()
    school = build_school(base, args, rng)
    setup = time.monotonic() - started
    if profile:
        profile(args.seconds)
    stats = Stats()
    lessons: list[Lesson] = []
    deadline = time.monotonic() + args.seconds
    threads = [
        threading.Thread(
            target=teacher_day,
            args=(base, t, school["numbers"], stats, deadline, args.seed + i, lessons),
        )
        for i, t in enumerate(school["teachers"])
    ]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    verdict = check(base, school["admin"], lessons)
    every = sorted(v for values in stats.latencies.values() for v in values)
    return {
        "setup": setup,
        "wall": wall,
        "requests": len(every),
        "rps": len(every) / wall,
        "p50": quantile(every, 0.5) * 1000,
        "p95": quantile(every, 0.95) * 1000,
        "kinds": {k: sorted(v) for k, v in stats.latencies.items()},
        "errors": stats.errors,
        "lessons": sum(1 for lesson in lessons if lesson.ended),
        "check": verdict,
    }


def start_target(stack: Stack, spec: str):
    """(name, base URL, server pid or None) of a target spec, starting its servers."""
    if "=" in spec:
        name, url = spec.split("=", 1)
        return name, url.rstrip("/"), None
    parts = spec.split(":")
    if parts[0] == "drf" and len(parts) == 2:
        return spec, drf_peer(stack, parts[1]).url, None
    if parts[0] == "us" and len(parts) in (3, 4):
        processes = int(parts[3].lstrip("x")) if len(parts) == 4 else 0
        proc = ours(stack, parts[1], parts[2], processes)
        return spec, proc.url, None if processes else proc.pid
    raise SystemExit(f"schoolday: unknown target {spec!r} (us:DB:MODE[:xN], drf:DB, NAME=URL)")


def report(name: str, r: dict) -> None:
    c = r["check"]
    print(
        f"\n## {name}: {r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms "
        f"({r['requests']} requests in {r['wall']:.1f}s; {r['lessons']} lessons; "
        f"school built in {r['setup']:.0f}s)"
    )
    print("| request | n | p50 ms | p95 ms |\n|---|---|---|---|")
    for kind, values in sorted(r["kinds"].items(), key=lambda kv: -len(kv[1])):
        if kind == "setup":
            continue
        print(
            f"| {kind} | {len(values)} | {quantile(values, 0.5) * 1000:.1f} | "
            f"{quantile(values, 0.95) * 1000:.1f} |"
        )
    problems = {k: v for k, v in c.items() if k not in ("sessions", "records")}
    print(
        f"check: {c['sessions']} sessions, {c['records']} records read back; lost "
        f"{c['lost']}, duplicated {c['duplicated']}, wrong {c['wrong']}"
        + "".join(
            f", {k} {v}" for k, v in problems.items() if k not in ("lost", "duplicated", "wrong")
        )
        + f"; errors {len(r['errors'])}",
        flush=True,
    )
    for line in r["errors"][:5]:
        print(f"  error: {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.schoolday", description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="us:sqlite:eventlet,drf:sqlite")
    parser.add_argument("--teachers", type=int, default=8)
    parser.add_argument("--classes", type=int, default=3, help="classes per teacher")
    parser.add_argument("--class-size", type=int, default=30)
    parser.add_argument("--students", type=int, default=96, help="students in the school")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--profile", metavar="PREFIX", help="py-spy our one-process targets: PREFIX-TARGET.txt"
    )
    args = parser.parse_args(argv)
    header(args, "school day")
    results = []
    for spec in args.targets.split(","):
        with Stack() as stack:
            name, base, pid = start_target(stack, spec.strip())
            spies: list = []
            out = f"{args.profile}-{name.replace(':', '-')}.txt"

            def profile(seconds, pid=pid, out=out, spies=spies):
                spies.append(start_profile(stack, pid, seconds, out))

            result = run_school_day(base, args, profile if args.profile and pid else None)
            report(name, result)
            results.append((name, result))
            for spy in spies:
                spy.popen.wait(60)
                print(spy.tail(3), summarize_profile(out), sep="\n")
    first = results[0][1]["rps"]
    print("\n| target | req/s | p50 ms | p95 ms | ÷ first | lost | duplicated | wrong | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    bad = 0
    for name, r in results:
        c = r["check"]
        wrong = sum(v for k, v in c.items() if k.startswith("wrong"))
        bad += c["lost"] + c["duplicated"] + wrong + len(r["errors"])
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} "
            f"| {r['rps'] / first:.2f}× | {c['lost']} | {c['duplicated']} | {wrong} "
            f"| {len(r['errors'])} |"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
