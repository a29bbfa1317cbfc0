"""`AttemptLog`: the worker's line per finished attempt, on the ``jobtrail.attempts`` logger.

Once a worker has written an attempt's outcome, it hands it here. The line is made of an
`AttemptEvent` (`jobtrail.observe.events`): the event's fields are the record's
``extra=`` fields, and its message (`describe`) says the same in words. The level follows
the status: ``succeeded`` at INFO, ``retrying`` and ``lost`` at WARNING, ``dead`` and
``orphaned`` at ERROR.

The worker's loop pays for a line only when it is wanted, and then little: when the
logger is not enabled for the line's level, nothing is built; when it is, the event (a
small record: its error message already cut short) is put on a queue, and a thread of its
own (``jobtrail-log``) makes the line and writes it, in the order the outcomes were
written. Making and writing a line so overlaps the loop's waits for the database rather
than adding to them, and a log that blocks (a full pipe nobody reads) never holds up the
worker: past `MAX_PENDING` lines waiting, lines are dropped and counted, and the count is
logged once the log catches up. `close` writes what is left when the worker stops.

A line that cannot be written (a handler that fails) never fails the worker: the outcome
it reports is already stored. The first failure is reported on ``jobtrail.observe``.
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from queue import SimpleQueue

from jobtrail.observe.events import AttemptEvent
from jobtrail.records import Status
from jobtrail.store.base import ClaimedJob, Outcome

#: The logger of the worker's line per finished attempt.
ATTEMPTS_LOGGER = "jobtrail.attempts"
LEVELS: dict[str, int] = {
    Status.SUCCEEDED: logging.INFO,
    Status.RETRYING: logging.WARNING,
    Status.DEAD: logging.ERROR,
    Status.ORPHANED: logging.ERROR,
}
LOST_LEVEL = logging.WARNING
#: Seconds `AttemptLog.close` waits for the lines still queued.
CLOSE_TIMEOUT = 5.0
#: The most lines waiting to be written; more are dropped (and counted).
MAX_PENDING = 10_000

log = logging.getLogger("jobtrail.observe")

#: An attempt handed over to be logged: its event and the line's level.
Handed = tuple[AttemptEvent, int]


class AttemptLog:
    """Logs the end of each attempt a worker ran, once its outcome is written (see the
    module docstring). With ``background=False`` lines are written in the caller's
    thread."""

    __slots__ = ("_lock", "_queue", "_reported", "_thread", "background", "dropped",
                 "failures", "logger", "worker_id")

    def __init__(self, worker_id: str, logger: logging.Logger | None = None, *,
                 background: bool = True) -> None:
        self.worker_id = worker_id
        self.logger = logger if logger is not None else logging.getLogger(ATTEMPTS_LOGGER)
        self.background = background
        #: Lines that could not be written (only the first is reported).
        self.failures = 0
        #: Lines dropped because too many were waiting (`MAX_PENDING`).
        self.dropped = 0
        self._reported = 0
        self._queue: SimpleQueue[Handed | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def written(self, claimed: ClaimedJob, outcome: Outcome, *, lost: bool = False) -> None:
        """Log *outcome*, the end of an attempt of *claimed*; *lost* when its lease moved
        on before it could be written. Never raises."""
        level = LOST_LEVEL if lost else LEVELS.get(outcome.status, logging.INFO)
        if not self.logger.isEnabledFor(level):
            return
        try:
            event = AttemptEvent.of(claimed, outcome, self.worker_id, lost=lost)
        except Exception:  # (a bug): the outcome is stored, the worker goes on
            self._failed(outcome.job_id, outcome.attempt)
            return
        if not self.background:
            self._write((event, level))
            return
        if self._thread is None:
            self._start()
        if self._queue.qsize() >= MAX_PENDING:
            self.dropped += 1
            return
        self._queue.put((event, level))

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Write the lines handed over so far (waiting up to *timeout* seconds), and stop
        the thread that writes them."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(None)
        thread.join(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jobtrail-log",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while (handed := self._queue.get()) is not None:
            self._write(handed)
            if self._queue.empty():
                self._report_dropped()
        self._report_dropped()

    def _report_dropped(self) -> None:
        if self.dropped > self._reported:
            dropped, self._reported = self.dropped - self._reported, self.dropped
            with suppress(Exception):
                log.warning("%d attempt lines were dropped: the log could not keep up",
                            dropped)

    def _write(self, handed: Handed) -> None:
        event, level = handed
        try:
            # Logger.log less the search for its caller, which is always this line.
            logger = self.logger
            logger.handle(logger.makeRecord(logger.name, level, __file__, 0, describe(event),
                                            (), None, "AttemptLog", event.fields()))
        except Exception:  # a failing handler: the outcome is stored, the worker goes on
            self._failed(event.job_id, event.attempt)

    def _failed(self, job_id: int, attempt: int) -> None:
        self.failures += 1
        if self.failures == 1:
            with suppress(Exception):
                log.exception("could not log the end of attempt %d of job %s (later "
                              "failures are not reported)", attempt, job_id)


def describe(event: AttemptEvent) -> str:
    """The event in words: ``job 7 charge attempt 1/3 failed after 2.1ms, retrying in
    500.0ms at 2025-01-31T12:00:00.750Z [queue default, worker w1]: NameError: ...``."""
    status = event.status
    how = event.outcome
    took = "" if event.duration is None else f" after {seconds(event.duration)}"
    failed = "timed out" if how == "timed_out" else "failed"
    if status == "succeeded":
        verdict = f"succeeded{took}" + (f", {how}" if how else "")
    elif status == "retrying":
        delay = seconds(event.retry_delay or 0.0)
        verdict = f"{failed}{took}, retrying in {delay} at {event.next_attempt_at}"
    elif status == "dead":
        verdict = f"{failed}{took}, dead" + (f" ({how})" if how and how != "timed_out" else "")
    elif status == "orphaned":
        verdict = "orphaned (it cannot run)"
    else:
        verdict = (f"lost{took} (its lease moved on before the outcome was written; another "
                   "attempt owns the job)")
    where = f"queue {event.queue}, worker {event.worker_id}"
    if event.trace_id is not None:
        where += f", trace {event.trace_id}"
    text = f"job {event.job_id} {event.job_name} attempt {event.attempt}/{event.max_attempts} "
    text += f"{verdict} [{where}]"
    if event.error_type is not None:
        text += f": {event.error_type}: {event.error_message}"
    return text


def seconds(value: float) -> str:
    """A duration for people: ``2.1ms``, ``3.25s``, ``1,200s``."""
    if value < 1:
        return f"{value * 1000:.1f}ms"
    if value < 100:
        return f"{value:.2f}s"
    return f"{value:,.0f}s"
