"""``make bench``: our server, the DRF peer and the bare floor side by side, in one run.

    .venv/bin/python -m bench.perf [--db sqlite|postgres] [--mode eventlet|gevent]
                                   [--seconds 8] [--conc 8] [--roster 35,500] [--fresh 60]

Starts, each on a fresh database and a free loopback port: our server (``flask --app wsgi
serve``, one process, production settings, the admin made with ``flask create-user``), the
DRF peer (``../shared/bench/drf-peer/serve.sh``) and the floor (``../shared/bench/floor/
serve.sh``). Runs ``../shared/bench/perfcmp.py drf=… us=…`` (each workload on each server in
turn, same client), then the floor's ``GET /api/ping`` with perfcmp's own load loop, same
concurrency and duration, before and after. Prints perfcmp's table and a summary: our req/s
as a ratio to the DRF peer and as a percentage of the floor's req/s. Everything stops by
itself (bounded by --seconds per workload); servers are stopped and databases dropped at the
end.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time

from bench.common import Stack, drf_peer, floor, load_perfcmp, ours, shared_bench


def header(args: argparse.Namespace, what: str) -> None:
    load = os.getloadavg()
    print(f"# {what} — {time.strftime('%Y-%m-%d %H:%M')} on {platform.node() or 'this machine'}")
    module = os.path.splitext(os.path.relpath(sys.argv[0]))[0].replace(os.sep, ".")
    print(
        f"# {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f}; "
        f"command: python -m {module} {' '.join(sys.argv[1:])}"
    )
    print(f"# options: {vars(args)}", flush=True)


def floor_rps(perfcmp, url: str, seconds: float, conc: int) -> dict:
    return perfcmp.run_load(url, None, lambda i: ("GET", "/api/ping", None, 200), seconds, conc)


TABLE_ROW = re.compile(r"^\| (?P<label>[^|]+?) \| (?P<cells>.+) \|$")
CELL = re.compile(r"(?P<rps>[\d.]+) \((?P<p50>[\d.]+)/(?P<p95>[\d.]+), (?P<err>\d+)\)")


def parse_table(text: str) -> dict[str, list[dict]]:
    """perfcmp's markdown table: workload → one dict per server (rps, p50, p95, errors)."""
    rows: dict[str, list[dict]] = {}
    for line in text.splitlines():
        match = TABLE_ROW.match(line.strip())
        if not match or match["label"] == "workload":
            continue
        cells = [
            {k: float(v) for k, v in c.groupdict().items()} for c in CELL.finditer(match["cells"])
        ]
        if cells:
            rows[match["label"]] = cells
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.perf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--mode",
        default="eventlet",
        help="eventlet, gevent, or both (eventlet,gevent: one server each, in the same run)",
    )
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--conc", type=int, default=8)
    parser.add_argument("--roster", default="35,500")
    parser.add_argument("--fresh", type=int, default=60)
    args = parser.parse_args(argv)
    modes = args.mode.split(",")
    if not modes or any(m not in ("eventlet", "gevent") for m in modes):
        parser.error("--mode: eventlet, gevent or eventlet,gevent")
    shared = shared_bench()
    perfcmp = load_perfcmp()
    header(args, "perfcmp: Attendance vs the DRF peer vs the floor")

    with Stack() as stack:
        started = time.monotonic()
        bare = floor(stack)
        peer = drf_peer(stack, args.db)
        names = ["us"] if len(modes) == 1 else [f"us-{m}" for m in modes]
        us = {name: ours(stack, args.db, mode) for name, mode in zip(names, modes, strict=True)}
        print(f"# servers ready in {time.monotonic() - started:.0f}s (logs: {stack.workdir})")
        floor_before = floor_rps(perfcmp, bare.url, args.seconds, args.conc)
        command = [  # the peer first: perfcmp's ratios are to the first server
            sys.executable,
            str(shared / "perfcmp.py"),
            f"drf={peer.url}",
            *(f"{name}={proc.url}" for name, proc in us.items()),
            "--seconds",
            str(args.seconds),
            "--conc",
            str(args.conc),
            "--roster",
            args.roster,
            "--fresh",
            str(args.fresh),
        ]
        out = subprocess.run(command, capture_output=True, text=True, timeout=3600)
        print(out.stdout, end="", flush=True)
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            print(f"bench: perfcmp failed ({out.returncode}); server logs in {stack.workdir}")
            stack.keep = True
            return 1
        floor_after = floor_rps(perfcmp, bare.url, args.seconds, args.conc)

    floor_mean = (floor_before["rps"] + floor_after["rps"]) / 2
    print(
        f"\nfloor GET /api/ping: {floor_before['rps']:.0f} req/s before, "
        f"{floor_after['rps']:.0f} after (p50 {floor_after['p50']:.1f} ms, "
        f"p95 {floor_after['p95']:.1f} ms, errors {floor_before['errors'] + floor_after['errors']})"
    )
    rows = parse_table(out.stdout)
    heads = "".join(f" {n} req/s (p50/p95 ms) | {n} ÷ DRF | {n} % of floor |" for n in names)
    print(f"\n| workload ({args.db}) | DRF req/s |{heads}")
    print("|---|---|" + "---|---|---|" * len(names))
    for label, cells in rows.items():
        drf, mine = cells[0], cells[1:]
        line = f"| {label} | {drf['rps']:.0f} |"
        for m in mine:
            line += (
                f" {m['rps']:.0f} ({m['p50']:.1f}/{m['p95']:.1f}) | {m['rps'] / drf['rps']:.2f}× |"
                f" {m['rps'] / floor_mean * 100:.1f} % |"
            )
        print(line)
    errors = sum(int(c["err"]) for cells in rows.values() for c in cells)
    print(f"\nerrors (unexpected status codes): {errors}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
