"""The production server's garbage-collector settings: freeze the startup heap, collect the
young generation less often.

Why (docs/PERFORMANCE.md, "2026-12-07 — session view of 500"): the server process holds
~170,000 tracked objects once the app is built (modules, SQLAlchemy's mappers and compiled
statements, Flask, Socket.IO). With CPython's default thresholds (700, 10, 10), a request
that builds 500 records' dicts triggers a young collection or two, which promote whatever of
the request is alive at that moment into the older generations; every ~150 such requests the
promoted count passes a quarter of the old generation and a full collection scans all of
it: 125–300 ms on the project's machine, during which no green thread runs. Under 8
concurrent views every request in flight waited for it: that pause was the view's p95 (132
ms against a p50 of 57).

- :func:`gc.freeze` after start-up moves the startup heap to the permanent generation, which
  no collection scans: a full collection then scans only what was made since.
- A young threshold of :data:`YOUNG_THRESHOLD` lets a request's temporaries (a few thousand
  containers at most, freed by reference counting when it ends) die before any collection
  sees them, so they are neither scanned nor promoted.

Cyclic garbage still gets collected, just in larger batches: a young collection of up to
:data:`YOUNG_THRESHOLD` objects took 3–17 ms on the shared machine (the old full ones:
125–300 ms). The frozen objects are never freed even if they become garbage, which startup
objects (the app, its modules) do not.
"""

from __future__ import annotations

import gc

#: Allocations (net of deallocations) of tracked objects between young collections
#: (CPython's default: 700). Above what one request of the 500-student view keeps alive
#: at once.
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Collect once, freeze what is left (the app as built), raise the young threshold.
    Call once, after the app is built and before serving."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
