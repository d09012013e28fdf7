"""A bounded dict for the per-process memories of answers already verified (the session
cookie's, CSRF tokens', API tokens', the kept users).

Each memory is exact by its own key (a string the verifier accepted, a whole row, a data
version); this only keeps it from growing without end. Past its limit the oldest half goes:
a dict keeps insertion order, so that is the first half of its keys.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Bounded(dict[K, V], Generic[K, V]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.lock = threading.Lock()  # green under eventlet/gevent; nothing inside yields

    def remember(self, key: K, value: V) -> None:
        """Set ``key``, first dropping the oldest half when full (``key`` new)."""
        with self.lock:
            if len(self) >= self.limit and key not in self:
                for old in list(self)[: self.limit // 2]:
                    del self[old]
            self[key] = value
