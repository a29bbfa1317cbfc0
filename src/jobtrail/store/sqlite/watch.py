"""How an idle SQLite worker hears of new work, and a waiter of jobs that finished:
polling ``PRAGMA data_version``."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import suppress

from jobtrail.errors import StoreError, StoreLost
from jobtrail.store.errors import damaged, is_damaged
from jobtrail.store.sqlfiles import queries
from jobtrail.store.sqlite.connection import Database

_Q = queries("sqlite")
#: Seconds between two checks that the database file is still the one opened.
IDENTITY_EVERY = 0.25
#: Seconds the watcher waits before opening its connection again after an error.
WATCH_RETRY = 0.5


class DataVersionWatch:
    """Polls ``PRAGMA data_version`` on a private connection and reports changes (every
    commit of another connection changes it; this process's own enqueues wake it at
    once, for the ``watch`` query: a waiter's ``watch_finished`` hears only of commits);
    every `IDENTITY_EVERY` seconds it also checks that the database file is still
    the one the store opened (see `Database.check_identity`).

    Errors never escape this thread: a connection that fails is opened again with backoff,
    and a file found deleted, replaced or damaged marks the store lost (its next operation
    raises `StoreLost`) and wakes the worker, which then stops with that one message."""

    def __init__(self, database: Database, on_change: Callable[[], None],
                 interval: float, *, query: str = "watch") -> None:
        self._database = database
        self._on_change = on_change
        self._interval = interval
        self._query = _Q[query]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"jobtrail-sqlite-{query}",
                                        daemon=True)
        if query == "watch":  # this process's enqueues are new work, and finish nothing
            database.add_waker(on_change)
        self._thread.start()

    def _run(self) -> None:
        database = self._database
        conn: sqlite3.Connection | None = None
        last = None
        pause = self._interval
        next_identity = 0.0
        try:
            while not self._stopped.wait(pause):
                pause = self._interval
                now = time.monotonic()
                if now >= next_identity:
                    next_identity = now + IDENTITY_EVERY
                    if database.check_identity():
                        self._on_change()
                        return
                try:
                    if conn is None:
                        conn = database.connect()
                    version = conn.execute(self._query).fetchone()[0]
                except (sqlite3.Error, StoreError) as exc:
                    if is_damaged(exc):
                        lost = isinstance(exc, StoreLost)  # said so already, by connect()
                        database.lose(str(exc) if lost else damaged(database.path, exc))
                        self._on_change()
                        return
                    if conn is not None:
                        with suppress(sqlite3.Error):
                            conn.close()
                    conn, last = None, None
                    pause = WATCH_RETRY  # the worker's own calls report the error
                    continue
                if version != last:  # also on (re)connecting: work may have come meanwhile
                    last = version
                    self._on_change()
        finally:
            if conn is not None:
                with suppress(sqlite3.Error):
                    conn.close()

    def stop(self) -> None:
        """Stop watching and close the watcher's connection."""
        self._stopped.set()
        self._database.remove_waker(self._on_change)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
