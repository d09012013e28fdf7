"""What the benchmarks share: the yardsticks in ``../shared/bench``, fresh databases, and the
servers they start (ours, the DRF peer, the bare floor, nginx) on free loopback ports.

Everything started here is stopped by the ``Stack`` it was started in (``with Stack() as
stack:``), also when a benchmark fails or is interrupted. Nothing here talks to anything but
127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The shared yardsticks live beside every checkout of the project: ../shared/bench
#: (SHARED_BENCH=/path/to/shared/bench for a checkout kept somewhere else, e.g. a worktree).
SHARED_BENCH = Path(os.environ.get("SHARED_BENCH") or ROOT.parent / "shared" / "bench")
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "admin-pass-123"


def shared_bench() -> Path:
    """The shared yardsticks folder, or a plain message saying where it was looked for."""
    needed = ["perfcmp.py", "drf-peer/serve.sh", "floor/serve.sh"]
    missing = [n for n in needed if not (SHARED_BENCH / n).exists()]
    if missing:
        raise SystemExit(
            f"bench: the shared yardsticks are missing: {', '.join(missing)} not found in "
            f"{SHARED_BENCH} (expected ../shared/bench beside the checkout; for a checkout "
            "elsewhere, set SHARED_BENCH=/path/to/shared/bench)."
        )
    return SHARED_BENCH


def load_perfcmp():
    """``../shared/bench/perfcmp.py`` as a module (its client and load loop are reused)."""
    path = shared_bench() / "perfcmp.py"
    spec = importlib.util.spec_from_file_location("perfcmp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_base() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql")) else PG_DEFAULT


def _pg(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def fresh_database(db: str, stack: Stack, tag: str = "bench") -> str:
    """A new empty database for one server: a SQLite file in the stack's folder, or a new
    PostgreSQL database next to ``DATABASE_URL`` (default the local ``test``), dropped when
    the stack closes."""
    if db == "sqlite":
        return f"sqlite:///{stack.workdir / f'{tag}-{uuid.uuid4().hex[:6]}.sqlite3'}"
    if db != "postgres":
        raise SystemExit(f"bench: DB must be sqlite or postgres, not {db!r}")
    base = pg_base().replace("postgres://", "postgresql://", 1)
    name = f"attendance_{tag}_{uuid.uuid4().hex[:8]}"
    _pg(base, f'CREATE DATABASE "{name}"')
    stack.callback(lambda: _pg(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}"


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "".join(self.log.read_text(errors="replace").splitlines(True)[-lines:])
        except OSError:
            return ""


class Stack(contextlib.ExitStack):
    """An ExitStack with a scratch folder; processes started on it stop when it closes."""

    def __enter__(self) -> Stack:
        super().__enter__()
        self.workdir = Path(tempfile.mkdtemp(prefix="attendance-bench-"))
        self.workdir.chmod(0o755)
        self.keep = False  # True: leave the folder (logs) for a look after a failure
        return self

    def __exit__(self, *exc) -> bool:
        try:
            return super().__exit__(*exc)
        finally:
            if exc[0] is not None or self.keep:
                print(f"bench: logs kept in {self.workdir}", file=sys.stderr)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def spawn(self, name: str, argv: list[str], *, env: dict | None = None, cwd=None) -> Proc:
        log = self.workdir / f"{name}.log"
        merged = {**os.environ, **(env or {})}
        merged = {k: v for k, v in merged.items() if v is not None}  # None: unset it
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                argv,
                cwd=cwd or ROOT,
                env=merged,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() ends its children too
            )
        proc = Proc(name, popen, log)
        self.callback(proc.stop)
        return proc


def wait_http(proc: Proc, path: str = "/", timeout: float = 180) -> None:
    """Wait until ``proc.url`` answers HTTP (any status below 500)."""
    host, port = proc.url.rsplit("//", 1)[1].split(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise SystemExit(f"bench: {proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"bench: {proc.name} did not answer within {timeout:.0f}s:\n{proc.tail()}")


# --- our server -------------------------------------------------------------------------------


#: The password hash of our server in a benchmark: the DRF peer's (Django 5.2's default,
#: PBKDF2-SHA256 with 1,000,000 iterations, ~1 s a hash here), so that building a school over
#: the API costs both servers the same. Production keeps scrypt (``config.DEFAULT_PASSWORD_HASH``,
#: ~1.8 s a hash here); ``BENCH_PASSWORD_HASH=production`` benchmarks with it,
#: ``BENCH_PASSWORD_HASH=<werkzeug method>`` with any other.
PEER_PASSWORD_HASH = "pbkdf2:sha256:1000000"


def bench_password_hash() -> dict:
    """The ``PASSWORD_HASH_METHOD`` of a benchmarked server (none: production's default)."""
    method = os.environ.get("BENCH_PASSWORD_HASH", PEER_PASSWORD_HASH)
    return {} if method == "production" else {"PASSWORD_HASH_METHOD": method}


def our_env(database_url: str, mode: str, **extra: str) -> dict:
    """The environment of our production server for a benchmark: production settings (no
    debug; passwords hashed at the DRF peer's cost, see ``PEER_PASSWORD_HASH``), no email, no
    weekly summaries, one process unless a queue is given."""
    env = {
        **bench_password_hash(),
        "DATABASE_URL": database_url,
        "SOCKETIO_ASYNC_MODE": mode,
        "ATTENDANCE_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "WEEKLY_SUMMARY": "off",
        "MAIL_SERVER": "",
        "SOCKETIO_MESSAGE_QUEUE": "",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def flask(env: dict, *args: str) -> None:
    """``flask --app wsgi ARGS`` in our checkout; stops the benchmark if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"bench: flask {' '.join(args[:1])} failed:\n{done.stdout}{done.stderr}")


def prepare_ours(database_url: str, mode: str) -> dict:
    """Migrate a fresh database and create the admin with the CLI; the server environment."""
    env = our_env(database_url, mode)
    flask(env, "db", "upgrade")
    flask(
        env,
        "create-user",
        "--email",
        ADMIN_EMAIL,
        "--password",
        ADMIN_PASSWORD,
        "--role",
        "ADMIN",
        "--first-name",
        "Admin",
        "--last-name",
        "User",
    )
    return env


def start_ours(stack: Stack, env: dict, name: str = "ours", port: int | None = None) -> Proc:
    """``flask --app wsgi serve`` (one process) on a free port."""
    port = port or free_port()
    proc = stack.spawn(
        name,
        [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port)],
        env=env,
    )
    proc.url = f"http://127.0.0.1:{port}"
    return proc


def ours(stack: Stack, db: str, mode: str, processes: int = 0, queue: str = "") -> Proc:
    """Our server on a fresh database, ready. ``processes=0``: one process, addressed
    directly, on the message queue ``queue`` if given (as a deployment's processes emit);
    ``processes=N``: N processes on ``queue`` (default Redis) behind nginx using
    ``deploy/nginx.conf``; the returned Proc is nginx. A queue gets a channel of its own."""
    url = fresh_database(db, stack, "bench")
    env = prepare_ours(url, mode)
    if processes or queue:
        env["SOCKETIO_MESSAGE_QUEUE"] = queue or REDIS_URL
        env["SOCKETIO_CHANNEL"] = f"attendance-bench-{uuid.uuid4().hex[:8]}"
    if not processes:
        proc = start_ours(stack, env, name=f"ours-{db}-{mode}")
        wait_http(proc, "/login")
        return proc
    servers = [start_ours(stack, env, name=f"ours-{mode}-{i + 1}") for i in range(processes)]
    for proc in servers:
        wait_http(proc, "/login")
    front = start_nginx(stack, [int(p.url.rsplit(":", 1)[1]) for p in servers])
    front.backends = servers
    wait_http(front, "/login")
    return front


def start_nginx(stack: Stack, ports: list[int]) -> Proc:
    """nginx on a free port with ``deploy/nginx.conf`` as shipped (ports, paths templated)."""
    from tests.live.nginx import nginx_command

    listen = free_port()
    argv = nginx_command(stack.workdir / "nginx", upstream_ports=ports, listen_port=listen)
    proc = stack.spawn("nginx", argv)
    proc.url = f"http://127.0.0.1:{listen}"
    return proc


# --- the yardsticks ---------------------------------------------------------------------------


def drf_peer(stack: Stack, db: str) -> Proc:
    """The DRF peer (``../shared/bench/drf-peer/serve.sh``) on a fresh database, ready (its
    virtual environment is made on the first run, which takes a minute)."""
    port = free_port()
    argv = [str(shared_bench() / "drf-peer" / "serve.sh"), str(port)]
    if db == "postgres":
        argv.append(fresh_database(db, stack, "drfpeer"))
    proc = stack.spawn("drf-peer", argv, env={"DATABASE_URL": None})
    proc.url = f"http://127.0.0.1:{port}"
    wait_http(proc, "/api/", timeout=600)
    return proc


def floor(stack: Stack) -> Proc:
    """The bare Flask-SocketIO + eventlet floor (``../shared/bench/floor/serve.sh``), ready."""
    port = free_port()
    proc = stack.spawn("floor", [str(shared_bench() / "floor" / "serve.sh"), str(port)])
    proc.url = f"http://127.0.0.1:{port}"
    wait_http(proc, "/api/ping", timeout=600)
    return proc


def rss_kib(pid: int) -> int:
    """Resident memory of a process (kB), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of sorted ``values`` (nearest rank), NaN when empty."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]
