"""Who is viewing each session's roster ("2 people marking"), across server processes.

In one process a dictionary is enough; with a Redis message queue the viewers live in Redis
hashes, so every process counts the same people. Entries expire after a day in case a process
died without saying goodbye.
"""

from __future__ import annotations

import json
import logging
import threading

import redis

_TTL_SECONDS = 24 * 3600
#: A room hears who is viewing it at most once per this many seconds: the joins and leaves
#: in between are folded into one announcement of where they ended (handlers.py).
ANNOUNCE_SECONDS = 0.5
#: Seconds a Redis call may take before the process counts its own viewers only.
REDIS_TIMEOUT = 1.0

log = logging.getLogger(__name__)


class MemoryPresence:
    """This process's viewers. Besides each session's connections it keeps each viewer's
    number of connections there, so a join or a leave knows at once whether the people
    viewing changed (a second tab changes nothing) and the summary reads people, not
    connections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._viewers: dict[str, dict[str, dict]] = {}  # session → sid → viewer
        self._people: dict[str, dict[str, list]] = {}  # session → user id → [name, tabs]

    def add(self, session_id: str, sid: str, viewer: dict) -> bool:
        """Count ``sid`` as viewing; True if the session's people changed (a new person)."""
        with self._lock:
            sids = self._viewers.setdefault(session_id, {})
            if sid in sids:
                return False
            sids[sid] = viewer
            people = self._people.setdefault(session_id, {})
            person = people.get(viewer["user_id"])
            if person is None:
                people[viewer["user_id"]] = [viewer["name"], 1]
                return True
            person[1] += 1
            return False

    def remove(self, session_id: str, sid: str) -> bool:
        """Stop counting ``sid``; True if the session's people changed (its last tab)."""
        with self._lock:
            sids = self._viewers.get(session_id)
            viewer = sids.pop(sid, None) if sids is not None else None
            if viewer is None:
                return False
            people = self._people[session_id]
            person = people[viewer["user_id"]]
            person[1] -= 1
            gone = person[1] == 0
            if gone:
                del people[viewer["user_id"]]
            if not sids:
                del self._viewers[session_id]
                del self._people[session_id]
            return gone

    def viewers(self, session_id: str) -> list[dict]:
        with self._lock:
            return list(self._viewers.get(session_id, {}).values())

    def viewer_sids(self, session_id: str) -> dict[str, dict]:
        """The session's viewers by connection id."""
        with self._lock:
            return dict(self._viewers.get(session_id, {}))

    def summary(self, session_id: str) -> dict:
        """``{"count", "names"}`` of the distinct people viewing (see :func:`summary`)."""
        with self._lock:
            names = sorted(name for name, _ in self._people.get(session_id, {}).values())
        return {"count": len(names), "names": names}


class RedisPresence:
    """Viewers in Redis, shared by every process. While Redis cannot be reached, joining and
    leaving still work: the process counts its own viewers (kept in memory beside Redis
    anyway), logs the outage once, and reads Redis again as soon as it answers."""

    def __init__(self, url: str, prefix: str) -> None:
        # Short timeouts: a Redis that does not answer costs a join a second, not a hang.
        self._redis = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self._prefix = prefix
        self._local = MemoryPresence()
        self._down = False

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}:presence:{session_id}"

    def _shared(self, call, fallback):
        """``call()`` against Redis; ``fallback()`` (this process's viewers) if it fails."""
        try:
            result = call()
        except redis.RedisError as exc:
            if not self._down:
                self._down = True
                log.warning("presence: Redis unreachable (%s); counting this process only", exc)
            return fallback()
        if self._down:
            self._down = False
            log.info("presence: Redis reachable again")
        return result

    def add(self, session_id: str, sid: str, viewer: dict) -> bool:
        """Count ``sid`` as viewing. Always True: whether the people viewing changed depends
        on the other processes' viewers too, so every join is announced (coalesced)."""
        self._local.add(session_id, sid, viewer)
        key = self._key(session_id)

        def write() -> None:
            pipe = self._redis.pipeline()
            pipe.hset(key, sid, json.dumps(viewer))
            pipe.expire(key, _TTL_SECONDS)
            pipe.execute()

        self._shared(write, lambda: None)
        return True

    def remove(self, session_id: str, sid: str) -> bool:
        """Stop counting ``sid``; always True (see :meth:`add`)."""
        self._local.remove(session_id, sid)
        self._shared(lambda: self._redis.hdel(self._key(session_id), sid), lambda: None)
        return True

    def viewers(self, session_id: str) -> list[dict]:
        return self._shared(
            lambda: [json.loads(v) for v in self._redis.hvals(self._key(session_id))],
            lambda: self._local.viewers(session_id),
        )

    def viewer_sids(self, session_id: str) -> dict[str, dict]:
        """The session's viewers by connection id."""
        return self._shared(
            lambda: {
                sid.decode(): json.loads(v)
                for sid, v in self._redis.hgetall(self._key(session_id)).items()
            },
            lambda: self._local.viewer_sids(session_id),
        )

    def summary(self, session_id: str) -> dict:
        """``{"count", "names"}`` of the distinct people viewing, in every process."""
        return self._shared(
            lambda: summary([json.loads(v) for v in self._redis.hvals(self._key(session_id))]),
            lambda: self._local.summary(session_id),
        )


def make_presence(message_queue: str | None, channel: str):
    if message_queue and message_queue.startswith(("redis://", "rediss://")):
        return RedisPresence(message_queue, channel)
    return MemoryPresence()


def summary(viewers: list[dict]) -> dict:
    """Distinct people (one teacher with two tabs open counts once), sorted by name."""
    people = {v["user_id"]: v["name"] for v in viewers}
    names = sorted(people.values())
    return {"count": len(names), "names": names}
