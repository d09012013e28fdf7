"""Who is viewing each session's roster ("2 people marking"), across server processes.

In one process a dictionary is enough; with a Redis message queue the viewers live in Redis
hashes, so every process counts the same people. Entries expire after a day in case a process
died without saying goodbye.
"""

from __future__ import annotations

import json
import threading

import redis

_TTL_SECONDS = 24 * 3600


class MemoryPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._viewers: dict[str, dict[str, dict]] = {}  # session → sid → viewer

    def add(self, session_id: str, sid: str, viewer: dict) -> None:
        with self._lock:
            self._viewers.setdefault(session_id, {})[sid] = viewer

    def remove(self, session_id: str, sid: str) -> None:
        with self._lock:
            self._viewers.get(session_id, {}).pop(sid, None)

    def viewers(self, session_id: str) -> list[dict]:
        with self._lock:
            return list(self._viewers.get(session_id, {}).values())

    def viewer_sids(self, session_id: str) -> dict[str, dict]:
        """The session's viewers by connection id."""
        with self._lock:
            return dict(self._viewers.get(session_id, {}))


class RedisPresence:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url)
        self._prefix = prefix

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}:presence:{session_id}"

    def add(self, session_id: str, sid: str, viewer: dict) -> None:
        key = self._key(session_id)
        pipe = self._redis.pipeline()
        pipe.hset(key, sid, json.dumps(viewer))
        pipe.expire(key, _TTL_SECONDS)
        pipe.execute()

    def remove(self, session_id: str, sid: str) -> None:
        self._redis.hdel(self._key(session_id), sid)

    def viewers(self, session_id: str) -> list[dict]:
        return [json.loads(v) for v in self._redis.hvals(self._key(session_id))]

    def viewer_sids(self, session_id: str) -> dict[str, dict]:
        """The session's viewers by connection id."""
        return {
            sid.decode(): json.loads(v)
            for sid, v in self._redis.hgetall(self._key(session_id)).items()
        }


def make_presence(message_queue: str | None, channel: str):
    if message_queue and message_queue.startswith(("redis://", "rediss://")):
        return RedisPresence(message_queue, channel)
    return MemoryPresence()


def summary(viewers: list[dict]) -> dict:
    """Distinct people (one teacher with two tabs open counts once), sorted by name."""
    people = {v["user_id"]: v["name"] for v in viewers}
    names = sorted(people.values())
    return {"count": len(names), "names": names}
