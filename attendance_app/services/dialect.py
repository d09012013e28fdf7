"""The database-specific SQL the services need, chosen once from the engine's dialect."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import (
    BindParameter,
    Boolean,
    Date,
    Dialect,
    Text,
    TextClause,
    TypeDecorator,
    Uuid,
    bindparam,
    cast,
    func,
    literal_column,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import UserDefinedType

from attendance_app.extensions import db
from attendance_app.services.ids import prefix_digits


def insert(table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ``on_conflict_do_nothing`` and ``returning`` on this database.

    SQLAlchemy has no backend-neutral upsert; SQLite (>= 3.35) and PostgreSQL both speak
    ``INSERT … ON CONFLICT DO NOTHING … RETURNING``, which lets the database arbitrate
    concurrent inserts instead of a racy select-then-insert.
    """
    if db.engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def utc_date(column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, as an SQL expression (for GROUP BY).

    PostgreSQL stores ``timestamptz`` (its ``date()`` would use the connection's time zone);
    SQLite stores naive UTC text, whose ``date()`` is already the UTC day.
    """
    if db.engine.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _hyphenated(stored: str) -> str:
    """SQLite's stored 32 hex digits of a UUID as ``str(uuid.UUID)`` writes them (what
    SQLAlchemy's ``Uuid`` and :func:`new_uuid` store is lower-case already; ``lower`` keeps
    another writer's digits right too)."""
    return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}".lower()


def _iso_from_stored(stored: str) -> str:
    """SQLite's stored timestamp (naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff``, as SQLAlchemy
    writes it) as ``models.base.iso`` writes it: a ``T``, a ``Z``, and no fraction when it
    is zero (Python's ``isoformat``)."""
    if stored.endswith(".000000"):
        stored = stored[:19]
    return stored.replace(" ", "T") + "Z"


class _Memo(dict[str | None, str | None]):
    """``make(stored)`` of each stored text, remembered: a hit is one C-level dict lookup
    (~0.1 µs) where slicing anew costs ~0.5 µs, and the reads that matter read the same rows
    again and again (a session view reloaded while the lesson runs, a student's history).
    At most ``limit`` entries (~200 bytes each): full, it starts again empty."""

    def __init__(self, make: Callable[[str], str], limit: int) -> None:
        super().__init__()
        self.make = make
        self.limit = limit

    def __missing__(self, stored: str | None) -> str | None:
        if len(self) >= self.limit:
            self.clear()
        text = self[stored] = None if stored is None else self.make(stored)
        return text


class _StoredText(UserDefinedType[str]):
    """The result type of :class:`uuid_text` and :class:`iso_text`: the text PostgreSQL
    computed, as it comes, or SQLite's stored text turned into it by ``on_sqlite`` while
    the rows are read."""

    cache_ok = True
    on_sqlite: Callable[[Any], str | None]

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        return self.on_sqlite if dialect.name == "sqlite" else None


class _UuidText(_StoredText):
    on_sqlite = staticmethod(_Memo(_hyphenated, 20_000).__getitem__)


class _IsoText(_StoredText):
    on_sqlite = staticmethod(_Memo(_iso_from_stored, 20_000).__getitem__)


class uuid_text(FunctionElement[str]):
    """A UUID column as the text ``str(uuid.UUID)`` gives (lower-case, hyphenated): the read
    bodies need the string, and building a ``uuid.UUID`` per value only to print it cost
    more than the query on a 500-row read.

    PostgreSQL computes it: ``CAST(uuid AS TEXT)`` is exactly that text, and cheap there.
    SQLite stores SQLAlchemy's ``Uuid`` as 32 hex digits, read as stored and given their
    hyphens in Python as the rows are read (:func:`_hyphenated`): slicing a string costs
    less than SQLite's ``substr`` and ``||`` did (~1.5 ms, half the query, of a 500-student
    session view). One construct, compiled per dialect, so a statement built once at import
    serves both databases.
    """

    type = _UuidText()
    name = "uuid_text"
    inherit_cache = True


class iso_text(FunctionElement[str]):
    """A timestamp column as the text ``models.base.iso`` gives it (ISO 8601 in UTC, ``Z``
    suffix, microseconds only when there are some — Python's ``isoformat``), for the same
    reason as :class:`uuid_text`.

    PostgreSQL formats its ``timestamptz`` in UTC with ``to_char``. SQLite stores what
    SQLAlchemy writes, naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff``, read as stored and cut and
    joined in Python (:func:`_iso_from_stored`).
    """

    type = _IsoText()
    name = "iso_text"
    inherit_cache = True


@compiles(uuid_text, "postgresql")
def _uuid_text_postgresql(element: uuid_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


@compiles(iso_text, "postgresql")
def _iso_text_postgresql(element: iso_text, compiler: SQLCompiler, **kw: Any) -> str:
    utc = f"({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC')"
    micro = f"to_char({utc}, 'US')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN {micro} = '000000' THEN '' ELSE '.' || {micro} END || 'Z'"
    )


@compiles(uuid_text, "sqlite")
@compiles(iso_text, "sqlite")
def _stored_text_sqlite(element: FunctionElement[str], compiler: SQLCompiler, **kw: Any) -> str:
    """The column as stored: its type's result processor makes the text (see above)."""
    return compiler.process(element.clauses, **kw)


class uuid_hex(FunctionElement[str]):
    """A UUID column as its 32 lower-case hex digits (``uuid.UUID.hex``): for matching many
    rows to UUIDs already in hand (by ``.hex``, ~0.1 µs) without making a ``uuid.UUID`` of
    every row's value (~2 µs each; 500 were a visible share of a bulk mark's alert check).
    SQLite stores exactly that text (read as stored); PostgreSQL drops the hyphens."""

    type = Text()
    name = "uuid_hex"
    inherit_cache = True


@compiles(uuid_hex, "postgresql")
def _uuid_hex_postgresql(element: uuid_hex, compiler: SQLCompiler, **kw: Any) -> str:
    return f"replace(CAST({compiler.process(element.clauses, **kw)} AS TEXT), '-', '')"


@compiles(uuid_hex, "sqlite")
def _uuid_hex_sqlite(element: uuid_hex, compiler: SQLCompiler, **kw: Any) -> str:
    # ``lower``: what SQLAlchemy's ``Uuid`` and ``new_uuid`` store is lower-case already;
    # another writer's digits still match.
    return f"lower({compiler.process(element.clauses, **kw)})"


class returned(FunctionElement[Any]):
    """A scalar subquery (or EXISTS) for a RETURNING clause, its columns named with their
    tables: SQLite's RETURNING leaves the table out of every column it renders, a subquery's
    too, where ``id = teacher_id`` of a join is ambiguous and ``class_id = class_id`` the
    inner table's column twice. Compiled as the subquery itself, with the tables' names."""

    name = "returned"
    inherit_cache = True

    def __init__(self, subquery: ColumnElement[Any]) -> None:
        super().__init__(subquery)
        self.type = subquery.type


@compiles(returned)
def _returned(element: returned, compiler: SQLCompiler, **kw: Any) -> str:
    kw.pop("include_table", None)
    return compiler.process(element.clauses, **kw)


def uuid_digits(name: str) -> ColumnElement[uuid.UUID]:
    """A UUID bound as its hex digits (the parameter ``name`` is ``UUID.hex``), for a
    statement that repeats it: SQLite's parameters are positional, and a ``Uuid`` bound
    parameter is converted once per place it appears (a correction's read names its record
    19 times), where text is passed as it is. Cast to the column's type in SQL: SQLite
    stores exactly these digits, PostgreSQL reads them as a uuid."""
    return cast(bindparam(name, type_=Text()), Uuid())


def new_uuid() -> ColumnElement[uuid.UUID]:
    """A fresh time-ordered (version 7) UUID per row, made by the database: for an
    ``INSERT … SELECT`` that creates many rows without sending an id for each (why
    time-ordered: ``services.ids``).

    Its first 13 hex digits (this millisecond and the version) are one bound parameter,
    computed at each execution (``ids.prefix_digits``); the database appends 19 random ones
    with the variant set. PostgreSQL (>= 13): the tail of ``gen_random_uuid()``'s text,
    whose variant digit is already right. SQLite: the 32 lowercase hex digits SQLAlchemy's
    ``Uuid`` stores there, the 19 random ones written by one ``printf`` from three
    ``random()`` (masked to 12, 2 and 60 bits: non-negative) — half the time of
    ``hex(randomblob(…))`` pieces cut and joined.
    """
    if db.engine.dialect.name == "postgresql":
        # 'tttttttt-tttt-7' and the tail of the version 4 text, 'xxx-Vxxx-xxxxxxxxxxxx'.
        prefix = bindparam("uuid7_prefix", callable_=_hyphenated_prefix, type_=Text())
        return cast(prefix + func.substr(cast(func.gen_random_uuid(), Text()), 16), Uuid())
    prefix = bindparam("uuid7_prefix", callable_=prefix_digits, type_=Text())
    return type_coerce(func.printf(_SQLITE_UUID7_FORMAT, prefix, *_SQLITE_UUID7_RANDOM), Uuid())


_SQLITE_UUID7_FORMAT = "%s%03x%x%015x"
_SQLITE_UUID7_RANDOM: tuple[ColumnElement[int], ...] = (
    literal_column("random() & 4095"),  # 12 bits
    literal_column("8 + (random() & 3)"),  # the variant digit: 8, 9, a or b
    literal_column(f"random() & {(1 << 60) - 1}"),  # 60 bits
)


def _hyphenated_prefix() -> str:
    digits = prefix_digits()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:]}"


