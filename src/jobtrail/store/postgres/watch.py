"""How an idle PostgreSQL worker hears of new work: LISTEN on a connection of its own."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from jobtrail.store.postgres.connection import Database
from jobtrail.store.sqlfiles import queries

_Q = queries("postgres")
#: Seconds between two looks at whether the watcher was asked to stop.
WATCH_POLL = 0.25
#: The longest pause before opening the watcher's connection again after an error.
WATCH_MAX_BACKOFF = 5.0

log = logging.getLogger("jobtrail.store.postgres")


class ListenWatch:
    """LISTENs on a dedicated connection and reports every notification (and each
    reconnection: work may have arrived while nobody listened). Errors never escape its
    thread: the connection is opened again with backoff."""

    def __init__(self, database: Database, on_change: Callable[[], None]) -> None:
        self._database, self._on_change = database, on_change
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobtrail-pg-watch", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        try:
            self._on_change()
        except Exception:
            log.exception("watch callback failed")

    def _run(self) -> None:
        backoff = 0.0
        while not self._stopped.is_set():
            try:
                with self._database.connect() as conn:
                    conn.execute(_Q["watch"])
                    backoff = 0.0
                    self.notify()  # work may have arrived while no one was listening
                    while not self._stopped.is_set():
                        for _ in conn.notifies(timeout=WATCH_POLL):
                            self.notify()
            except psycopg.Error as exc:
                if self._stopped.is_set():
                    break
                report = log.warning if backoff == 0.0 else log.debug
                backoff = min(WATCH_MAX_BACKOFF, max(0.1, backoff * 2))
                report("watch connection lost (reconnecting in %.1fs): %s", backoff, exc)
                self._stopped.wait(backoff)

    def stop(self) -> None:
        """Stop listening and close the watcher's connection."""
        self._stopped.set()
        self._database.remove_watch(self)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=WATCH_POLL * 4 + self._database.connect_timeout)
