"""Live fan-out: how long a mark takes to reach every open view of its session, for our server
and for the floor's bare ``statistics`` emitter, side by side in one run.

    .venv/bin/python -m bench.fanout [--db sqlite|postgres] [--mode eventlet|gevent]
                                     [--queue [URL]] [--processes N]
                                     [--listeners 50,200] [--marks 30] [--interval 0.3]
                                     [--procs 4] [--repeat 2]

Starts our server (one process, fresh database; with ``--queue``, emitting through that
message queue, default the local Redis, on a channel of its own, as a deployment's processes
do; with ``--processes N``, N such processes behind nginx, ``deploy/nginx.conf``) and the
floor (``../shared/bench/floor``).
For each listener count, each repetition and each server (alternating which goes first):
builds a teacher, a class and an ACTIVE session over the API; connects N Socket.IO clients
over WebSocket with the teacher's token, spread over ``--procs`` client processes (asyncio,
python-socketio's AsyncClient), each joined to the session; then marks ``--marks`` students
one at a time, one every ``--interval`` seconds, through the API. A listener's latency for the
k-th mark is from just before its POST to the arrival of the first ``statistics`` event that
counts k marked students (all processes read the same monotonic clock); likewise to the first
``attendance`` event carrying the k-th student's record. Prints p50/p95/max per server, the
missed deliveries (N × marks − received) and our p95 as a ratio to the floor's, for each event.
Loopback only; bounded (connect and delivery waits time out).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import sys
import time
import uuid

from bench.common import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    REDIS_URL,
    Stack,
    floor,
    ours,
    quantile,
)
from bench.perf import header
from bench.schoolday import Client

CONNECT_AT_ONCE = 20  # per client process: simultaneous handshakes


# --- listeners (in client processes) ----------------------------------------------------------


async def _listen(url, token, session_id, count, conn, first_index, timeout, records) -> None:
    import socketio

    # (listener, marked count or the record's student id, monotonic time)
    arrivals: list[tuple[int, int | str, float]] = []
    clients: list = []
    errors: list[str] = []
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one(i: int) -> None:
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False)

        def on_statistics(data, i=i) -> None:
            s = data["statistics"]
            arrivals.append((i, s["present"] + s["absent"] + s["late"], time.monotonic()))

        def on_attendance(data, i=i) -> None:
            at = time.monotonic()
            arrivals.extend((i, r["student"]["id"], at) for r in data["records"])

        client.on("statistics", on_statistics)
        if records:
            client.on("attendance", on_attendance)
        try:
            async with gate:
                connect = client.connect(
                    url, auth={"token": token}, transports=["websocket"], wait_timeout=timeout
                )
                await asyncio.wait_for(connect, timeout)
                if session_id:
                    room = (
                        session_id
                        if isinstance(session_id, str)
                        else session_id[i % len(session_id)]
                    )
                    join = client.call("join_session", {"session_id": room}, timeout=timeout)
                    ack = await asyncio.wait_for(join, timeout)
                    if not ack.get("ok"):
                        raise RuntimeError(f"join refused: {ack}")
            clients.append(client)
        except Exception as err:  # noqa: BLE001 - counted and reported, not fatal
            errors.append(f"{type(err).__name__}: {err}")

    await asyncio.gather(*(one(first_index + i) for i in range(count)))
    conn.send(("ready", len(clients), errors[:3], len(errors)))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # "stop"
    conn.send(("data", arrivals))

    async def close(client) -> None:
        with contextlib.suppress(Exception):  # the server may already be gone
            await asyncio.wait_for(client.disconnect(), 5)

    await asyncio.gather(*(close(c) for c in clients))


def listener_process(url, token, session_id, count, conn, first_index, timeout, records) -> None:
    asyncio.run(_listen(url, token, session_id, count, conn, first_index, timeout, records))


class Listeners:
    """N Socket.IO clients spread over ``procs`` processes, connected and joined on entry
    (to ``session_id``, or listener i to ``session_id[i % len]`` when it is a list).
    ``collect()`` gives each ``statistics`` event's (listener, marked, time) and, with
    ``records``, each ``attendance`` record's (listener, student id, time)."""

    def __init__(
        self,
        url,
        token,
        session_id,
        n: int,
        procs: int,
        timeout: float = 30,
        records: bool = False,
    ):
        self.url, self.token, self.session_id, self.n = url, token, session_id, n
        self.timeout, self.records = timeout, records
        self.procs = max(1, min(procs, n))
        self.connected = 0
        self.errors: list[str] = []
        self.error_count = 0

    def __enter__(self) -> Listeners:
        ctx = multiprocessing.get_context("spawn")
        self.pipes, self.children = [], []
        first = 0
        for p in range(self.procs):
            count = self.n // self.procs + (1 if p < self.n % self.procs else 0)
            mine, theirs = ctx.Pipe()
            child = ctx.Process(
                target=listener_process,
                args=(
                    self.url,
                    self.token,
                    self.session_id,
                    count,
                    theirs,
                    first,
                    self.timeout,
                    self.records,
                ),
                daemon=True,
            )
            child.start()
            self.pipes.append(mine)
            self.children.append(child)
            first += count
        for pipe in self.pipes:
            if not pipe.poll(600):
                raise SystemExit("fanout: listeners did not connect within 600 s")
            _, connected, errors, error_count = pipe.recv()
            self.connected += connected
            self.errors += errors
            self.error_count += error_count
        return self

    def collect(self) -> list[tuple[int, int | str, float]]:
        arrivals = []
        for pipe in self.pipes:
            pipe.send("stop")
        for pipe in self.pipes:
            if pipe.poll(60):
                arrivals += pipe.recv()[1]
        return arrivals

    def __exit__(self, *exc) -> None:
        for child in self.children:
            child.join(30)
            if child.is_alive():
                child.kill()


