"""psycopg's cursor, with its ``description`` made when it is first read, not on access.

psycopg builds ``Cursor.description`` anew on every access: a ``Column`` per result column,
each reading the column's name, type, modifier and size from the result (~8 Python calls a
column). SQLAlchemy asks for it after every statement, twice after an INSERT or UPDATE …
RETURNING, but with a compiled statement it has seen before (every hot path's) it only
looks at whether there is one: its result's columns are known already. A roster tap on
PostgreSQL spent ~960 of its ~6,500 Python calls building descriptions no one read.

Here ``description`` is a sequence that knows its length at once and makes its ``Column``
objects, psycopg's own, the first time an element is read: the same columns, built from the
same result. It is given as the connections' ``cursor_factory`` (``config.engine_options``),
the option SQLAlchemy documents for choosing psycopg's cursor class.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import psycopg
from psycopg import Column
from psycopg.pq import ExecStatus

#: psycopg's rule (``BaseCursor.description``): a result has a description when it has
#: columns, or when it says it returned rows (``SELECT ;`` has rows of no columns).
_ROWS = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)


class _ResultColumns:
    """What psycopg's ``Column`` reads of its cursor (the result, the connection's encoding
    and its adapters), fixed to one result: a description read after its cursor moved on
    still describes the result it was made for. (psycopg 3.3's ``Column.__init__`` reads
    exactly these; ``tests/services/test_psycopg_cursor.py`` compares the columns made here
    with psycopg's own, so an upgrade that reads more fails there.)"""

    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, cursor: psycopg.Cursor[Any], pgresult: Any) -> None:
        self.pgresult = pgresult
        self._encoding = cursor._encoding
        self.adapters = cursor.adapters


class Description(Sequence[Column]):
    """A result's ``Column`` objects, made on first use."""

    __slots__ = ("_columns", "_cursor", "_length", "_result")

    def __init__(self, cursor: psycopg.Cursor[Any], pgresult: Any) -> None:
        self._length: int = pgresult.nfields
        self._cursor: psycopg.Cursor[Any] | None = cursor
        self._result: Any = pgresult
        self._columns: list[Column] | None = None

    def _made(self) -> list[Column]:
        columns = self._columns
        if columns is None:
            assert self._cursor is not None
            source = _ResultColumns(self._cursor, self._result)
            columns = self._columns = [Column(source, i) for i in range(self._length)]  # type: ignore[arg-type]
            self._cursor = self._result = None  # no longer needed
        return columns

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[Column]: ...
    def __getitem__(self, index: int | slice) -> Column | list[Column]:
        return self._made()[index]

    def __iter__(self) -> Iterator[Column]:
        return iter(self._made())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Description):
            other = other._made()
        return self._made() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._made())


class Cursor(psycopg.Cursor[Any]):
    """psycopg's client-side cursor, whose ``description`` is a :class:`Description`."""

    __slots__ = ()

    @property
    def description(self) -> Description | None:  # type: ignore[override]
        result = self.pgresult
        if result and (result.nfields or result.status in _ROWS):
            return Description(self, result)
        return None
