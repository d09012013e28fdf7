"""``dialect.in_uuids`` over one ``UuidList`` parameter selects exactly the rows an IN of the
same ids selects, on both databases: none, one, many, ids that match nothing, and UUIDs whose
hex has letters and leading zeros."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Uuid, insert, select

from attendance_app.extensions import db
from attendance_app.services.dialect import in_uuids, uuid_list

STORED = [
    uuid.UUID("00000000-0000-0000-0000-000000000000"),
    uuid.UUID("0000000a-00b0-0c00-d000-00000000000e"),
    uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"),
    *(uuid.uuid4() for _ in range(600)),
]


def probe_table() -> Table:
    return Table(
        "dialect_uuid_list_probe",
        MetaData(),
        Column("n", Integer, primary_key=True),
        Column("id", Uuid),
        prefixes=["TEMPORARY"],
    )


@pytest.mark.parametrize(
    "wanted",
    [
        [],
        [STORED[1]],
        STORED[:3],
        STORED[::2],
        [uuid.uuid4(), STORED[5], uuid.uuid4()],
        [uuid.uuid4()],
    ],
    ids=["none", "one", "edge-hex", "many", "some-unknown", "only-unknown"],
)
def test_in_uuids_selects_the_rows_whose_id_is_listed(ctx, wanted: list[uuid.UUID]):
    table = probe_table()
    with db.engine.connect() as conn:
        table.create(conn)
        conn.execute(insert(table), [{"n": n, "id": u} for n, u in enumerate(STORED)])
        statement = (
            select(table.c.id).where(in_uuids(table.c.id, uuid_list("ids"))).order_by(table.c.n)
        )
        found = conn.execute(statement, {"ids": wanted}).scalars().all()
        reference = (
            conn.execute(select(table.c.id).where(table.c.id.in_(wanted)).order_by(table.c.n))
            .scalars()
            .all()
        )
        conn.rollback()
    assert found == reference
    assert set(found) == set(wanted) & set(STORED)
