"""The production server's garbage-collector settings (attendance_app/heap.py).

Each check runs in a fresh interpreter: freezing the test process's own heap would change
how every later test collects."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_settling_freezes_the_heap_built_so_far_and_raises_the_young_threshold():
    out = run_python(
        """
        import gc
        from attendance_app import create_app, heap
        app = create_app({"SOCKETIO_ASYNC_MODE": "threading", "ENV_NAME": "test"})
        heap.settle()
        print(gc.get_freeze_count() > 10_000, gc.get_threshold()[0] == heap.YOUNG_THRESHOLD)
        """
    )
    assert out == "True True"


def test_garbage_made_after_settling_is_still_collected():
    out = run_python(
        """
        import gc, weakref
        from attendance_app import heap
        heap.settle()

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        print(gone() is None)
        """
    )
    assert out == "True"