# --- one measurement --------------------------------------------------------------------------


def admin_client(base: str) -> Client:
    login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    return Client(base, Client(base).call("setup", "POST", "/api/auth/token/", login)["token"])


def build_session(base: str, students: int) -> dict:
    """A teacher (their token), ``students`` students in a class and an ACTIVE session, over
    the API (the floor understands these calls too)."""
    anon = Client(base)
    admin = admin_client(base)
    tag = uuid.uuid4().hex[:8]
    person = {"password": "fanout-pass-123", "first_name": "F", "last_name": "Out"}
    body = {**person, "email": f"t{tag}@example.com", "role": "TEACHER"}
    teacher = admin.call("setup", "POST", "/api/users/", body, 201)
    ids = []
    for i in range(students):
        body = {
            **person,
            "email": f"s{tag}{i}@example.com",
            "role": "STUDENT",
            "student_id": f"F{tag}{i:03d}",
        }
        ids.append(admin.call("setup", "POST", "/api/users/", body, 201)["student"]["id"])
    subject = admin.call("setup", "POST", "/api/subjects/", {"code": f"F{tag}", "name": "F"}, 201)
    body = {"subject_id": subject["id"], "name": f"F{tag}", "teacher_id": teacher["teacher"]["id"]}
    klass = admin.call("setup", "POST", "/api/classes/", body, 201)
    admin.call(
        "setup", "POST", f"/api/classes/{klass['id']}/enrollments/", {"student_ids": ids}, 201
    )
    session = admin.call("setup", "POST", "/api/sessions/", {"class_id": klass["id"]}, 201)
    admin.call("setup", "POST", f"/api/sessions/{session['id']}/start/", None, 200)
    login = {"email": f"t{tag}@example.com", "password": person["password"]}
    token = anon.call("setup", "POST", "/api/auth/token/", login)["token"]
    return {"token": token, "session": session["id"], "students": ids, "class": klass["id"]}


def measure(base: str, n: int, args: argparse.Namespace) -> dict:
    school = build_session(base, args.marks)
    listening = Listeners(base, school["token"], school["session"], n, args.procs, records=True)
    with listening as listeners:
        # Each join tells the room who is watching (our server's presence): let that die down.
        time.sleep(args.settle + n / 100)
        api = Client(base, school["token"])
        sent: dict[int, float] = {}
        next_at = time.monotonic()
        for k, student in enumerate(school["students"], start=1):
            time.sleep(max(0.0, next_at - time.monotonic()))
            body = {"session_id": school["session"], "student_id": student, "status": "PRESENT"}
            sent[k] = time.monotonic()
            api.call("mark", "POST", "/api/attendance/mark/", body, 201)
            next_at = sent[k] + args.interval
        time.sleep(args.grace)
        arrivals = listeners.collect()
    mark_of = {student: k for k, student in enumerate(school["students"], start=1)}
    first: dict[tuple[int, int], float] = {}  # statistics: (listener, k) → arrival
    first_record: dict[tuple[int, int], float] = {}  # attendance: (listener, k) → arrival
    for listener, key, at in arrivals:
        into, k = (first, key) if isinstance(key, int) else (first_record, mark_of.get(key))
        if k in sent and (listener, k) not in into:
            into[(listener, k)] = at
    expected = n * len(sent)
    return {
        "connected": listeners.connected,
        "connect_errors": listeners.error_count,
        "sample_errors": listeners.errors,
        "expected": expected,
        **_latencies(first, sent, expected, ""),
        **_latencies(first_record, sent, expected, "a_"),
    }


