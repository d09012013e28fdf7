"""The 500-student session view against a bare server that sends the very same response.

    .venv/bin/python -m bench.view_floor [--db sqlite|postgres] [--mode eventlet|gevent]
                                         [--seconds 5] [--conc 8] [--roster 500] [--rounds 3]
                                         [--old FOLDER]

Is the view's p95 in ``make bench`` ours or perfcmp's client's? perfcmp's client (stdlib
``http.client`` in ``--conc`` threads sharing one GIL, ``json.loads`` of every body) runs on
the same cores as the server. This starts our server (production settings, one process),
builds perfcmp's school on it with perfcmp's own ``build_school``, bulk-marks it as perfcmp
does and reads the view once off the socket: its status line, headers and body as sent. Then
a bare ``eventlet.wsgi`` server (the floor's stack without Flask: a WSGI function, TCP_NODELAY
and keep-alive as our server has them) is started to answer every request with those exact
bytes and headers, and perfcmp's own load loop (``run_load``) runs against the two, alternately,
``--rounds`` times. Printed per run: req/s, p50/p95, and CPU per request of the server process
and of the client (this process: perfcmp's threads only). If the bare server's p95 is about
ours, what is left of ours is the client's and the machine's, not the server's. ``--old
FOLDER`` adds an older checkout of ours (``git archive main | tar -x -C /tmp/old``) to the
rotation, on its own database and school.

Passwords are hashed cheaply here (``BENCH_PASSWORD_HASH``, default ``pbkdf2:sha256:1000``):
building the school is not what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import sys
import time
from pathlib import Path

from bench import versus
from bench.common import Proc, Stack, free_port, fresh_database, load_perfcmp, ours, wait_http

#: Headers the bare server must not copy: its own WSGI server writes them (as ours does).
HOP_HEADERS = {"date", "connection", "keep-alive", "transfer-encoding"}


def read_response(url: str, path: str, token: str) -> tuple[bytes, list[tuple[str, str]], bytes]:
    """One GET as it came off the wire: status line, headers in order, the body (de-chunked,
    with ``transfer-encoding`` kept in the headers to show it was chunked)."""
    host, port = url.rsplit("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Encoding: identity\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        status, *lines = head.split(b"\r\n")
        headers = [tuple(x.strip() for x in line.decode().split(":", 1)) for line in lines]
        names = {k.lower(): v for k, v in headers}
        if "content-length" in names:
            size = int(names["content-length"])
            while len(rest) < size:
                rest += sock.recv(65536)
            return status, headers, rest[:size]
        body = b""
        while True:  # chunked
            while b"\r\n" not in rest:
                rest += sock.recv(65536)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                rest += sock.recv(65536)
            if size == 0:
                return status, headers, body
            body += rest[:size]
            rest = rest[size + 2 :]


def serve(port: int, response_file: str) -> None:
    """The bare server: every request answered with the saved status, headers and body."""
    import eventlet

    eventlet.monkey_patch()
    import eventlet.wsgi

    saved = json.loads(Path(response_file).read_text())
    status = saved["status"]
    headers = [tuple(h) for h in saved["headers"]]
    body = Path(saved["body_file"]).read_bytes()

    def app(environ, start_response):
        start_response(status, headers)
        return [body]

    listener = eventlet.listen(("127.0.0.1", port))
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as attendance_app.server
    eventlet.wsgi.server(listener, app, log_output=False, keepalive=75, debug=False)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(perfcmp, proc: Proc, token: str, path: str, seconds: float, conc: int) -> dict:
    server0, client0 = cpu_seconds(proc.pid), client_cpu()
    result = perfcmp.run_load(proc.url, token, lambda i: ("GET", path, None, 200), seconds, conc)
    n = max(1, result["n"])
    result["server_ms"] = (cpu_seconds(proc.pid) - server0) / n * 1000
    result["client_ms"] = (client_cpu() - client0) / n * 1000
    return result


def school(perfcmp, url: str, roster: int) -> dict:
    """perfcmp's large school on ``url``, bulk-marked as perfcmp marks it."""
    big = perfcmp.build_school(url, roster)
    client = perfcmp.Client(url, big["token"])
    records = [
        {"student_id": s, "status": ("PRESENT", "LATE", "ABSENT")[k % 3]}
        for k, s in enumerate(big["students"])
    ]
    body = {"session_id": big["session"], "records": records}
    perfcmp.expect(*client.call("POST", "/api/attendance/mark/", body), 201, "bulk mark")
    return big


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.view_floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--mode", choices=["eventlet", "gevent"], default="eventlet")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--conc", type=int, default=8)
    parser.add_argument("--roster", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--old", metavar="FOLDER", help="also an older checkout of ours (git archive …), as 'old'"
    )
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0
    os.environ.setdefault("BENCH_PASSWORD_HASH", "pbkdf2:sha256:1000")
    perfcmp = load_perfcmp()
    load = os.getloadavg()
    print(
        f"# bench.view_floor — {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} {load[1]:.1f}; options: {vars(args)}",
        flush=True,
    )

    with Stack() as stack:
        servers = {"us": ours(stack, args.db, args.mode)}
        if args.old:
            database = fresh_database(args.db, stack, "old")
            servers["old"] = versus.serve(stack, "old", Path(args.old), database, args.mode)
        schools = {name: school(perfcmp, proc.url, args.roster) for name, proc in servers.items()}
        us, big = servers["us"], schools["us"]
        path = f"/api/attendance/session/{big['session']}/"
        status, headers, payload = read_response(us.url, path, big["token"])
        print(f"# our response: {status.decode()}, {len(payload):,} bytes of body")
        for name, value in headers:
            print(f"#   {name}: {value}")
        body_file = stack.workdir / "view.body"
        body_file.write_bytes(payload)
        saved = stack.workdir / "view.json"
        kept = [h for h in headers if h[0].lower() not in HOP_HEADERS]
        if not any(h[0].lower() == "content-length" for h in kept):
            kept.append(("Content-Length", str(len(payload))))  # the bare one never chunks
        saved.write_text(
            json.dumps(
                {
                    "status": status.decode().split(" ", 1)[1],
                    "headers": kept,
                    "body_file": str(body_file),
                }
            )
        )
        port = free_port()
        bare = stack.spawn(
            "bare", [sys.executable, "-m", "bench.view_floor", "--serve", str(port), str(saved)]
        )
        bare.url = f"http://127.0.0.1:{port}"
        wait_http(bare, path)
        same = read_response(bare.url, path, big["token"])[2] == payload
        print(f"# bare server: same body {same}", flush=True)
        servers["bare"], schools["bare"] = bare, big

        rows = []
        print(
            "\n| round | server | req/s | p50 ms | p95 ms | server CPU ms/req | client CPU ms/req"
            " | errors |\n|---|---|---|---|---|---|---|---|",
            flush=True,
        )
        names = list(servers)
        for round_ in range(args.rounds):
            for name in names if round_ % 2 == 0 else names[::-1]:
                view = f"/api/attendance/session/{schools[name]['session']}/"
                r = measure(
                    perfcmp, servers[name], schools[name]["token"], view, args.seconds, args.conc
                )
                rows.append((name, r))
                print(
                    f"| {round_ + 1} | {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} |"
                    f" {r['server_ms']:.2f} | {r['client_ms']:.2f} | {r['errors']} |",
                    flush=True,
                )
    print("\n| median | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for key in ("rps", "p50", "p95", "server_ms", "client_ms"):
        medians = [statistics.median(r[key] for n, r in rows if n == name) for name in names]
        print(f"| {key} | " + " | ".join(f"{m:.2f}" for m in medians) + " |")
    return 0 if all(r["errors"] == 0 for _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
