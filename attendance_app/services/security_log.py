"""One structured line per security event, on the ``attendance.security`` logger.

``event=login_failed email="ada@school.example" address=203.0.113.9 channel=API`` — key=value
pairs an operator can grep or ship to a log system. Never pass a secret (password, token,
second-factor code or secret, recovery code): ids, emails, addresses and reasons only.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("attendance.security")

_PLAIN = re.compile(r"[A-Za-z0-9_.@:/+-]+")


def _value(value: object) -> str:
    text = "" if value is None else str(getattr(value, "value", value))
    # Quoted and escaped unless plainly safe: a crafted email cannot forge a second line.
    return text if _PLAIN.fullmatch(text) else json.dumps(text, ensure_ascii=True)


def security_event(event: str, **fields: object) -> None:
    """Log ``event`` with its fields as one key=value line (``None`` fields are left out)."""
    parts = [f"event={event}"]
    parts += [f"{key}={_value(value)}" for key, value in fields.items() if value is not None]
    log.info(" ".join(parts), extra={"security_event": event})


@contextmanager
def held_back() -> Iterator[Counter[str]]:
    """Count the security events logged inside the block instead of writing them.

    Only for a bulk load an operator runs at a terminal with made-up people (``flask demo``):
    its dozens of ``guardian_added`` lines would bury the logins the command prints. Nothing
    that serves requests uses it.
    """
    counts: Counter[str] = Counter()

    def count(record: logging.LogRecord) -> bool:
        counts[getattr(record, "security_event", "?")] += 1
        return False

    log.addFilter(count)
    try:
        yield counts
    finally:
        log.removeFilter(count)
