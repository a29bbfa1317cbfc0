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

One bad outcome never holds up the others: when the database refuses a batch for what
it holds (`StoreRejected`), or writing it meets a bug, its outcomes are written one by
one, and one the database refuses on its own is replaced by a dead letter that says why
(`stand_in`). An error no retry can mend (a ``MemoryError``) stops the writer; the worker
raises it from `raise_fatal` and exits, for its supervisor to start afresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from jobtrail.errors import StoreError, StoreRejected
from jobtrail.records import ErrorInfo, Status
from jobtrail.store.base import Outcome, Store
from jobtrail.text import storable

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
        self._log = logging.LoggerAdapter(log, {"worker_id": worker_id})
        self._on_written = on_written
        self._on_error = on_error
        self._wake = wake
        self._queued: list[Outcome] = []
        self._in_flight: list[Outcome] = []
        self._changed = threading.Condition()
        self._closing = False
        self._fatal: BaseException | None = None
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

    def raise_fatal(self) -> None:
        """Raise, in the caller's thread, the error that stopped the writer's thread."""
        if self._fatal is not None:
            raise self._fatal

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
                self._log.error("could not write final outcomes: %s", exc)
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
        """Write *batch*; on a failure put what was not written back at the head of the
        queue and raise."""
        written: list[Outcome] = []
        lost: set[int] = set()
        try:
            try:
                lost = self._store.finish(self._worker_id, batch)
                written = batch
            except StoreRejected as exc:
                self._log.error("the database refused %d outcomes (%s); writing them one "
                                "by one", len(batch), exc)
                self._write_apart(batch, written, lost)
            except (StoreError, MemoryError):
                raise
            except Exception:  # a bug met on some outcome: it must not hold up the others
                self._log.exception("writing %d outcomes failed; writing them one by one",
                                    len(batch))
                self._write_apart(batch, written, lost)
        except BaseException:
            with self._changed:
                self._queued[:0] = batch[len(written):]
                self._in_flight = []
                self._changed.notify_all()
            self._account(written, lost)
            raise
        self._account(written, lost)
        with self._changed:
            self._in_flight = []
            self._changed.notify_all()

    def _write_apart(self, batch: list[Outcome], written: list[Outcome], lost: set[int]
                     ) -> None:
        """Write *batch* one outcome at a time, adding to *written* and *lost* as it goes.
        An outcome the store refuses on its own is replaced by its `stand_in`."""
        for outcome in batch:
            try:
                lost |= self._store.finish(self._worker_id, [outcome])
            except StoreRejected as exc:
                outcome = self._replace(outcome, exc, lost)
            except (StoreError, MemoryError):
                raise
            except Exception as exc:
                outcome = self._replace(outcome, exc, lost)
            written.append(outcome)

    def _replace(self, outcome: Outcome, exc: Exception, lost: set[int]) -> Outcome:
        replacement = stand_in(outcome, exc)
        self._log.error("job %s: the outcome of attempt %d cannot be stored (%s: %s); it "
                        "is dead-lettered with that reason instead", outcome.job_id,
                        outcome.attempt, type(exc).__name__, exc)
        try:
            lost |= self._store.finish(self._worker_id, [replacement])
        except StoreRejected:  # (a database that is away raises, and the batch waits)
            self._log.critical("job %s: not even its dead letter can be stored; it runs "
                               "again once its lease expires", outcome.job_id)
            lost.add(outcome.job_id)
        return replacement

    def _account(self, written: Sequence[Outcome], lost: set[int]) -> None:
        if not written:
            return
        try:
            self._on_written(written, lost)
        except Exception:
            self._log.exception("accounting for %d written outcomes failed", len(written))

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
            except BaseException as exc:  # nothing a retry mends: hand it to the worker
                self._log.critical("the outcome writer stops: %r", exc)
                self._fatal = exc
                self._wake()
                return
            backoff = 0.0
            self._wake()

    def _pause(self, seconds: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._closing, timeout=seconds)


def stand_in(outcome: Outcome, exc: BaseException) -> Outcome:
    """The dead letter written instead of *outcome*, which the store refused: it says why,
    and holds nothing the store could refuse (no result, no recorded path)."""
    reason = storable(f"{type(exc).__name__}: {exc}")[:500]
    return Outcome(
        outcome.job_id, outcome.attempt, Status.DEAD,
        error=ErrorInfo(
            "UnstorableOutcome",
            f"attempt {outcome.attempt} ended {outcome.status.value}, but that outcome could "
            f"not be stored ({reason}); the job is dead-lettered instead, without the result "
            "or path of that attempt",
        ),
        duration=outcome.duration, claim=outcome.claim,
    )