def _latencies(first: dict, sent: dict, expected: int, prefix: str) -> dict:
    latencies = sorted((at - sent[k]) * 1000 for (_, k), at in first.items())
    return {
        f"{prefix}p50": quantile(latencies, 0.5),
        f"{prefix}p95": quantile(latencies, 0.95),
        f"{prefix}max": latencies[-1] if latencies else float("nan"),
        f"{prefix}missed": expected - len(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.fanout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--mode", choices=["eventlet", "gevent"], default="eventlet")
    parser.add_argument(
        "--queue",
        nargs="?",
        const=REDIS_URL,
        default="",
        metavar="URL",
        help=f"our server emits through this message queue (alone: {REDIS_URL})",
    )
    parser.add_argument(
        "--processes", type=int, default=0, help="N of our processes behind nginx, on --queue"
    )
    parser.add_argument("--listeners", default="50,200")
    parser.add_argument("--marks", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between marks")
    parser.add_argument("--procs", type=int, default=4, help="listener processes")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--settle", type=float, default=2.0, help="+ 1 s per 100 listeners")
    parser.add_argument("--grace", type=float, default=3.0, help="wait after the last mark")
    args = parser.parse_args(argv)
    header(args, "fan-out: statistics delivery, us vs the floor")
    rows = []
    with Stack() as stack:
        us = ours(stack, args.db, args.mode, args.processes, args.queue)
        targets = {"us": us.url, "floor": floor(stack).url}
        for n in (int(x) for x in args.listeners.split(",")):
            for rep in range(args.repeat):
                order = ["us", "floor"] if rep % 2 == 0 else ["floor", "us"]
                result = {name: measure(targets[name], n, args) for name in order}
                for name in ("us", "floor"):
                    r = result[name]
                    print(
                        f"# {n} listeners, run {rep + 1}, {name}: statistics p50 "
                        f"{r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, max {r['max']:.1f} ms, "
                        f"missed {r['missed']}; attendance p50 {r['a_p50']:.1f} ms, p95 "
                        f"{r['a_p95']:.1f} ms, missed {r['a_missed']}; of {r['expected']}, "
                        f"connected {r['connected']}"
                        + (
                            f", connect errors {r['connect_errors']}: {r['sample_errors']}"
                            if r["connect_errors"]
                            else ""
                        ),
                        flush=True,
                    )
                rows.append((n, rep + 1, result))
    where = f"{args.db}, {args.mode}"
    if args.processes or args.queue:
        where += f", {args.processes or 1} process(es) on {args.queue or REDIS_URL}"
    bad = 0
    for event, p in (("statistics", ""), ("attendance", "a_")):
        print(
            f"\n| listeners | run | us p50 / p95 / max ms | us missed | floor p50 / p95 / max ms "
            f"| floor missed | us p95 ÷ floor p95 |  ({event}; {where})"
        )
        print("|---|---|---|---|---|---|---|")
        for n, rep, result in rows:
            us, fl = result["us"], result["floor"]
            bad += us[f"{p}missed"]
            print(
                f"| {n} | {rep} | {us[p + 'p50']:.1f} / {us[p + 'p95']:.1f} / "
                f"{us[p + 'max']:.1f} | {us[p + 'missed']} "
                f"| {fl[p + 'p50']:.1f} / {fl[p + 'p95']:.1f} / {fl[p + 'max']:.1f} "
                f"| {fl[p + 'missed']} | {us[p + 'p95'] / fl[p + 'p95']:.2f}× |"
            )
    bad += sum(result["us"]["connect_errors"] for _, _, result in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
