"""`OutcomeWriter`: writes the outcomes of finished attempts, in batches, in order.

Writing outcomes is a durable commit. On PostgreSQL the commit waits for the WAL to
reach the disk while the database could take other work: there the writer runs on a
thread of its own, so the worker claims and runs the next jobs while the last outcomes
commit. One batch is in flight at a time and outcomes that finish meanwhile form the
next one, so batches grow when the database is slow. On SQLite every write takes the
same lock in turn, so a second thread would only add switching: there the worker
writes in its own thread (``background=False``).

Nothing is dropped: a batch the store cannot take (the database is away) stays queued,
ahead of newer outcomes, and is tried again with backoff. Jobs whose outcome is not
written yet stay leased to the worker (it keeps renewing their leases).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from jobtrail.errors import StoreError
from jobtrail.store.base import Outcome, Store

log = logging.getLogger("jobtrail.worker")

MAX_BACKOFF = 5.0
Written = Callable[[Sequence[Outcome], set[int]], None]


class OutcomeWriter:
    """Writes outcomes handed over by `add`, in order, one batch at a time.

    *on_written* is called with each batch written and the ids of the jobs whose lease
    had moved on (their outcome was not applied). In the background, *on_error* is
    called with each store error before the batch is tried again, and *wake* once a
    batch is done; in the caller's thread, `add` and `flush` raise the store error.
    """

    def __init__(self, store: Store, worker_id: str, *, background: bool,
                 on_written: Written, on_error: Callable[[StoreError], None],
                 wake: Callable[[], None]) -> None:
        self._store = store
        self._worker_id = worker_id
        self._on_written = on_written
        self._on_error = on_error
        self._wake = wake
        self._queued: list[Outcome] = []
        self._in_flight: list[Outcome] = []
        self._changed = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="jobtrail-outcomes",
                                            daemon=True)
            self._thread.start()

    def add(self, outcomes: Sequence[Outcome]) -> None:
        """Queue *outcomes* to be written (in the caller's thread: write them now)."""
        with self._changed:
            self._queued.extend(outcomes)
            self._changed.notify_all()
        if self._thread is None:
            self.flush()

    def flush(self) -> None:
        """In the caller's thread: write what is queued; raise `StoreError` if it cannot."""
        if self._thread is not None:
            return
        with self._changed:
            batch = self._take()
        if batch:
            self._write(batch)

    @property
    def busy(self) -> bool:
        """True while some outcome is queued or being written."""
        return self.unwritten > 0

    @property
    def unwritten(self) -> int:
        """How many outcomes are queued or being written."""
        with self._changed:
            return len(self._queued) + len(self._in_flight)

    def unwritten_ids(self) -> list[int]:
        """Ids of the jobs whose outcome is not written yet (their leases must be kept)."""
        with self._changed:
            return [o.job_id for o in (*self._in_flight, *self._queued)]

    def close(self, timeout: float) -> int:
        """Write what is left, trying for up to *timeout* seconds, and stop.
        Returns how many outcomes could not be written."""
        deadline = time.monotonic() + timeout
        pause = 0.1
        while self._thread is None and self.busy and time.monotonic() < deadline:
            try:
                self.flush()
            except StoreError as exc:
                log.error("could not write final outcomes: %s", exc)
                time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
                pause *= 2
        with self._changed:
            self._changed.wait_for(lambda: not (self._queued or self._in_flight),
                                   timeout=max(0.0, deadline - time.monotonic()))
            self._closing = True
            unwritten = len(self._queued) + len(self._in_flight)
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        return unwritten

    # -- internals ---------------------------------------------------------------------
    def _take(self) -> list[Outcome]:
        batch, self._queued = self._queued, []
        self._in_flight = batch
        return batch

    def _write(self, batch: list[Outcome]) -> None:
        """Write *batch*; on failure put it back at the head of the queue and raise."""
        try:
            lost = self._store.finish(self._worker_id, batch)
        except BaseException:
            with self._changed:
                self._queued[:0] = batch
                self._in_flight = []
                self._changed.notify_all()
            raise
        try:
            self._on_written(batch, lost)
        except Exception:
            log.exception("accounting for %d written outcomes failed", len(batch))
        with self._changed:
            self._in_flight = []
            self._changed.notify_all()

    def _run(self) -> None:
        backoff = 0.0
        while True:
            with self._changed:
                while not self._queued and not self._closing:
                    self._changed.wait()
                if self._closing:
                    return
                batch = self._take()
            try:
                self._write(batch)
            except StoreError as exc:
                backoff = min(MAX_BACKOFF, max(0.1, backoff * 2))
                self._on_error(exc)
                self._pause(backoff)
                continue
            except Exception:  # a bug: say so loudly, keep the batch, do not spin
                log.exception("writing %d outcomes failed; trying again", len(batch))
                self._pause(MAX_BACKOFF)
                continue
            backoff = 0.0
            self._wake()

    def _pause(self, seconds: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._closing, timeout=seconds)
