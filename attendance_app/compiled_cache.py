"""The engine's cache of compiled statements, which finds a statement built once by identity.

SQLAlchemy finds a statement's compiled form by its cache key: a tuple as deep as the
statement, which a dict lookup hashes again on every execution (Python does not keep a
tuple's hash). A single mark's session read is ~1,400 items, the alert check's ~1,100, the
token lookup's ~800: ~35 µs of hashing a mark on a warm CPU cache, more on a cold one. The
statements of the hot paths are built once, at import, and SQLAlchemy memoizes a statement's
key on it, so every execution of such a statement presents the very same key object: this
cache finds its compiled form by that object's identity first, and only then by value (as
the engine's own cache does, an LRU of the same capacity).

An identity hit returns exactly what the lookup by value would: the key objects are the
same, so the keys are equal. ``compiled_cache`` is SQLAlchemy's documented engine-level
execution option (a dict-like with ``get`` and item assignment)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.util import LRUCache

#: SQLAlchemy's default ``query_cache_size``.
CAPACITY = 500


class CompiledCache:
    """A ``compiled_cache``: by the cache key object's identity, then by value (LRU).

    SQLAlchemy's key is ``(dialect, statement key, column keys, schema translate map?,
    executemany?)``; the statement key is the part worth not hashing."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._by_value: LRUCache[tuple[Any, ...], Any] = LRUCache(capacity)
        #: id(statement key) → (that key, {the rest of the cache key: compiled}). The key is
        #: held, so its id cannot be reused while the entry stands.
        self._by_identity: dict[int, tuple[Any, dict[tuple[Any, ...], Any]]] = {}
        #: Statements built per call leave entries that are never found again: the map
        #: starts over past this size (the statements built once are found again at once).
        self._identity_limit = 2 * capacity

    def get(self, key: tuple[Any, ...]) -> Any:
        statement_key = key[1]
        entry = self._by_identity.get(id(statement_key))
        if entry is not None and entry[0] is statement_key:
            compiled = entry[1].get((key[0], *key[2:]))
            if compiled is not None:
                return compiled
        compiled = self._by_value.get(key)
        if compiled is not None:
            self._remember(key, compiled)
        return compiled

    def __setitem__(self, key: tuple[Any, ...], compiled: Any) -> None:
        self._by_value[key] = compiled
        self._remember(key, compiled)

    def _remember(self, key: tuple[Any, ...], compiled: Any) -> None:
        statement_key = key[1]
        entry = self._by_identity.get(id(statement_key))
        if entry is None or entry[0] is not statement_key:
            if len(self._by_identity) >= self._identity_limit:
                self._by_identity.clear()
            entry = self._by_identity[id(statement_key)] = (statement_key, {})
        entry[1][(key[0], *key[2:])] = compiled


def install(engine: Engine) -> None:
    """Make a :class:`CompiledCache` the engine's cache of compiled statements."""
    engine.update_execution_options(compiled_cache=CompiledCache())
