"""Whether any process waits for jobs to finish on this database, so that a finish notifies
(``jobtrail_finished``) only then.

A notifying transaction holds a lock that queues every other notifying one until it has
committed, flush to disk included: concurrent finishes would lose their shared flushes to
it. So a finish notifies only while a waiters' connection is open — each process that waits
keeps one, named ``jobtrail-waiters`` on the server — as this process last knew: its own
watch, an announcement heard (a waiters' connection says so on the workers' channel when it
opens), or the server's list of connections, read again once `TTL` seconds have passed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg

#: Seconds the last answer stands before the server is asked again.
TTL = 1.0
#: The payload of the workers' notification by which a waiters' connection announces itself
#: (a queue's name is never empty).
ANNOUNCEMENT = ""


class Presence:
    """What this process knows of the waiters' connections to its database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._present = True  # until the server says otherwise
        self._until = 0.0

    def announced(self) -> None:
        """A waiters' connection opened: finishes notify from now on (for `TTL` seconds at
        least)."""
        with self._lock:
            self._present, self._until = True, time.monotonic() + TTL

    def listening(self, ask: Callable[[], bool]) -> bool:
        """True when finishes should notify; *ask* reads the server's answer, once the last
        one is `TTL` seconds old. An answer that cannot be read counts as yes."""
        now = time.monotonic()
        with self._lock:
            if now < self._until:
                return self._present
        try:
            present = ask()
        except psycopg.Error:  # the finish that asks will meet the same failure, and say it
            present = True
        with self._lock:
            if time.monotonic() >= self._until:  # an announcement meanwhile stands
                self._present, self._until = present, now + TTL
            return self._present
