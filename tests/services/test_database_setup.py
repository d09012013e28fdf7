"""The database the app runs on: SQLite's per-connection settings and IMMEDIATE write
transactions (R7), and a schema built by the migrations that matches the models exactly."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import Enum, inspect, select, text
from sqlalchemy.exc import IntegrityError

from attendance_app import checkpoints
from attendance_app.database import write_gate
from attendance_app.extensions import db
from attendance_app.models import Subject, utcnow
from attendance_app.services.transaction import unit_of_work
from tests.factories import make_admin, make_class, make_session, mark

#: How long the probing connection waits for SQLite's write lock before giving up.
PROBE_TIMEOUT = 0.05


@pytest.fixture
def sqlite_only(ctx) -> str:
    """The SQLite database file. Tests using it: conftest.py leaves them
    out of a PostgreSQL run (they run in the SQLite one), so none is ever skipped."""
    assert db.engine.dialect.name == "sqlite"
    return db.engine.url.database


def pragma(name: str):
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_connections_use_wal_journal(sqlite_only):
    assert pragma("journal_mode") == "wal"


def test_sqlite_connections_enforce_foreign_keys(sqlite_only):
    assert pragma("foreign_keys") == 1


def test_sqlite_connections_sync_normally_not_fully(sqlite_only):
    assert pragma("synchronous") == 1  # NORMAL: safe in WAL mode, one fsync per checkpoint


def test_sqlite_connections_keep_temporary_files_in_memory(sqlite_only):
    # Statement journals above all: a bulk mark of 500 wrote ~530 KB of them to a file.
    assert pragma("temp_store") == 2  # MEMORY


def test_sqlite_connections_wait_for_a_busy_database(sqlite_only):
    assert pragma("busy_timeout") > 0


def try_to_take_the_write_lock(path: str) -> str:
    """From a connection of its own: 'free' if BEGIN IMMEDIATE succeeds, else 'locked'."""
    other = sqlite3.connect(path, timeout=PROBE_TIMEOUT, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return "locked"
    else:
        other.execute("ROLLBACK")
        return "free"
    finally:
        other.close()


def test_a_unit_of_work_takes_the_write_lock_before_it_writes(sqlite_only):
    # It has only read when the probe runs: a DEFERRED transaction would not hold the write
    # lock yet, and could later fail with SQLITE_BUSY when it upgrades (runtime notes F21).
    @unit_of_work
    def read_then_probe() -> str:
        db.session.execute(select(1)).scalar()
        return try_to_take_the_write_lock(sqlite_only)

    assert read_then_probe() == "locked"
    assert try_to_take_the_write_lock(sqlite_only) == "free"  # released by the commit


def test_a_unit_of_work_after_a_read_writes_from_what_others_committed_since(sqlite_only):
    # A request reads first (its token lookup), then writes: the write transaction must not
    # carry on the read's snapshot (a write from it fails with SQLITE_BUSY_SNAPSHOT once
    # another connection has committed), but begin anew, IMMEDIATE, on what is there now.
    read = "PRAGMA user_version"
    before = db.session.execute(text(read)).scalar()
    other = sqlite3.connect(sqlite_only, isolation_level=None)
    other.execute(f"PRAGMA user_version = {before + 1}")
    other.close()
    assert db.session.execute(text(read)).scalar() == before  # the read's snapshot

    @unit_of_work
    def read_write_and_probe() -> tuple[int, str]:
        seen = db.session.execute(text(read)).scalar()
        db.session.execute(text(f"PRAGMA user_version = {seen + 1}"))
        return seen, try_to_take_the_write_lock(sqlite_only)

    assert read_write_and_probe() == (before + 1, "locked")
    assert try_to_take_the_write_lock(sqlite_only) == "free"  # released by the commit
    assert pragma("user_version") == before + 2


def test_a_change_the_session_holds_before_a_unit_of_work_commits_with_the_read(sqlite_only):
    # As it always has: the read transaction is ended by the Session's commit, which flushes
    # what it holds, so a unit of work that then fails does not take it back.
    db.session.execute(select(1)).scalar()
    db.session.add(Subject(code="HELD1", name="Held before"))

    @unit_of_work
    def fail() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail()

    other = sqlite3.connect(sqlite_only)
    try:
        held = other.execute("SELECT count(*) FROM subjects WHERE code = 'HELD1'").fetchone()
    finally:
        other.close()
    assert held == (1,)


def test_a_read_outside_a_unit_of_work_does_not_block_writers(sqlite_only):
    db.session.execute(select(1)).scalar()
    assert db.session().in_transaction()  # a read transaction is open meanwhile

    assert try_to_take_the_write_lock(sqlite_only) == "free"


def test_a_failed_unit_of_work_releases_the_write_lock(sqlite_only):
    @unit_of_work
    def fail() -> None:
        db.session.execute(select(1)).scalar()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail()

    assert try_to_take_the_write_lock(sqlite_only) == "free"


def test_the_database_is_at_the_newest_migration(ctx):
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    assert set(current) == set(script.get_heads())


def test_the_migrated_schema_matches_the_models(ctx):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, db.metadata)
    # Nothing is ignored: the models' naming convention gives every constraint and index the
    # same name on SQLite and PostgreSQL, and the enums are VARCHAR + CHECK (no native types),
    # so autogenerate sees no difference on either. Autogenerate does not compare CHECK
    # constraints at all; test_status_columns_refuse_values_outside_their_enum covers them.
    assert differences == []


def _check_constraints() -> dict[str, str]:
    """Every CHECK constraint of the database: name -> its SQL text."""
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            rows = conn.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE contype = 'c'"
                )
            )
            return dict(rows.all())
        tables = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table'"))
        found = re.findall(
            r"CONSTRAINT (\w+) CHECK \((.*?)\)(?:,|\s*\)$)",
            "\n".join(sql for (sql,) in tables if sql),
            flags=re.MULTILINE,
        )
        return dict(found)


def test_every_enum_column_allows_exactly_its_enums_values_in_the_database(ctx):
    """Autogenerate does not compare CHECK constraints, so an enum value added to a model
    without a migration would only fail on the first insert; this catches it."""
    checks = _check_constraints()
    compared = 0
    for table in db.metadata.tables.values():
        for column in table.columns:
            enum_type = column.type
            if not isinstance(enum_type, Enum) or not enum_type.create_constraint:
                continue
            name = f"ck_{table.name}_{enum_type.name}"
            assert name in checks, f"no CHECK constraint {name} in the database"
            allowed = set(re.findall(r"'([^']*)'", checks[name]))
            assert allowed == set(enum_type.enums), (name, allowed, enum_type.enums)
            compared += 1
    assert compared >= 4


def test_one_record_per_student_per_session_is_a_named_unique_constraint(ctx):
    constraints = {
        uc["name"]: uc["column_names"]
        for uc in inspect(db.engine).get_unique_constraints("attendance")
    }
    assert constraints.get("unique_attendance_per_session") == ["session_id", "student_id"]


def raw_attendance_row(session_id, student_id, **overrides) -> dict:
    now = utcnow()
    if db.engine.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    row = {
        "id": uuid.uuid4(),
        "session_id": session_id,
        "student_id": student_id,
        "status": "PRESENT",
        "marked_at": now,
        "notes": "",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    row.update(overrides)
    if db.engine.dialect.name == "sqlite":  # plain SQL: SQLAlchemy's Uuid stores 32 hex chars
        row = {k: v.hex if isinstance(v, uuid.UUID) else v for k, v in row.items()}
    return row


INSERT_ATTENDANCE = text(
    "INSERT INTO attendance (id, session_id, student_id, status, marked_at, notes, version,"
    " created_at, updated_at) VALUES (:id, :session_id, :student_id, :status, :marked_at,"
    " :notes, :version, :created_at, :updated_at)"
)


@pytest.fixture
def marked(app):
    """(session id, a marked student's id, an unmarked student's id)."""
    klass = make_class(app, admin=make_admin(app), students=2)
    session_id = make_session(app, klass)
    mark(app, klass, session_id, klass.students[0], "PRESENT")
    return session_id, klass.students[0].profile_id, klass.students[1].profile_id


def insert_raw(row: dict) -> None:
    with db.engine.connect() as conn:
        conn.execute(INSERT_ATTENDANCE, row)
        conn.commit()


def test_the_database_itself_refuses_a_second_record_for_a_student(ctx, marked):
    session_id, student_id, _ = marked
    with pytest.raises(IntegrityError, match=r"(?i)unique"):
        insert_raw(raw_attendance_row(session_id, student_id))


def test_the_database_itself_refuses_a_record_of_an_unknown_session(ctx, marked):
    _, _, student_id = marked
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        insert_raw(raw_attendance_row(uuid.uuid4(), student_id))


def test_status_columns_refuse_values_outside_their_enum(ctx, marked):
    session_id, _, student_id = marked
    with pytest.raises(IntegrityError, match=r"(?i)check"):
        insert_raw(raw_attendance_row(session_id, student_id, status="EXCUSED"))


def test_a_unit_of_work_on_sqlite_holds_the_process_write_gate_until_it_ends(sqlite_only):
    # Writers of one process queue on this (green, under the server's monkey-patching) lock
    # instead of inside SQLite's busy_timeout, which would hold the event loop's only thread.
    gate = write_gate(db.engine)

    @unit_of_work
    def inside() -> bool:
        return gate.locked()

    assert not gate.locked()
    assert inside() is True
    assert not gate.locked()


def test_a_failed_unit_of_work_releases_the_process_write_gate(sqlite_only):
    @unit_of_work
    def fail() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail()

    assert not write_gate(db.engine).locked()


def test_a_second_writer_of_the_process_waits_for_the_first_at_the_gate(app, sqlite_only):
    order: list[str] = []
    first_inside = threading.Event()
    let_first_finish = threading.Event()

    @unit_of_work
    def first() -> None:
        order.append("first begins")
        first_inside.set()
        let_first_finish.wait()
        order.append("first ends")

    @unit_of_work
    def second() -> None:
        order.append("second begins")

    def run(fn) -> None:
        with app.app_context():
            fn()

    one = threading.Thread(target=run, args=(first,))
    one.start()
    first_inside.wait()
    two = threading.Thread(target=run, args=(second,))
    two.start()
    let_first_finish.set()
    one.join()
    two.join()

    assert order == ["first begins", "first ends", "second begins"]


def test_sqlite_request_connections_checkpoint_only_past_the_fallback_bound(sqlite_only):
    # Checkpoints are made in the background; a commit copies the log itself only if the
    # background ones stopped or fell far behind (the log stays bounded either way).
    assert pragma("wal_autocheckpoint") == checkpoints.FALLBACK_PAGES


def settle(checkpointer: checkpoints.Checkpointer) -> None:
    """Wait (bounded) until no background checkpoint is asked for or copying."""
    for _ in range(600):
        if not checkpointer.due and not checkpointer.running:
            return
        time.sleep(0.05)
    raise AssertionError(f"a background checkpoint of {checkpointer.path} never ended")


def test_a_write_is_copied_into_the_database_file_by_a_background_checkpoint(sqlite_only):
    checkpointer = checkpoints.for_database(sqlite_only)
    settle(checkpointer)
    rounds = checkpointer.rounds

    @unit_of_work
    def write() -> None:
        db.session.add(Subject(code="CKPT1", name="Checkpointed"))

    write()
    assert checkpointer.due or checkpointer.running or checkpointer.rounds > rounds
    settle(checkpointer)

    assert checkpointer.rounds > rounds
    last = checkpointer.last
    assert last is not None and last.busy == 0
    assert last.logged > 0 and last.copied == last.logged  # all of the log, ours included


def test_a_transaction_that_wrote_nothing_asks_for_no_checkpoint(sqlite_only):
    checkpointer = checkpoints.for_database(sqlite_only)
    settle(checkpointer)

    @unit_of_work
    def read() -> int:
        return db.session.execute(select(1)).scalar_one()

    read()
    db.session.execute(select(1)).scalar()
    db.session.commit()

    assert not checkpointer.due and not checkpointer.running


@pytest.mark.database_independent
def test_a_background_checkpoint_never_creates_a_database_file_that_is_gone(tmp_path):
    missing = tmp_path / "gone.sqlite3"
    with pytest.raises(sqlite3.OperationalError):
        checkpoints.checkpoint(str(missing))
    assert not missing.exists()


def test_after_a_long_log_is_copied_the_next_writer_restarts_it(sqlite_only):
    # The log does not keep growing: once a round has copied all of it, the next writer
    # begins with nothing left to copy and restarts it from its start. (Past RESTART_PAGES
    # a round copies its last part holding the write gate, so that holds even for writers
    # that never pause; bench_bulk --wal shows the log's largest size under such writers.)
    checkpointer = checkpoints.for_database(sqlite_only)

    @unit_of_work
    def write(sql: str, params: dict | None = None) -> None:
        db.session.execute(text(sql), params or {})

    write("CREATE TABLE log_pages (b BLOB)")
    try:
        settle(checkpointer)
        pages = checkpoints.RESTART_PAGES + 200
        write(
            "INSERT INTO log_pages SELECT randomblob(4000) FROM json_each(:rows)",
            {"rows": "[" + ",".join(["0"] * pages) + "]"},
        )
        settle(checkpointer)
        long_log = checkpointer.last
        assert long_log is not None and long_log.logged > checkpoints.RESTART_PAGES
        assert long_log.copied == long_log.logged

        write("INSERT INTO log_pages VALUES (x'00')")
        settle(checkpointer)

        restarted = checkpointer.last
        assert restarted is not None and restarted.logged < 50
    finally:
        write("DROP TABLE log_pages")
