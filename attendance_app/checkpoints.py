"""SQLite's WAL checkpoints, made beside the requests instead of inside them.

In WAL mode SQLite copies the log back into the database file (a checkpoint) from the commit
that takes the log past ``wal_autocheckpoint`` pages (1,000 by default): that request pays
for copying its pages (~1 MB) and two fsyncs (10–25 ms here, every fourth bulk mark of 500),
its green thread holding the process's only OS thread meanwhile. Here a commit that wrote
asks for a checkpoint instead, and at most every ``CHECKPOINT_SECONDS`` one runs on a
connection of its own in a real OS thread (eventlet's ``tpool``, gevent's threadpool, or a
plain thread in a process without green threads: the CLI, tests, benchmarks); the sqlite3
module releases the GIL while SQLite works, so requests and the event loop carry on.

PASSIVE: it never waits for a reader or a writer and never blocks one, copying what no
reader still needs. SQLite restarts the log from its start only for a writer that begins
with all of it copied, which writers that keep coming during the copies never do: once the
log is past ``RESTART_PAGES``, a round copies what was written meanwhile holding the
process's write gate (its writers queue on it, green), so the next writer restarts the log.
The request connections keep SQLite's own automatic checkpoint at ``FALLBACK_PAGES``, so the
log stays bounded even if these checkpoints stop (a failing disk, a thread pool gone at
shutdown) or cannot keep up (writers of other processes). Checkpointing more often also
syncs the log more often (``synchronous=NORMAL`` syncs it at checkpoints): a commit usually
reaches the disk about ``CHECKPOINT_SECONDS`` later, not once 1,000 pages have piled up.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import NamedTuple
from urllib.parse import quote

log = logging.getLogger(__name__)

#: At most one background checkpoint per database this often; a commit waits for none.
CHECKPOINT_SECONDS = 0.5
#: Pages in the log past which a commit checkpoints it itself (``PRAGMA wal_autocheckpoint``
#: on the request connections): the bound when background checkpoints stop or fall behind.
FALLBACK_PAGES = 10_000
#: Pages in the log past which a round copies the last of it holding the process's write
#: gate (``database.write_gate``), so that the next writer restarts the log from its start.
#: SQLite restarts it only for a writer that begins with all of it copied; writers that
#: never pause for a whole round would otherwise let it grow to ``FALLBACK_PAGES``. A
#: writer that comes meanwhile waits for that copy, so not every round does it; a long log
#: costs readers nothing once copied (they look up only the frames not yet copied).
RESTART_PAGES = 4_000
#: How long a checkpoint's own connection waits for a lock SQLite takes briefly (opening
#: the log's index while another connection recovers it); PASSIVE never waits for more.
OPEN_TIMEOUT = 5.0


class Result(NamedTuple):
    """``PRAGMA wal_checkpoint``'s answer: busy (1 if it could not run), pages in the log,
    pages of the log now in the database file."""

    busy: int
    logged: int
    copied: int


class _Runner(NamedTuple):
    #: Start ``fn`` beside the caller (a green thread, or an OS thread without them).
    spawn: Callable[[Callable[[], None]], object]
    #: Sleep without holding anyone else up.
    sleep: Callable[[float], None]
    #: ``fn()`` in a real OS thread, the caller waiting (green) for its result.
    in_os_thread: Callable[[Callable[[], Result]], Result]


def _runner() -> _Runner:
    """How this process runs work beside its requests, by what it monkey-patched (the
    server, ``bench.sqlite_hub``) rather than by its settings."""
    if "eventlet" in sys.modules:
        import eventlet
        from eventlet import patcher, tpool

        if patcher.is_monkey_patched("thread"):
            return _Runner(eventlet.spawn_n, eventlet.sleep, tpool.execute)
    if "gevent" in sys.modules:
        import gevent
        from gevent import monkey

        if monkey.is_module_patched("threading"):
            return _Runner(
                gevent.spawn,
                gevent.sleep,
                lambda fn: gevent.get_hub().threadpool.apply(fn),
            )
    return _Runner(_start_thread, time.sleep, lambda fn: fn())


def _start_thread(fn: Callable[[], None]) -> object:
    thread = threading.Thread(target=fn, name="sqlite-checkpoint", daemon=True)
    thread.start()
    return thread


def checkpoint(path: str) -> Result:
    """One PASSIVE checkpoint of the database file at ``path``, on a connection of its own
    (opened read-write, never creating a file that is gone)."""
    connection = sqlite3.connect(
        f"file:{quote(path)}?mode=rw", uri=True, timeout=OPEN_TIMEOUT, check_same_thread=False
    )
    try:
        row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        connection.close()
    return Result(*row)


class Checkpointer:
    """The background checkpoints of one database file: ``wrote`` after every commit that
    wrote; one round per ``CHECKPOINT_SECONDS`` at most, whatever the number of commits."""

    def __init__(self, path: str) -> None:
        self.path = path
        #: Rounds that ran, and the last one's answer (a benchmark's or a test's to read).
        self.rounds = 0
        self.last: Result | None = None
        #: A round is asked for and has not started copying yet.
        self.due = False
        #: A round is copying.
        self.running = False
        #: The in-process write gate of the file's engine (``database.write_gate``), or None.
        self.gate: Callable[[], AbstractContextManager[object] | None] = lambda: None
        self._last_start = 0.0
        self._runner: _Runner | None = None

    def wrote(self) -> None:
        """A commit wrote to the log: make sure a round will copy it. Costs the committing
        request a flag test, and starting a green thread once per round."""
        if self.due:
            return
        self.due = True
        if self._runner is None:
            self._runner = _runner()  # first use: after any monkey-patching
        try:
            self._runner.spawn(self._round)
        except Exception:  # a pool gone at shutdown: the request connections' own bound holds
            self.due = False
            log.warning("no background checkpoint of %s", self.path, exc_info=True)

    def _round(self) -> None:
        runner = self._runner
        assert runner is not None
        try:
            wait = self._last_start + CHECKPOINT_SECONDS - time.monotonic()
            if wait > 0:
                runner.sleep(wait)
            # Commits from here on ask for the next round: this one may start before them.
            self.running, self.due = True, False
            self._last_start = time.monotonic()

            def copy() -> Result:
                return checkpoint(self.path)

            self.last = runner.in_os_thread(copy)
            gate = self.gate() if self.last.logged >= RESTART_PAGES else None
            if gate is not None:
                # What was written while that copied, copied with no writer of this process
                # running (they queue on the gate, green): the next one restarts the log.
                with gate:
                    self.last = runner.in_os_thread(copy)
            self.rounds += 1
        except sqlite3.Error as exc:  # the file gone, a disk error: said in one line
            self.due = False
            log.warning("background checkpoint of %s failed: %s", self.path, exc)
        except Exception:
            self.due = False
            log.warning("background checkpoint of %s failed", self.path, exc_info=True)
        finally:
            self.running = False


_CHECKPOINTERS: dict[str, Checkpointer] = {}
_CHECKPOINTERS_LOCK = threading.Lock()


def for_database(path: str) -> Checkpointer:
    """The process's one checkpointer of the database file at ``path`` (every engine on the
    file shares it)."""
    found = _CHECKPOINTERS.get(path)
    if found is None:
        with _CHECKPOINTERS_LOCK:
            found = _CHECKPOINTERS.setdefault(path, Checkpointer(path))
    return found


def file_path(database: str | None) -> str | None:
    """The file a SQLite URL's database names, or None when it is not a plain file (in
    memory, or a ``file:`` URI): those keep SQLite's own checkpoints."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database)
