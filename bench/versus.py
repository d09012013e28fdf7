"""Two versions of our server side by side in one perfcmp run: did a change make it faster?

    .venv/bin/python -m bench.versus old=/tmp/old new=. [--mode eventlet] [--seconds 8]

Each ``NAME=FOLDER`` is a checkout (``git archive COMMIT | tar -x -C /tmp/old`` makes one);
each gets a fresh SQLite database, migrated and given the admin by its own CLI, and serves
from its own folder with this checkout's ``.venv`` (the folder first on ``PYTHONPATH``).
Passwords are hashed cheaply (``pbkdf2:sha256:1000``: building perfcmp's school takes seconds,
and no workload logs in). Then ``perfcmp.py NAME=URL …`` runs every workload on each in turn.

A single run swings by ±30 % on this machine (docs/PERFORMANCE.md, 2026-12-07): run it
several times, swapping the order, and take the geometric mean of the ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Proc,
    Stack,
    free_port,
    our_env,
    shared_bench,
    wait_http,
)

CHEAP_HASH = "pbkdf2:sha256:1000"


def serve(stack: Stack, name: str, folder: Path, database_url: str, mode: str) -> Proc:
    """Migrate, create the admin and start ``folder``'s server; ready when it answers."""
    env = {
        **our_env(database_url, mode),
        "PASSWORD_HASH_METHOD": CHEAP_HASH,
        "PYTHONPATH": str(folder),
    }

    def flask(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=folder,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )

    flask("db", "upgrade")
    admin = ["--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD, "--role", "ADMIN"]
    flask("create-user", *admin, "--first-name", "Admin", "--last-name", "User")
    port = free_port()
    proc = stack.spawn(
        name,
        [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port)],
        env=env,
        cwd=folder,
    )
    proc.url = f"http://127.0.0.1:{port}"
    wait_http(proc, "/login")
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.versus", description=__doc__.split("\n\n")[0])
    parser.add_argument("versions", nargs=2, metavar="NAME=FOLDER")
    parser.add_argument("--mode", default="eventlet", choices=["eventlet", "gevent"])
    parser.add_argument("--seconds", default="8")
    parser.add_argument("--roster", default="35,500")
    args = parser.parse_args(argv)
    with Stack() as stack:
        urls = []
        for version in args.versions:
            name, _, path = version.partition("=")
            database_url = f"sqlite:///{stack.workdir}/{name}.sqlite3"
            proc = serve(stack, name, Path(path).resolve(), database_url, args.mode)
            urls.append(f"{name}={proc.url}")
        time.sleep(1)
        perfcmp = shared_bench() / "perfcmp.py"
        options = ["--seconds", args.seconds, "--roster", args.roster]
        return subprocess.run([sys.executable, str(perfcmp), *urls, *options]).returncode


if __name__ == "__main__":
    sys.exit(main())
