"""The text the database computes for the read bodies is exactly the text Python would write:
``uuid_text`` is ``str(uuid)``, ``uuid_hex`` is ``uuid.hex`` and ``iso_text`` is
``models.base.iso`` (on both databases)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Column, Integer, MetaData, Table, Uuid, insert, select

from attendance_app.extensions import db
from attendance_app.models.base import UTCDateTime, iso
from attendance_app.services.dialect import _Memo, iso_text, uuid_hex, uuid_text

UUIDS = [
    uuid.UUID("00000000-0000-0000-0000-000000000000"),
    uuid.UUID("0000000a-00b0-0c00-d000-00000000000e"),
    uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"),
    uuid.UUID("12345678-9ABC-DEF0-1234-56789ABCDEF0"),
    *(uuid.uuid4() for _ in range(20)),
]

TIMES = [
    datetime(2026, 1, 5, 9, 0, tzinfo=UTC),  # no microseconds: isoformat leaves them out
    datetime(2026, 1, 5, 9, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 1, 5, 9, 0, 0, 5000, tzinfo=UTC),
    datetime(2026, 1, 5, 9, 0, 0, 120000, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2))),  # stored as UTC
    datetime(2026, 10, 25, 23, 15, 7, tzinfo=timezone(timedelta(hours=-5))),  # next UTC day
    datetime(1999, 2, 28, 0, 0, tzinfo=UTC),
    datetime.now(UTC),
]


def probe_table() -> Table:
    return Table(
        "dialect_text_probe",
        MetaData(),
        Column("n", Integer, primary_key=True),
        Column("id", Uuid),
        Column("at", UTCDateTime()),
        prefixes=["TEMPORARY"],
    )


def test_uuid_text_and_iso_text_are_pythons_text(ctx):
    table = probe_table()
    rows = [
        {"n": n, "id": UUIDS[n % len(UUIDS)], "at": TIMES[n % len(TIMES)]}
        for n in range(max(len(UUIDS), len(TIMES)))
    ]
    rows.append({"n": len(rows), "id": None, "at": None})
    with db.engine.connect() as conn:
        table.create(conn)
        conn.execute(insert(table), rows)
        query = select(table.c.n, uuid_text(table.c.id), iso_text(table.c.at)).order_by(table.c.n)
        found = conn.execute(query).all()
        again = conn.execute(query).all()  # SQLite: the remembered text this time
        conn.rollback()
    expected = [
        (r["n"], str(r["id"]) if r["id"] else None, iso(r["at"]) if r["at"] else None) for r in rows
    ]
    assert found == expected
    assert again == expected
    # The cases that matter are there: no microseconds, a few, and another zone's time.
    assert "2026-01-05T09:00:00Z" in {f[2] for f in found}
    assert "2026-01-05T09:00:00.000001Z" in {f[2] for f in found}
    assert "2026-10-26T04:15:07Z" in {f[2] for f in found}
    assert "12345678-9abc-def0-1234-56789abcdef0" in {f[1] for f in found}


def test_uuid_hex_is_the_uuids_hex_digits(ctx):
    table = probe_table()
    rows = [{"n": n, "id": u, "at": None} for n, u in enumerate(UUIDS)]
    rows.append({"n": len(rows), "id": None, "at": None})
    with db.engine.connect() as conn:
        table.create(conn)
        conn.execute(insert(table), rows)
        found = conn.execute(select(table.c.n, uuid_hex(table.c.id)).order_by(table.c.n)).all()
        conn.rollback()
    assert found == [(r["n"], r["id"].hex if r["id"] else None) for r in rows]
    assert (3, "123456789abcdef0123456789abcdef0") in found


def test_the_remembered_text_is_made_once_and_kept_within_its_limit():
    made = []

    def make(stored: str) -> str:
        made.append(stored)
        return stored.upper()

    memo = _Memo(make, limit=2)
    assert [memo["a"], memo["b"], memo["a"], memo[None]] == ["A", "B", "A", None]
    assert made == ["a", "b"]
    assert len(memo) <= 2
    assert memo["c"] == "C"  # full: it starts again
    assert len(memo) <= 2
    assert memo["a"] == "A"
