"""How an idle PostgreSQL worker hears of new work, and a waiter of jobs that finished:
LISTEN on a connection of its own."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from jobtrail.store.postgres.connection import Database
from jobtrail.store.postgres.presence import ANNOUNCEMENT
from jobtrail.store.sqlfiles import steps

#: Seconds between two looks at whether the watcher was asked to stop.
WATCH_POLL = 0.25
#: The longest pause before opening the watcher's connection again after an error.
WATCH_MAX_BACKOFF = 5.0

log = logging.getLogger("jobtrail.store.postgres")


class ListenWatch:
    """LISTENs on a dedicated connection and reports every notification (and each
    reconnection: work may have arrived while nobody listened). Errors never escape its
    thread: the connection is opened again with backoff."""

    #: The named query that starts listening.
    listen = "watch"
    #: The connection's name on the server, if it needs one.
    application_name: str | None = None

    def __init__(self, database: Database, on_change: Callable[[], None]) -> None:
        self._database, self._on_change = database, on_change
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"jobtrail-pg-{self.listen}",
                                        daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """This process enqueued jobs: new work, heard of without the round trip."""
        self._heard(None)

    def _heard(self, payload: str | None) -> None:
        """A notification arrived (*payload*), or ``None``: something may have changed."""
        if payload == ANNOUNCEMENT:
            self._database.presence.announced()
        try:
            self._on_change()
        except Exception:
            log.exception("watch callback failed")

    def _run(self) -> None:
        backoff = 0.0
        while not self._stopped.is_set():
            try:
                with self._database.connect(self.application_name) as conn:
                    for statement in steps("postgres", self.listen).values():
                        conn.execute(statement)
                    backoff = 0.0
                    self._heard(None)  # something may have happened while no one listened
                    while not self._stopped.is_set():
                        for notice in conn.notifies(timeout=WATCH_POLL):
                            self._heard(notice.payload)
            except psycopg.Error as exc:
                if self._stopped.is_set():
                    break
                report = log.warning if backoff == 0.0 else log.debug
                backoff = min(WATCH_MAX_BACKOFF, max(0.1, backoff * 2))
                report("%s connection lost (reconnecting in %.1fs): %s", self.listen, backoff,
                       exc)
                self._stopped.wait(backoff)

    def stop(self) -> None:
        """Stop listening and close the watcher's connection."""
        self._stopped.set()
        self._database.remove_watch(self)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=WATCH_POLL * 4 + self._database.connect_timeout)


class FinishedWatch(ListenWatch):
    """LISTENs for jobs that reached a final status (``watch_finished``) and reports their
    ids; ``None`` after each (re)connection, or when a notification could not carry them.
    Transitions notify only while such a connection is open: it is named for them to see."""

    listen = "watch_finished"
    application_name = "jobtrail-waiters"

    def __init__(self, database: Database,
                 on_finished: Callable[[frozenset[int] | None], None]) -> None:
        self._on_finished = on_finished
        super().__init__(database, lambda: None)

    def notify(self) -> None:
        """This process enqueued jobs: that finishes none."""

    def _heard(self, payload: str | None) -> None:
        try:
            self._on_finished(finished_ids(payload))
        except Exception:
            log.exception("watch callback failed")


def finished_ids(payload: str | None) -> frozenset[int] | None:
    """The job ids a ``jobtrail_finished`` notification carries; ``None`` when it carries
    none that can be read (any job may have finished)."""
    if not payload:
        return None
    try:
        return frozenset(int(part) for part in payload.split(","))
    except ValueError:
        return None
