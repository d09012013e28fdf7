"""Where the time goes: perfcmp's workloads against our server, one at a time, each sampled
with py-spy.

    .venv/bin/python -m bench.profile [--db sqlite|postgres] [--mode eventlet|gevent]
                                      [--seconds 10] [--roster 35,500] [--out /tmp/prof]

Starts our server (one process, fresh database), builds perfcmp's school over the API, then
for each workload runs perfcmp's load loop for ``--seconds`` while ``py-spy record`` samples
the server (without pausing it), and prints, per workload, the share of samples each of our
functions (and any library function with over 2 % self time) is on the stack of. The raw
collapsed stacks are kept in ``OUT-<workload>.txt`` (``flamegraph.pl`` or speedscope read
them).
"""

from __future__ import annotations

import argparse
import re
import sys

from bench.common import Stack, load_perfcmp, ours
from bench.perf import header
from bench.schoolday import start_profile, summarize_profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--mode", choices=["eventlet", "gevent"], default="eventlet")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--conc", type=int, default=8)
    parser.add_argument("--roster", default="35,500")
    parser.add_argument("--fresh", type=int, default=30)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--out", default="/tmp/attendance-profile")
    args = parser.parse_args(argv)
    perfcmp = load_perfcmp()
    header(args, "profile of our server under perfcmp's workloads")
    small, large = (int(x) for x in args.roster.split(","))
    with Stack() as stack:
        us = ours(stack, args.db, args.mode)
        school, big = perfcmp.build_school(us.url, small), perfcmp.build_school(us.url, large)
        fresh = perfcmp.fresh_pairs(us.url, school, args.fresh)
        cl = perfcmp.Client(us.url, school["token"])
        records = [{"student_id": x, "status": "PRESENT"} for x in school["students"]]
        body = {"session_id": school["session"], "records": records}
        made = perfcmp.expect(*cl.call("POST", "/api/attendance/mark/", body), 201, "bulk")
        school["record"] = made["attendance_records"][0]["id"]
        clb = perfcmp.Client(us.url, big["token"])
        records = [{"student_id": x, "status": "PRESENT"} for x in big["students"]]
        body = {"session_id": big["session"], "records": records}
        perfcmp.expect(*clb.call("POST", "/api/attendance/mark/", body), 201, "bulk large")
        for label, ctx, requests in perfcmp.workloads(school, big, fresh):
            out = f"{args.out}-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}.txt"
            spy = start_profile(stack, us.pid, args.seconds, out)
            result = perfcmp.run_load(us.url, ctx["token"], requests, args.seconds, args.conc)
            spy.popen.wait(60)
            print(
                f"\n### {label}: {result['rps']:.0f} req/s, p50 {result['p50']:.1f} ms, "
                f"p95 {result['p95']:.1f} ms, errors {result['errors']}"
            )
            print(summarize_profile(out, args.top), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