def json_rows(param: str, columns: int) -> tuple[TextClause, list[ColumnElement[Any]]]:
    """A FROM clause over the rows of one JSON parameter ``param`` (an array of arrays), and
    an expression for each of the first ``columns`` fields as text: many rows sent as one
    value instead of a parameter per field (an ``INSERT … SELECT`` of 500 rows then costs
    the database's work only, not 500 rows of SQLAlchemy's parameter processing)."""
    if db.engine.dialect.name == "postgresql":
        source = text(f"jsonb_array_elements(CAST(:{param} AS jsonb)) AS json_row(value)")
        fields: list[ColumnElement[Any]] = [
            literal_column(f"json_row.value ->> {i}") for i in range(columns)
        ]
        return source, fields
    source = text(f"json_each(:{param}) AS json_row")
    fields = [literal_column(f"json_extract(json_row.value, '$[{i}]')") for i in range(columns)]
    return source, fields


class UuidList(TypeDecorator[list[uuid.UUID]]):
    """Many UUIDs bound as ONE text parameter (for :func:`in_uuids`): PostgreSQL's array
    literal ``{hex,hex,…}``, SQLite's JSON array of the 32-digit hex it stores. The value
    may be the ids' ``UUID.hex`` strings instead of the UUIDs (all one or all the other).

    An expanding ``IN`` of 500 ids cost more in Python than the query in the database: each
    id a parameter through SQLAlchemy's UUID processing and a ``$n`` in a statement too long
    for psycopg's cache of converted queries (its parser ran on every execution).
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        # UUIDs, or the same as their 32 hex digits (``UUID.hex``) when the caller has them.
        digits = value if value and isinstance(value[0], str) else [u.hex for u in value]
        if dialect.name == "postgresql":
            return "{" + ",".join(digits) + "}"
        return orjson.dumps(digits).decode()


class in_uuids(FunctionElement[bool]):
    """``column IN (the UUIDs of one UuidList parameter)`` as a subquery the planner can hash
    (``unnest`` / ``json_each``), whatever the number of ids; built once, compiled per
    dialect like :class:`uuid_text`. Use ``in_uuids(column, bindparam(name, type_=UuidList()))``.
    """

    type = Boolean()
    name = "in_uuids"
    inherit_cache = True


@compiles(in_uuids, "postgresql")
def _in_uuids_postgresql(element: in_uuids, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} IN (SELECT unnest(CAST({ids} AS UUID[])))"


@compiles(in_uuids, "sqlite")
def _in_uuids_sqlite(element: in_uuids, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} IN (SELECT value FROM json_each({ids}))"


def uuid_list(name: str) -> BindParameter[list[uuid.UUID]]:
    """The bound parameter ``name`` of :func:`in_uuids`: a sequence of UUIDs."""
    return bindparam(name, type_=UuidList())
