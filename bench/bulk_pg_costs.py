"""Benchmark: where PostgreSQL's CPU goes in a bulk mark, statement by statement and part by
part (foreign keys, indexes, ON CONFLICT), measured in the server.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m bench.bulk_pg_costs [--students 500] [--history 10] [--runs 20]
        [--explain]

Builds the data ``bench_bulk`` times (a class of ``--students``, ``--history`` ended sessions
marked) in a fresh database, captures the statements of one bulk mark of the whole class
through the app (text and parameters, as psycopg received them), then replays them on a
connection of its own, each run on a fresh ACTIVE session of the class, in a transaction
that is rolled back. Per variant it prints the median and minimum CPU time the server's
backend spent on the statement (``/proc/PID/schedstat``: PostgreSQL must run on this
machine and the connection be allowed to read it, i.e. as root or postgres), and the
difference from the statement as the app sends it. Variants are alternated run by run, so
a shared machine's load falls on all alike.

Variants of the records' and audit rows' INSERT (one data-modifying CTE): as sent; with
every trigger off (``session_replication_role = replica``: the foreign keys' checks; a
measurement only, never what the app does); without each foreign key of ``attendance`` and
``attendance_changes`` (dropped inside the rolled-back transaction); without each of their
non-unique indexes; without ``ON CONFLICT DO NOTHING``; the records alone (no audit rows).
And each other statement of the request as sent.

``--explain``: also prints ``EXPLAIN (ANALYZE, BUFFERS, WAL)`` of the INSERT as sent, whose
trigger lines give each foreign key's time and calls.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import uuid
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from attendance_app.extensions import db
from bench.bench_bulk import bulk_class
from bench.bench_marking import migrated_app


class Variant(NamedTuple):
    """A statement to time: the ``at``-th of the request (the ones before it run first, in
    the same transaction), after ``setup``, as ``sql`` (with the ``at``-th's parameters)."""

    at: int
    setup: list[str]
    sql: str


_FOREIGN_KEYS = """
SELECT conrelid::regclass::text, conname FROM pg_constraint
WHERE contype = 'f' AND conrelid IN ('attendance'::regclass, 'attendance_changes'::regclass)
ORDER BY 1, 2
"""
_PLAIN_INDEXES = """
SELECT tablename, indexname FROM pg_indexes
WHERE tablename IN ('attendance', 'attendance_changes') AND indexdef NOT LIKE '%UNIQUE%'
  AND indexname NOT LIKE 'pk\\_%'
ORDER BY 1, 2
"""
_ON_CONFLICT = "ON CONFLICT (session_id, student_id) DO NOTHING"
_NEW_SESSION = (
    "INSERT INTO class_sessions (id, class_id, status, start_time, created_at, updated_at,"
    " live_seq) VALUES (%s, %s, 'ACTIVE', now(), now(), now(), 0)"
)


Params = dict[str, Any] | list[dict[str, Any]]
"""One statement's parameters: a list of them for an executemany (a class small enough
that its alerts are written row by row)."""


def capture(app, klass, students) -> tuple[list[tuple[str, Params]], uuid.UUID]:
    """The statements (text, parameters) of one bulk mark of ``students`` in a fresh
    session, and that session's id (the replays put a fresh session's id in its place)."""
    from tests.factories import make_session

    session_id = make_session(app, klass)
    seen: list[tuple[str, Params]] = []

    def record(_conn, _cursor, statement, parameters, *_a: object) -> None:
        if isinstance(parameters, (list, tuple)):
            seen.append((statement, [dict(p) for p in parameters]))
        else:
            seen.append((statement, dict(parameters or {})))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = app.test_client().post(
            "/api/attendance/mark/",
            json={
                "session_id": str(session_id),
                "records": [
                    {
                        "student_id": str(s.profile_id),
                        "status": ("PRESENT", "ABSENT", "LATE")[i % 3],
                    }
                    for i, s in enumerate(students)
                ],
            },
            headers={"Authorization": f"Bearer {klass.teacher.token}"},
        )
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 201, response.json
    return seen, session_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--history", type=int, default=10)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("bulk_pg_costs: DATABASE_URL must name a PostgreSQL database")

    app, drop = migrated_app()
    try:
        klass, students = bulk_class(app, args.students, args.history)
        statements, captured_session = capture(app, klass, students)
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            replay(conn, statements, captured_session, klass.id, args)
    finally:
        with app.app_context():
            db.engine.dispose()
        drop()


def replay(
    conn: psycopg.Connection,
    statements: list[tuple[str, Params]],
    captured_session: uuid.UUID,
    class_id: uuid.UUID,
    args: argparse.Namespace,
) -> None:
    """Time every variant (``Variant``) ``args.runs`` times, alternated, and print them."""
    cur = conn.cursor()
    # Its records' ids are the ones the replays insert: the captured session goes (CASCADE).
    cur.execute("DELETE FROM class_sessions WHERE id = %s", (captured_session,))
    conn.commit()
    stat = Path(f"/proc/{conn.info.backend_pid}/schedstat")

    def cpu_ms() -> float:
        return int(stat.read_text().split()[0]) / 1e6

    inserting = next(i for i, (s, _) in enumerate(statements) if "INSERT INTO attendance " in s)
    insert_sql = statements[inserting][0]
    variants: dict[str, Variant] = {}
    for i, (sql, _) in enumerate(statements):
        what = "the INSERT (records and audit rows)" if i == inserting else " ".join(sql.split())
        variants[f"statement {i}: {what[:60]}"] = Variant(i, [], sql)
    variants["INSERT, every trigger off"] = Variant(
        inserting, ["SET LOCAL session_replication_role = replica"], insert_sql
    )
    cur.execute(_FOREIGN_KEYS)
    for table, name in cur.fetchall():
        variants[f"INSERT without {name}"] = Variant(
            inserting, [f"ALTER TABLE {table} DROP CONSTRAINT {name}"], insert_sql
        )
    cur.execute(_PLAIN_INDEXES)
    for _table, name in cur.fetchall():
        variants[f"INSERT without {name}"] = Variant(inserting, [f"DROP INDEX {name}"], insert_sql)
    variants["INSERT without ON CONFLICT"] = Variant(
        inserting, [], insert_sql.replace(_ON_CONFLICT, "")
    )
    head = insert_sql.index("(INSERT INTO attendance ") + 1
    variants["INSERT of the records alone"] = Variant(
        inserting, [], insert_sql[head : insert_sql.index(" RETURNING attendance.id")]
    )
    conn.commit()

    def in_a_fresh_session(variant: Variant, explain: bool = False) -> float:
        """Run the request's statements up to the variant's in a fresh session, then the
        variant's (timed); roll back. The server CPU it took, in ms."""
        session_id = uuid.uuid4()
        cur.execute(_NEW_SESSION, (session_id, class_id))
        conn.commit()

        def fresh(params: dict[str, Any]) -> dict[str, Any]:
            return {k: session_id if v == captured_session else v for k, v in params.items()}

        def run(sql: str, params: Params) -> None:
            if isinstance(params, list):
                cur.executemany(sql, [fresh(p) for p in params])
            else:
                cur.execute(sql, fresh(params))

        for sql in variant.setup:
            cur.execute(sql)
        for i in range(variant.at):
            run(*statements[i])
        prefix = "EXPLAIN (ANALYZE, BUFFERS, WAL) " if explain else ""
        before = cpu_ms()
        run(prefix + variant.sql, statements[variant.at][1])
        rows = cur.fetchall() if cur.description else []
        spent = cpu_ms() - before
        conn.rollback()
        cur.execute("DELETE FROM class_sessions WHERE id = %s", (session_id,))
        conn.commit()
        if explain:
            for (line,) in rows:
                print("   ", line[:160])
        return spent

    if args.explain:
        in_a_fresh_session(Variant(inserting, [], insert_sql), explain=True)
    spent: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.runs):
        for name, variant in variants.items():
            spent[name].append(in_a_fresh_session(variant))
        if r % 5 == 4:  # the rolled-back rows' dead tuples, as autovacuum would
            conn.autocommit = True
            cur.execute("VACUUM attendance, attendance_changes, class_sessions")
            conn.autocommit = False
    as_sent = statistics.median(
        spent[next(n for n in variants if n.startswith(f"statement {inserting}:"))]
    )
    print(f"server CPU, {args.runs} runs each (median, min, median vs the INSERT as sent; ms):")
    for name, values in spent.items():
        median = statistics.median(values)
        delta = f"{median - as_sent:+6.1f}" if name.startswith("INSERT") else ""
        print(f"  {median:6.1f} {min(values):6.1f} {delta:>7}  {name}")


if __name__ == "__main__":
    main()
